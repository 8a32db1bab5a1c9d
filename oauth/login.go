package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// LoginOptions tune Login.
type LoginOptions struct {
	// Port is the loopback port to listen on; 0 takes the one in
	// Config.RedirectURI, or a random free one when that names none.
	// (Entra ID accepts any port for an http://localhost redirect.)
	Port int
	// Open shows the user the authorization URL: it opens a browser or
	// prints the URL. It must return promptly; Login then waits for the
	// browser to come back. Required.
	Open func(ctx context.Context, authURL string) error
}

// Login runs the authorization code grant with PKCE (S256) and a loopback
// redirect: it listens on 127.0.0.1 (or ::1), calls opts.Open with the
// authorization URL, waits for the browser to return with a code whose
// state matches, exchanges it and stores the tokens in the cache. A
// redirect with a wrong state is answered 400 and otherwise ignored.
// It returns when ctx ends, so give ctx a deadline. Errors are
// *ConfigError, *Error, *CacheError or ctx's error.
func Login(ctx context.Context, cfg *Config, opts LoginOptions) (Token, error) {
	c := *cfg
	c.Flow = AuthorizationCode
	if err := c.validate(); err != nil {
		return Token{}, err
	}
	if opts.Open == nil {
		return Token{}, errors.New("oauth: Login needs LoginOptions.Open")
	}
	redirect, addr, err := c.redirect(opts.Port)
	if err != nil {
		return Token{}, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return Token{}, &Error{Op: "authorize", Err: err, Hint: "cannot listen for the browser's redirect; choose another port"}
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	redirect.Host = net.JoinHostPort(redirect.Hostname(), strconv.Itoa(port))

	state := randomString(32)
	verifier := oauth2.GenerateVerifier()
	oc := c.oauth2Config(redirect.String())
	authURL := oc.AuthCodeURL(state, c.authCodeOptions(oc, verifier)...)
	done := make(chan loginResult, 1)
	handler := c.redirectHandler(redirect.Path, state, done)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	if redirect.Hostname() == "localhost" {
		// A browser may try ::1 for localhost first; serve it too when we can.
		if ln6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
			defer ln6.Close()
			go srv.Serve(ln6)
		}
	}
	defer srv.Close()

	if err := opts.Open(ctx, authURL); err != nil {
		return Token{}, err
	}
	var res loginResult
	select {
	case res = <-done:
	case <-ctx.Done():
		return Token{}, fmt.Errorf("oauth: waiting for the browser to return to %s: %w", redirect, ctx.Err())
	}
	if res.err != nil {
		return Token{}, res.err
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, c.httpClient())
	tok, err := oc.Exchange(hctx, res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Token{}, c.wrap("exchange", err)
	}
	return c.saveLogin(ctx, tok)
}

// authCodeOptions are the parameters of the authorization request: PKCE,
// the account to log in (login_hint), and for Google offline access.
func (c *Config) authCodeOptions(oc *oauth2.Config, verifier string) []oauth2.AuthCodeOption {
	authOpts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if c.Account != "" {
		authOpts = append(authOpts, oauth2.SetAuthURLParam("login_hint", c.Account))
	}
	if au, err := url.Parse(oc.Endpoint.AuthURL); err == nil && au.Hostname() == "accounts.google.com" {
		// Google issues a refresh token only when asked for offline access,
		// and again for a returning user only with prompt=consent.
		authOpts = append(authOpts, oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	return authOpts
}

// loginResult is what the browser's redirect brought: a code or an error.
type loginResult struct {
	code string
	err  error
}

// redirectHandler receives the browser's redirect at path, checks state
// and passes the first code (or error) to done. The path is matched
// exactly, not registered as a ServeMux pattern: it comes from the
// configuration, and braces or a space in it would make a pattern that
// panics or matches other paths.
func (c *Config) redirectHandler(path, state string, done chan<- loginResult) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			http.Error(w, "state mismatch: this response does not belong to the pending login", http.StatusBadRequest)
			return
		}
		var res loginResult
		if code := q.Get("error"); code != "" {
			e := &Error{Op: "authorize", Code: code, Description: q.Get("error_description")}
			c.addHint(e)
			res.err = e
		} else if res.code = q.Get("code"); res.code == "" {
			http.Error(w, "no code in the redirect", http.StatusBadRequest)
			return
		}
		select {
		case done <- res:
		default:
			http.Error(w, "this login has already completed", http.StatusConflict)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		msg := "Login complete. You can close this window."
		if res.err != nil {
			msg = "Login failed: " + res.err.Error()
		}
		fmt.Fprintf(w, "<!doctype html><title>smtpcheck</title><p>%s</p>\n", html.EscapeString(msg))
	})
}

func (c *Config) saveLogin(ctx context.Context, tok *oauth2.Token) (Token, error) {
	t := c.fromOAuth2(tok, "")
	if t.RefreshToken == "" {
		return Token{}, &Error{Op: "exchange", Err: errors.New("the server issued no refresh token"),
			Hint: "request offline access (Entra ID: add the offline_access scope; Google: access_type=offline)"}
	}
	unlock, err := lockCache(ctx, c.CachePath)
	if err != nil {
		return Token{}, err
	}
	defer unlock()
	if err := c.store(c.cacheID(), t); err != nil {
		return Token{}, err
	}
	return t.public(), nil
}

// A DevicePrompt is what the user must do to finish a device login: visit
// VerificationURI on any device and enter UserCode.
type DevicePrompt struct {
	VerificationURI string
	// VerificationURIComplete, when the server sends one, includes the
	// code (for a QR code).
	VerificationURIComplete string
	UserCode                string
	// Expiry is when the code stops working; zero if the server did not say.
	Expiry time.Time
}

