package mailwarden

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"mailwarden/graph"
	"mailwarden/oauth"
)

// OAuth configures how access tokens for XOAUTH2 and OAUTHBEARER are
// obtained. The zero OAuth obtains none: a static Auth.OAuthToken may be
// used instead. Secrets are SecretRefs. See package oauth for the flows.
type OAuth struct {
	// Flow is "client_credentials" (app-only: a client secret or a client
	// certificate), "authorization_code" (an administrator logs in once
	// with 'smtpcheck oauth login'), "device_code" (the same for machines
	// without a browser: 'smtpcheck oauth login --device') or "jwt_bearer"
	// (a Google service account). Empty means no token acquisition.
	Flow string `json:"flow,omitempty"`
	// TenantID replaces "{tenant}" in the URLs (Microsoft Entra ID).
	TenantID     string    `json:"tenant_id,omitempty"`
	ClientID     string    `json:"client_id,omitempty"`
	ClientSecret SecretRef `json:"client_secret,omitempty"`
	// ClientAuth is how the client secret is sent: "client_secret_post"
	// (the default: in the request body, as Microsoft Entra ID documents)
	// or "client_secret_basic" (HTTP Basic, which some servers require).
	ClientAuth string `json:"client_auth,omitempty"`
	// ClientCertFile and ClientKeyFile are a PEM certificate and its RSA
	// key, for a certificate assertion instead of a client secret.
	// ClientKeyFile may be a pkcs11: URI or a certstore: reference instead
	// (an RSA key: assertions are RS256); ClientCertFile may then be empty
	// to take the certificate from the token or store.
	ClientCertFile string `json:"client_cert_file,omitempty"`
	ClientKeyFile  string `json:"client_key_file,omitempty"`
	// The authorization server's endpoints; they may contain "{tenant}".
	AuthURL       string `json:"auth_url,omitempty"`
	TokenURL      string `json:"token_url,omitempty"`
	DeviceAuthURL string `json:"device_auth_url,omitempty"`
	// RedirectURI is the loopback URI of the authorization_code login;
	// empty is http://localhost on a random port.
	RedirectURI string   `json:"redirect_uri,omitempty"`
	Scopes      []string `json:"scopes,omitempty"`
	// ServiceAccountFile is a Google service-account JSON key; Subject is
	// the user it acts for (domain-wide delegation).
	ServiceAccountFile string `json:"service_account_file,omitempty"`
	Subject            string `json:"subject,omitempty"`
	// TokenCache is the file tokens are kept in, encrypted with a key
	// derived from TokenCacheKey. Required for the interactive flows.
	TokenCache    string    `json:"token_cache,omitempty"`
	TokenCacheKey SecretRef `json:"token_cache_key,omitempty"`
}

// oauthConfig resolves p.Auth.OAuth into an oauth.Config. Errors are
// *ConfigError naming the field as "auth.oauth.<name>".
func oauthConfig(ctx context.Context, p Profile, opts *Options) (*oauth.Config, error) {
	getenv, src := opts.Getenv, opts.Secrets
	o := p.Auth.OAuth
	bad := func(field string, err error) (*oauth.Config, error) {
		return nil, &ConfigError{Profile: p.Name, Field: "auth.oauth." + field, Err: err}
	}
	c := &oauth.Config{Flow: oauth.Flow(o.Flow), ClientID: o.ClientID, Tenant: o.TenantID,
		AuthURL: o.AuthURL, TokenURL: o.TokenURL, DeviceAuthURL: o.DeviceAuthURL, RedirectURI: o.RedirectURI,
		Scopes: o.Scopes, Subject: o.Subject, CachePath: o.TokenCache, LoginCommand: "smtpcheck oauth login",
		HTTPClient: opts.HTTPClient, ClientAuth: oauth.ClientAuth(o.ClientAuth), Account: p.Auth.Username}
	if p.Name != "" {
		c.LoginCommand += " --profile " + p.Name
	}
	if len(c.Scopes) == 0 && strings.EqualFold(p.Transport, "graph") {
		// The graph transport's token is for the cloud's Graph resource
		// (https://graph.microsoft.com/.default and its national twins).
		ep, err := p.Graph.resolve(p.Name)
		if err != nil {
			return nil, err
		}
		c.Scopes = []string{graph.TokenScope(ep)}
	}
	sec, err := o.ClientSecret.Resolve(ctx, getenv, src)
	if err != nil {
		return bad("client_secret", err)
	}
	c.ClientSecret = sec
	switch {
	case isKeyRef(o.ClientKeyFile):
		k, err := openKeyRef(ctx, p, getenv, src, "auth.oauth.client_key_file", o.ClientKeyFile)
		if err != nil {
			return nil, err
		}
		if c.ClientCert, err = keyRefCert(ctx, p, getenv, src, "auth.oauth.client_cert_file", o.ClientCertFile, k, loadFirstCert); err != nil {
			return nil, err
		}
		c.ClientKey = k.Signer
	case isKeyRef(o.ClientCertFile):
		return nil, certRefWithoutKey(p, "auth.oauth.client_cert_file")
	case o.ClientCertFile != "" || o.ClientKeyFile != "":
		if o.ClientCertFile == "" || o.ClientKeyFile == "" {
			return bad("client_cert_file", errors.New("a certificate assertion needs both client_cert_file and client_key_file"))
		}
		c.ClientKey, c.ClientCert, err = oauth.LoadClientCert(o.ClientCertFile, o.ClientKeyFile)
		if err != nil {
			return bad("client_cert_file", err)
		}
	}
	if o.ServiceAccountFile != "" {
		if c.ServiceAccountJSON, err = os.ReadFile(o.ServiceAccountFile); err != nil {
			return bad("service_account_file", err)
		}
	}
	key, err := o.TokenCacheKey.Resolve(ctx, getenv, src)
	if err != nil {
		return bad("token_cache_key", err)
	}
	if key != "" {
		c.CacheKey = []byte(key)
	}
	return c, nil
}

