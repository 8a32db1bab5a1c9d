package oauth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// A Flow names how a TokenSource obtains tokens.
type Flow string

// The flows a Config may name.
const (
	// ClientCredentials is the app-only grant: a client secret or a
	// certificate assertion buys an access token, no user involved.
	ClientCredentials Flow = "client_credentials"
	// AuthorizationCode is the interactive grant: Login runs it once in a
	// browser, and the TokenSource lives on the refresh token it stored.
	AuthorizationCode Flow = "authorization_code"
	// DeviceCode is AuthorizationCode for machines without a browser:
	// DeviceLogin runs it once, and the TokenSource refreshes as above.
	DeviceCode Flow = "device_code"
	// JWTBearer is the Google service-account grant: a JWT signed with the
	// account's key buys an access token, for Subject when it is set
	// (domain-wide delegation).
	JWTBearer Flow = "jwt_bearer"
)

// DefaultRefreshBefore is how long before expiry a token is refreshed when
// Config.RefreshBefore is zero.
const DefaultRefreshBefore = 5 * time.Minute

// Config says where and how to obtain tokens. Fields a flow does not use
// are ignored. A Config is read by NewTokenSource, Login and DeviceLogin
// and must not be modified afterwards.
type Config struct {
	// Flow is required.
	Flow Flow

	// ClientID is the application (client) ID. Required except for
	// JWTBearer, which takes its identity from the service-account key.
	ClientID string
	// ClientSecret is the client secret value. It is optional for public
	// clients using AuthorizationCode or DeviceCode.
	ClientSecret string
	// Account is the user an interactive login is for (the mailbox, e.g.
	// the SMTP user name). It keeps the logins of several mailboxes of one
	// application apart in a shared cache, and is sent to the
	// authorization server as login_hint so the right account signs in.
	// Optional.
	Account string
	// ClientAuth is how a client secret is sent: ClientSecretPost (the
	// zero value: client_id and client_secret in the request body, as
	// Microsoft Entra ID documents) or ClientSecretBasic (HTTP Basic,
	// RFC 6749 section 2.3.1, which every server must accept and some
	// accept exclusively).
	ClientAuth ClientAuth
	// ClientKey and ClientCert authenticate the client with a signed
	// assertion instead of a secret (ClientCredentials only). The key must
	// be RSA; see LoadClientCert.
	ClientKey  crypto.Signer
	ClientCert *x509.Certificate

	// Tenant replaces "{tenant}" in the URLs below (Microsoft Entra ID).
	Tenant string
	// AuthURL, TokenURL and DeviceAuthURL are the authorization server's
	// endpoints. TokenURL is required, except for JWTBearer when the
	// service-account key names its token_uri; AuthURL is required for
	// AuthorizationCode and DeviceAuthURL for DeviceCode.
	AuthURL       string
	TokenURL      string
	DeviceAuthURL string
	// RedirectURI is the loopback redirect Login listens on, such as
	// "http://localhost:8400/". Empty means "http://localhost/" on a
	// random port. Only http on localhost, 127.0.0.1 or [::1] is accepted.
	RedirectURI string
	// Scopes are requested as given, for example
	// "https://outlook.office365.com/.default" or
	// "https://mail.google.com/". Interactive flows against Entra ID also
	// need "offline_access" to get a refresh token.
	Scopes []string

	// ServiceAccountJSON is a Google service-account key file's contents
	// (JWTBearer). Subject is the user it acts for (domain-wide
	// delegation); empty acts as the service account itself.
	ServiceAccountJSON []byte
	Subject            string

	// CachePath is the token cache file; empty keeps tokens in memory
	// only, which AuthorizationCode and DeviceCode cannot work with.
	// CacheKey encrypts it and is required with CachePath; any length, a
	// 32-byte random key is best.
	CachePath string
	CacheKey  []byte

	// LoginCommand is what an administrator runs to log in again, quoted
	// in ErrLoginRequired errors, for example
	// "smtpcheck oauth login --profile NAME". Empty says "log in again".
	LoginCommand string

	// RefreshBefore is how long before expiry a token is renewed; zero is
	// DefaultRefreshBefore.
	RefreshBefore time.Duration
	// HTTPClient makes every request; nil is a client that does not
	// follow redirects (a 307 would re-send the client secret or refresh
	// token to another URL) and gives up on a request after
	// DefaultHTTPTimeout. A client of the caller's is used as it is.
	HTTPClient *http.Client
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Sleep waits between device-code polls; nil waits on a timer,
	// returning ctx.Err() when ctx ends first.
	Sleep func(ctx context.Context, d time.Duration) error
}