// DeviceLogin runs the device authorization grant (RFC 8628): it requests
// a user code, hands it to prompt, and polls the token endpoint at the
// server's interval (five seconds more after each slow_down) until the
// user approves, declines (access_denied), or the code expires
// (expired_token). The tokens are stored in the cache. A configured
// ClientSecret authenticates both the device authorization request and the
// polls, in the request body. Errors are *ConfigError, *Error, *CacheError
// or ctx's error.
func DeviceLogin(ctx context.Context, cfg *Config, prompt func(ctx context.Context, p DevicePrompt) error) (Token, error) {
	c := *cfg
	c.Flow = DeviceCode
	if err := c.validate(); err != nil {
		return Token{}, err
	}
	if prompt == nil {
		return Token{}, errors.New("oauth: DeviceLogin needs a prompt function")
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, c.httpClient())
	oc := c.oauth2Config("")
	start := c.now()
	var daOpts []oauth2.AuthCodeOption
	dctx := hctx
	switch {
	case c.ClientSecret != "" && c.ClientAuth == ClientSecretBasic:
		// x/oauth2's DeviceAuth has no Basic: add it to this one request.
		hc := *c.httpClient()
		hc.Transport = basicAuthTransport{base: hc.Transport, id: c.ClientID, secret: c.ClientSecret}
		dctx = context.WithValue(ctx, oauth2.HTTPClient, &hc)
	case c.ClientSecret != "":
		// A confidential client authenticates at the device authorization
		// endpoint as at the token endpoint (RFC 8628 section 3.1);
		// x/oauth2's DeviceAuth sends only the client_id.
		daOpts = append(daOpts, oauth2.SetAuthURLParam("client_secret", c.ClientSecret))
	}
	da, err := oc.DeviceAuth(dctx, daOpts...)
	if err != nil {
		return Token{}, c.wrap("device_authorization", err)
	}
	if da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
		return Token{}, &Error{Op: "device_authorization", Err: errors.New("the reply lacks device_code, user_code or verification_uri")}
	}
	var expiry time.Time
	if !da.Expiry.IsZero() {
		expiry = start.Add(time.Until(da.Expiry))
	}
	if err := prompt(ctx, DevicePrompt{VerificationURI: da.VerificationURI, VerificationURIComplete: da.VerificationURIComplete,
		UserCode: da.UserCode, Expiry: expiry}); err != nil {
		return Token{}, err
	}
	interval := time.Duration(da.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second // RFC 8628 section 3.2
	}
	for {
		if !expiry.IsZero() && !c.now().Before(expiry) {
			e := &Error{Op: "device_poll", Code: "expired_token"}
			c.addHint(e)
			return Token{}, e
		}
		if err := c.sleep(ctx, interval); err != nil {
			return Token{}, err
		}
		tok, code, err := c.pollDevice(ctx, da.DeviceCode)
		switch {
		case err != nil:
			return Token{}, err
		case code == "authorization_pending":
			continue
		case code == "slow_down":
			interval += 5 * time.Second // RFC 8628 section 3.5
			continue
		}
		return c.saveLogin(ctx, tok)
	}
}

// pollDevice makes one device access token request. It returns the token,
// or the pending code (authorization_pending, slow_down), or an *Error.
func (c *Config) pollDevice(ctx context.Context, deviceCode string) (*oauth2.Token, string, error) {
	v := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(c.TokenURL), nil)
	if err != nil {
		return nil, "", &Error{Op: "device_poll", Err: err}
	}
	c.authenticate(req, v) // a confidential client authenticates (Google's device flow wants it)
	form := v.Encode()
	req.Body = io.NopCloser(strings.NewReader(form))
	req.ContentLength = int64(len(form))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(form)), nil }
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, "", c.wrap("device_poll", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, "", c.wrap("device_poll", err)
	}
	var r struct {
		AccessToken  string      `json:"access_token"`
		TokenType    string      `json:"token_type"`
		RefreshToken string      `json:"refresh_token"`
		ExpiresIn    json.Number `json:"expires_in"`
		Scope        string      `json:"scope"`
		Error        string      `json:"error"`
		Description  string      `json:"error_description"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, "", &Error{Op: "device_poll", Status: resp.StatusCode, Err: errors.New("the reply is not JSON")}
	}
	switch r.Error {
	case "":
	case "authorization_pending", "slow_down":
		return nil, r.Error, nil
	default:
		e := &Error{Op: "device_poll", Status: resp.StatusCode, Code: r.Error, Description: r.Description}
		c.scrubEcho(e)
		c.addHint(e)
		return nil, "", e
	}
	if resp.StatusCode/100 != 2 || r.AccessToken == "" {
		return nil, "", &Error{Op: "device_poll", Status: resp.StatusCode, Err: errors.New("the reply holds no access token")}
	}
	tok := &oauth2.Token{AccessToken: r.AccessToken, TokenType: r.TokenType, RefreshToken: r.RefreshToken}
	if n, err := r.ExpiresIn.Int64(); err == nil {
		tok.ExpiresIn = n
	}
	if r.Scope != "" {
		tok = tok.WithExtra(map[string]any{"scope": r.Scope})
	}
	return tok, "", nil
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// basicAuthTransport sends the client's credentials by HTTP Basic
// (form-urlencoded first, RFC 6749 section 2.3.1).
type basicAuthTransport struct {
	base       http.RoundTripper
	id, secret string
}

func (t basicAuthTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.SetBasicAuth(url.QueryEscape(t.id), url.QueryEscape(t.secret))
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}
