package mailwarden

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// A SecretSource resolves a secret reference to its value. An embedding
// product implements it over its own vault; SecretRefs of the form
// "vault:NAME" (any scheme other than env and file) are passed to it whole.
type SecretSource interface {
	Secret(ctx context.Context, ref string) (string, error)
}

// SecretRef names where a secret lives, so that a profile never has to hold
// one inline:
//
//	env:NAME    the environment variable NAME
//	file:PATH   the contents of PATH, with one trailing newline removed
//	SCHEME:REST anything else is handed to the profile's SecretSource
//
// The zero SecretRef means "no secret". A SecretRef prints as itself: it is
// a reference, not a secret, and carries no secret material.
type SecretRef string

// ErrSecretUnresolved is wrapped by every error Resolve returns.
var ErrSecretUnresolved = errors.New("mailwarden: secret could not be resolved")

// Resolve returns the secret r refers to. getenv may be nil (os.Getenv is
// used); src may be nil when no reference needs it.
func (r SecretRef) Resolve(ctx context.Context, getenv func(string) string, src SecretSource) (string, error) {
	v, err := r.resolve(ctx, getenv, src)
	if err == nil {
		sessionSecrets(ctx).Add(v) // scrubbed from what servers echo (scrub.go)
	}
	return v, err
}

func (r SecretRef) resolve(ctx context.Context, getenv func(string) string, src SecretSource) (string, error) {
	if r == "" {
		return "", nil
	}
	scheme, rest, err := r.parts()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrSecretUnresolved, err)
	}
	switch scheme {
	case "env":
		if getenv == nil {
			getenv = os.Getenv
		}
		v := getenv(rest)
		if v == "" {
			return "", fmt.Errorf("%w: environment variable %s is empty or unset", ErrSecretUnresolved, rest)
		}
		return v, nil
	case "file":
		b, err := os.ReadFile(rest)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrSecretUnresolved, err)
		}
		s := strings.TrimSuffix(string(b), "\n")
		s = strings.TrimSuffix(s, "\r")
		if s == "" {
			return "", fmt.Errorf("%w: file %s is empty", ErrSecretUnresolved, rest)
		}
		return s, nil
	}
	if src == nil {
		return "", fmt.Errorf("%w: %q needs a SecretSource and none is configured", ErrSecretUnresolved, scheme+":")
	}
	v, err := src.Secret(ctx, string(r))
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrSecretUnresolved, scheme, err)
	}
	return v, nil
}

// parts splits r into its scheme and the rest, or says why r is not a
// reference. The value is never shown: it may be a secret typed where a
// reference belongs.
func (r SecretRef) parts() (scheme, rest string, err error) {
	scheme, rest, ok := strings.Cut(string(r), ":")
	if !ok || scheme == "" || rest == "" {
		return "", "", fmt.Errorf("the value (%d characters, not shown) is not a secret reference: it is not of the form env:NAME, file:PATH or SCHEME:NAME; secrets are never written inline", len(r))
	}
	return scheme, rest, nil
}