// String describes c without its secrets: the client secret, the client
// key, the service-account key and the cache key are reported only as
// present or absent. GoString and LogValue say the same, so a Config
// prints and logs safely under %v, %+v, %#v and slog.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "oauth.Config{Flow:%q ClientID:%q", string(c.Flow), c.ClientID)
	if c.Tenant != "" {
		fmt.Fprintf(&b, " Tenant:%q", c.Tenant)
	}
	for _, f := range []struct{ name, v string }{{"AuthURL", c.AuthURL}, {"TokenURL", c.TokenURL},
		{"DeviceAuthURL", c.DeviceAuthURL}, {"RedirectURI", c.RedirectURI}, {"Subject", c.Subject}, {"CachePath", c.CachePath}} {
		if f.v != "" {
			fmt.Fprintf(&b, " %s:%q", f.name, f.v)
		}
	}
	if len(c.Scopes) > 0 {
		fmt.Fprintf(&b, " Scopes:%q", c.Scopes)
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"ClientSecret", c.ClientSecret != ""}, {"ClientKey", c.ClientKey != nil},
		{"ServiceAccountJSON", len(c.ServiceAccountJSON) > 0}, {"CacheKey", len(c.CacheKey) > 0}} {
		if f.set {
			b.WriteString(" " + f.name + ":[redacted]")
		}
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String, so that %#v does not reveal the secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue is String, for slog.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// LoadClientCert reads a PEM certificate and its RSA private key for a
// certificate assertion. The first certificate in certFile is the one
// whose thumbprint the assertion names.
func LoadClientCert(certFile, keyFile string) (crypto.Signer, *x509.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("oauth: client certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, fmt.Errorf("oauth: client certificate: %w", err)
	}
	key, ok := pair.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New("oauth: client certificate: the key must be RSA (Entra ID signs assertions with RS256)")
	}
	return key, cert, nil
}

// A ConfigError says which Config field is wrong.
type ConfigError struct {
	Field string
	Err   error
}

func (e *ConfigError) Error() string { return "oauth: " + e.Field + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Config) refreshBefore() time.Duration {
	if c.RefreshBefore > 0 {
		return c.RefreshBefore
	}
	return DefaultRefreshBefore
}

// DefaultHTTPTimeout limits each request of the client a nil
// Config.HTTPClient stands for.
const DefaultHTTPTimeout = time.Minute

// defaultHTTPClient is never modified.
var defaultHTTPClient = &http.Client{
	Timeout:       DefaultHTTPTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (c *Config) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return defaultHTTPClient
}

// endpoint returns u with {tenant} replaced.
func (c *Config) endpoint(u string) string {
	return strings.ReplaceAll(u, "{tenant}", url.PathEscape(c.Tenant))
}

// validate checks c once, before anything is requested.
// ClientAuth is a client authentication method for a client secret
// (RFC 7591 token_endpoint_auth_method names).
type ClientAuth string

// Client authentication methods.
const (
	ClientSecretPost  ClientAuth = "client_secret_post"
	ClientSecretBasic ClientAuth = "client_secret_basic"
)

// authStyle is c.ClientAuth as x/oauth2 names it.
func (c *Config) authStyle() oauth2.AuthStyle {
	if c.ClientAuth == ClientSecretBasic {
		return oauth2.AuthStyleInHeader
	}
	return oauth2.AuthStyleInParams
}

// authenticate adds the client's credentials to a request we build
// ourselves, as c.ClientAuth says.
func (c *Config) authenticate(req *http.Request, form url.Values) {
	if c.ClientSecret == "" {
		form.Set("client_id", c.ClientID)
		return
	}
	if c.ClientAuth == ClientSecretBasic {
		req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
		return
	}
	form.Set("client_id", c.ClientID)
	form.Set("client_secret", c.ClientSecret)
}