// configErr turns an *oauth.ConfigError into a *ConfigError.
func configErr(p Profile, err error) error {
	var ce *oauth.ConfigError
	if errors.As(err, &ce) {
		return &ConfigError{Profile: p.Name, Field: "auth.oauth." + ce.Field, Err: ce.Err}
	}
	return err
}

// oauthTokenSource returns the TokenSource for p, validated.
func oauthTokenSource(ctx context.Context, p Profile, opts *Options) (*oauth.TokenSource, error) {
	c, err := oauthConfig(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	ts, err := oauth.NewTokenSource(c)
	if err != nil {
		return nil, configErr(p, err)
	}
	return ts, nil
}

// Token describes an access token; it prints without the token itself
// (see oauth.Token).
type Token = oauth.Token

// DevicePrompt is what the device code flow shows the administrator (see
// oauth.DevicePrompt).
type DevicePrompt = oauth.DevicePrompt

// LoginUI is how Login talks to the administrator.
type LoginUI struct {
	// Device runs the device code flow even when the profile's flow is
	// authorization_code (both keep the same refresh token).
	Device bool
	// Port is the loopback port for the browser's redirect; 0 takes the
	// profile's redirect URI, or a random port.
	Port int
	// Open shows the authorization URL: it opens a browser or prints the
	// URL. Required for the authorization_code flow.
	Open func(ctx context.Context, authURL string) error
	// Prompt shows the device flow's verification URI and user code.
	// Required for the device_code flow.
	Prompt func(ctx context.Context, p oauth.DevicePrompt) error
}

// Login runs the interactive login p's OAuth settings describe (the
// authorization_code flow, or device_code when its flow says so or
// ui.Device is set) and stores the tokens in p's token cache, where every
// Sender for p then finds them. It returns a description of the token,
// which prints without the token itself. Errors are *ConfigError, or the
// oauth package's *oauth.Error and *oauth.CacheError.
func Login(ctx context.Context, p Profile, opts *Options, ui LoginUI) (oauth.Token, error) {
	if opts == nil {
		opts = &Options{}
	}
	p, err := p.WithPreset()
	if err != nil {
		return oauth.Token{}, err
	}
	flow := oauth.Flow(p.Auth.OAuth.Flow)
	if flow == "" {
		return oauth.Token{}, &ConfigError{Profile: p.Name, Field: "auth.oauth.flow", Err: errors.New("no OAuth flow configured")}
	}
	if flow != oauth.AuthorizationCode && flow != oauth.DeviceCode {
		return oauth.Token{}, &ConfigError{Profile: p.Name, Field: "auth.oauth.flow",
			Err: errors.New("login is for the authorization_code and device_code flows; " + string(flow) + " needs none")}
	}
	c, err := oauthConfig(ctx, p, opts)
	if err != nil {
		return oauth.Token{}, err
	}
	var tok oauth.Token
	if ui.Device || flow == oauth.DeviceCode {
		tok, err = oauth.DeviceLogin(ctx, c, ui.Prompt)
	} else {
		tok, err = oauth.Login(ctx, c, oauth.LoginOptions{Port: ui.Port, Open: ui.Open})
	}
	return tok, configErr(p, err)
}

// OAuthToken obtains an access token as a Sender for p would: from p's
// token cache, or fetched or refreshed when it is missing or due. force
// fetches a new one regardless. Errors are *ConfigError, or the oauth
// package's *oauth.Error (matching oauth.ErrLoginRequired when an
// administrator must log in again) and *oauth.CacheError.
func OAuthToken(ctx context.Context, p Profile, opts *Options, force bool) (oauth.Token, error) {
	if opts == nil {
		opts = &Options{}
	}
	p, err := p.WithPreset()
	if err != nil {
		return oauth.Token{}, err
	}
	if p.Auth.OAuth.Flow == "" {
		return oauth.Token{}, &ConfigError{Profile: p.Name, Field: "auth.oauth.flow", Err: errors.New("no OAuth flow configured")}
	}
	ts, err := oauthTokenSource(ctx, p, opts)
	if err != nil {
		return oauth.Token{}, err
	}
	return ts.Current(ctx, force)
}

// An OAuthProbe is the token step of a probe: the access token obtained as
// a send would obtain it (from the cache, refreshed, or fetched), timed, so
// that a refusal by the identity provider shows apart from one by the mail
// server. It never holds the token itself.
type OAuthProbe struct {
	Flow        string
	Duration    time.Duration
	Expiry      time.Time // zero when the server named none
	Scopes      []string
	Refreshable bool
	Err         error // an *oauth.Error, matching oauth.ErrLoginRequired when a login is needed
}

// probeToken runs the token step for a Sender that acquires tokens.
func (s *Sender) probeToken(ctx context.Context) *OAuthProbe {
	if s.tokens == nil {
		return nil
	}
	start := time.Now()
	tok, err := s.tokens.Current(ctx, false)
	return &OAuthProbe{Flow: s.profile.Auth.OAuth.Flow, Duration: time.Since(start), Expiry: tok.Expiry,
		Scopes: tok.Scopes, Refreshable: tok.Refreshable, Err: err}
}
