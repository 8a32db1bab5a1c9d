package mailwarden

import (
	"context"
	"fmt"
	"strings"

	"mailwarden/authmech"
)

// authFactory returns what the transport calls once per connection for a
// fresh SASL client, or nil when the profile does not authenticate.
func authFactory(ctx context.Context, p Profile, getenv func(string) string, src SecretSource) (func() (authmech.Client, error), error) {
	switch strings.ToLower(p.Auth.Mechanism) {
	case "", "none", "nologinmethod", "anonymous":
		return nil, nil
	}
	return nil, &ConfigError{Profile: p.Name, Field: "auth.mechanism", Err: fmt.Errorf("mechanism %q is not available", p.Auth.Mechanism)}
}