func (c *Config) validate() error {
	bad := func(field, msg string) error { return &ConfigError{Field: field, Err: errors.New(msg)} }
	checkURL := func(field, u string) error {
		if strings.Contains(u, "{tenant}") && c.Tenant == "" {
			return bad(field, "the URL contains {tenant} and no tenant ID is configured")
		}
		return checkEndpoint(field, c.endpoint(u))
	}
	switch c.ClientAuth {
	case "", ClientSecretPost, ClientSecretBasic:
	default:
		return bad("client_auth", fmt.Sprintf("unknown client authentication method %q (want client_secret_post or client_secret_basic)", c.ClientAuth))
	}
	switch c.Flow {
	case ClientCredentials, AuthorizationCode, DeviceCode, JWTBearer:
	case "":
		return bad("flow", "no flow configured (client_credentials, authorization_code, device_code or jwt_bearer)")
	default:
		return bad("flow", fmt.Sprintf("unknown flow %q (want client_credentials, authorization_code, device_code or jwt_bearer)", string(c.Flow)))
	}
	if c.Flow != JWTBearer && c.ClientID == "" {
		return bad("client_id", "required")
	}
	if c.Flow != JWTBearer || c.TokenURL != "" {
		if c.TokenURL == "" {
			return bad("token_url", "required")
		}
		if err := checkURL("token_url", c.TokenURL); err != nil {
			return err
		}
	}
	switch c.Flow {
	case ClientCredentials:
		if (c.ClientKey == nil) != (c.ClientCert == nil) {
			return bad("client_cert", "a certificate assertion needs both the certificate and its key")
		}
		if c.ClientSecret == "" && c.ClientKey == nil {
			return bad("client_secret", "client credentials need a client secret or a client certificate")
		}
		if c.ClientSecret != "" && c.ClientKey != nil {
			return bad("client_secret", "configure a client secret or a client certificate, not both")
		}
		if c.ClientKey != nil {
			if _, ok := c.ClientKey.Public().(*rsa.PublicKey); !ok {
				return bad("client_key", "the key must be RSA (assertions are signed with RS256)")
			}
		}
	case AuthorizationCode:
		if c.AuthURL == "" {
			return bad("auth_url", "required for the authorization_code flow")
		}
		if err := checkURL("auth_url", c.AuthURL); err != nil {
			return err
		}
		if _, _, err := c.redirect(0); err != nil {
			return err
		}
	case DeviceCode:
		if c.DeviceAuthURL == "" {
			return bad("device_auth_url", "required for the device_code flow")
		}
		if err := checkURL("device_auth_url", c.DeviceAuthURL); err != nil {
			return err
		}
	case JWTBearer:
		if len(c.ServiceAccountJSON) == 0 {
			return bad("service_account_file", "required for the jwt_bearer flow")
		}
		sa, err := parseServiceAccount(c.ServiceAccountJSON)
		if err != nil {
			return &ConfigError{Field: "service_account_file", Err: err}
		}
		if c.TokenURL == "" && sa.TokenURI == "" {
			return bad("token_url", "required: the service-account key names no token_uri")
		}
		if c.TokenURL == "" {
			if err := checkEndpoint("service_account_file", sa.TokenURI); err != nil {
				return err
			}
		}
	}
	if (c.Flow == AuthorizationCode || c.Flow == DeviceCode) && c.CachePath == "" {
		return bad("token_cache", "required for the "+string(c.Flow)+" flow: the refresh token is kept there")
	}
	if c.CachePath != "" && len(c.CacheKey) == 0 {
		return bad("token_cache_key", "required with a token cache: tokens are encrypted at rest")
	}
	return nil
}

// checkEndpoint checks an authorization server URL: https, or plain http
// only to a loopback address (a test server), since client secrets,
// assertions, codes and refresh tokens travel in these requests.
func checkEndpoint(field, u string) error {
	bad := func(msg string) error { return &ConfigError{Field: field, Err: errors.New(msg)} }
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
		return bad("not an http(s) URL")
	}
	if pu.Scheme == "http" && !isLoopback(pu.Hostname()) {
		return bad("plain http is only allowed to a loopback address: credentials travel in this request; use https")
	}
	return nil
}

// isLoopback reports whether host is "localhost" or a literal loopback
// address; a name that merely starts with "127." is not.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redirect returns the redirect URI to send and the address to listen on.
// port overrides the one in RedirectURI; 0 keeps it (or picks a random one
// when it has none).
func (c *Config) redirect(port int) (*url.URL, string, error) {
	raw := c.RedirectURI
	if raw == "" {
		raw = "http://localhost/"
	}
	u, err := url.Parse(raw)
	bad := func(msg string) (*url.URL, string, error) {
		return nil, "", &ConfigError{Field: "redirect_uri", Err: errors.New(msg)}
	}
	if err != nil || u.Scheme != "http" {
		return bad("must be an http:// loopback URL such as http://localhost:8400/")
	}
	var listen string
	switch u.Hostname() {
	case "localhost", "127.0.0.1":
		listen = "127.0.0.1"
	case "::1":
		listen = "::1"
	default:
		return bad("the host must be localhost, 127.0.0.1 or [::1]: the code is received on this machine")
	}
	p := u.Port()
	if port > 0 {
		p = fmt.Sprint(port)
	}
	if p == "" {
		p = "0"
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, net.JoinHostPort(listen, p), nil
}
