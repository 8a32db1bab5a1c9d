package mailwarden

import (
	"context"
	"errors"
	"strings"

	"mailwarden/authmech"
	"mailwarden/authmech/gssapi"
	"mailwarden/authmech/ntlm"
	"mailwarden/authmech/system"
	"mailwarden/oauth"
)

// authFactory returns, for the plan's canonical mechanism canon, what the transport calls once per connection for a
// fresh SASL client, or nil when the profile does not authenticate.
// Secrets are resolved here, once, so that a missing one is a configuration
// error before anything connects.
func authFactory(ctx context.Context, p Profile, canon string, opts *Options) (func() (authmech.Client, error), *oauth.TokenSource, error) {
	getenv, src := opts.Getenv, opts.Secrets
	a := p.Auth
	bad := func(field string, err error) (func() (authmech.Client, error), *oauth.TokenSource, error) {
		return nil, nil, &ConfigError{Profile: p.Name, Field: "auth." + field, Err: err}
	}
	reg := newRegistry()
	if canon == authmech.None {
		return nil, nil, nil
	}
	if canon == system.Name {
		if field, err := systemAuthSecret(a); err != nil {
			return bad(field, err)
		}
	}
	creds := authmech.Credentials{Username: a.Username, Authzid: a.Authzid,
		Kerberos: authmech.Kerberos{Config: a.Krb5Conf, Keytab: a.Keytab, CCache: a.CCache, SPN: a.SPN}}
	pw, err := a.Password.Resolve(ctx, getenv, src)
	if err != nil {
		return bad("password", err)
	}
	creds.Password = authmech.Secret(pw)
	if strings.EqualFold(a.Provider, system.ProviderSSPI) {
		if pw == "" {
			return bad("password", errors.New("provider sspi needs a password"))
		}
		if _, err := system.NewSSPI(creds, canon); err != nil {
			return bad("provider", err)
		}
		return func() (authmech.Client, error) { return system.NewSSPI(creds, canon) }, nil, nil
	}
	var tokens *oauth.TokenSource
	if a.OAuthToken != "" {
		tok, err := a.OAuthToken.Resolve(ctx, getenv, src)
		if err != nil {
			return bad("oauth_token", err)
		}
		creds.Token = authmech.StaticToken(tok)
	}
	if a.OAuth.Flow != "" {
		if canon != authmech.Auto && canon != "XOAUTH2" && canon != "OAUTHBEARER" {
			return bad("oauth.flow", errors.New("an OAuth flow needs mechanism XOAUTH2, OAUTHBEARER or auto, not "+canon))
		}
		if creds.Token != nil {
			return bad("oauth.flow", errors.New("configure oauth_token or an OAuth flow, not both"))
		}
		if tokens, err = oauthTokenSource(ctx, p, opts); err != nil {
			return nil, nil, err
		}
		creds.Token = withTokenScrub(tokens, sessionSecrets(ctx))
	}
	// Build one client now so that missing credentials are reported at
	// configuration time, not on the first connection.
	if _, err := reg.Client(canon, creds); err != nil {
		return bad("mechanism", err)
	}
	if canon != authmech.Auto && canon != "GSSAPI" && canon != system.Name && creds.Password == "" && creds.Token == nil {
		return bad("password", errors.New("no password or token configured"))
	}
	return func() (authmech.Client, error) { return reg.Client(canon, creds) }, tokens, nil
}

// systemAuthSecret reports the first field that gives a secret or a user
// to mechanism system, which authenticates as the account the process runs
// as and takes none.
func systemAuthSecret(a Auth) (string, error) {
	for _, f := range []struct{ name, val string }{{"username", a.Username}, {"password", string(a.Password)}, {"oauth_token", string(a.OAuthToken)}, {"oauth.flow", a.OAuth.Flow}} {
		if f.val != "" {
			return f.name, errors.New("mechanism system authenticates as the account this process runs as and takes no " + f.name + " (remove it, or choose another mechanism)")
		}
	}
	return "", nil
}

// newRegistry returns the mechanisms a Sender offers: the built-ins plus
// those that live in their own packages.
func newRegistry() *authmech.Registry {
	reg := authmech.NewRegistry()
	if err := ntlm.Register(reg); err != nil {
		panic(err) // a static name: cannot fail
	}
	if err := gssapi.Register(reg); err != nil {
		panic(err)
	}
	if err := system.Register(reg); err != nil {
		panic(err)
	}
	return reg
}
