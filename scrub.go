package mailwarden

import (
	"context"

	"mailwarden/authmech"
	"mailwarden/internal/scrub"
)

// A Sender scrubs every secret of its session from what servers send back
// before it reaches an error, a transcript or the audit trail: a relay that
// echoes the password (or the AUTH PLAIN blob, in base64 or hex) in its 535
// must not put it anywhere. NewSender makes one scrub.Set per Sender and
// carries it in the context its secrets are resolved with: every
// SecretRef.Resolve adds the value, and every OAuth access token is added
// as it is issued. The transport applies it to every reply line; the
// firewall, oauth and graph packages scrub their own peers' text with the
// secrets they hold.

type sessionSecretsKey struct{}

// withSessionSecrets returns ctx carrying set.
func withSessionSecrets(ctx context.Context, set *scrub.Set) context.Context {
	return context.WithValue(ctx, sessionSecretsKey{}, set)
}

// sessionSecrets returns the set ctx carries, or nil (Add and Scrub on a
// nil set do nothing).
func sessionSecrets(ctx context.Context) *scrub.Set {
	set, _ := ctx.Value(sessionSecretsKey{}).(*scrub.Set)
	return set
}

// scrubbingTokens adds every token its source issues to the session's
// secrets.
type scrubbingTokens struct {
	src authmech.TokenSource
	set *scrub.Set
}

func (t scrubbingTokens) Token(ctx context.Context) (string, error) {
	tok, err := t.src.Token(ctx)
	if err == nil {
		t.set.Add(tok)
	}
	return tok, err
}

func (t scrubbingTokens) String() string   { return "OAuth token source" }
func (t scrubbingTokens) GoString() string { return t.String() }

// withTokenScrub wraps src so that its tokens are scrubbed; a nil set
// leaves src as it is.
func withTokenScrub(src authmech.TokenSource, set *scrub.Set) authmech.TokenSource {
	if set == nil || src == nil {
		return src
	}
	return scrubbingTokens{src, set}
}
