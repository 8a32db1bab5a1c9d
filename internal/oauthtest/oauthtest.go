// Package oauthtest is a minimal OAuth 2.0 authorization server for tests.
// It listens on 127.0.0.1 and implements just enough of RFC 6749, RFC 7636
// (PKCE), RFC 7523 (JWT client assertions and the JWT bearer grant) and
// RFC 8628 (device authorization) to exercise real clients:
//
//	GET  .../authorize   approves at once: redirects with a code and the state
//	POST .../token       client_credentials (secret or client_assertion),
//	                     authorization_code (+ code_verifier, S256),
//	                     refresh_token (rotating; revocable),
//	                     device_code, and the JWT bearer grant
//	POST .../devicecode  device authorization
//
// Any path prefix is accepted (".../{tenant}/token"), so Entra-style URL
// templates can be tested; the last prefix is recorded.
//
// Access tokens are HS256 JWTs with kid "mailwarden-test" and sub and email
// claims naming Options.User, which is what the test environment's Dovecot
// oauth2 passdb accepts when Options.JWTKey is its key. Nothing here is fit
// for production.
package oauthtest

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure a Server. Zero fields take the defaults noted.
type Options struct {
	// JWTKey signs access tokens (HS256); nil is a random key.
	JWTKey []byte
	// User is the sub and email of every access token; "" is
	// "user@example.com".
	User string
	// TTL is the access tokens' lifetime (expires_in); 0 is one hour.
	TTL time.Duration
	// ClientID and ClientSecret are the registered client; "" is
	// "mailwarden-client" and "s3cret-client-value". The secret is only
	// required for client_credentials; public clients may omit it.
	ClientID     string
	ClientSecret string
	// ClientCert, when set, lets client_credentials authenticate with a
	// client_assertion JWT signed by its (RSA) key.
	ClientCert *x509.Certificate
	// ServiceAccount, when set, is the Google service account whose
	// assertions the JWT bearer grant accepts.
	ServiceAccount *ServiceAccount
	// DeviceScript lists the errors successive device_code polls get
	// ("authorization_pending", "slow_down", "access_denied",
	// "expired_token") before the user counts as having approved.
	DeviceScript []string
	// DenyAuthorize makes /authorize redirect with error=access_denied.
	DenyAuthorize bool
	// Interval is the device poll interval in seconds sent to clients.
	Interval int
	// BasicOnly refuses a client secret in the request body: clients must
	// use HTTP Basic (client_secret_basic, RFC 6749 section 2.3.1).
	BasicOnly bool
}

// A ServiceAccount is a Google-style service account: the JSON key a
// client uses and the public key the server verifies with.
type ServiceAccount struct {
	Email string
	KeyID string
	Key   *rsa.PrivateKey
}

// JSON returns the service account's key file, pointing token_uri at
// tokenURL.
func (sa *ServiceAccount) JSON(tokenURL string) []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(sa.Key)
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "client_email": sa.Email, "private_key_id": sa.KeyID,
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_id":   "1234567890", "token_uri": tokenURL,
	})
	return b
}

// NewServiceAccount makes a service account with a fresh 2048-bit key.
func NewServiceAccount(t testing.TB, email string) *ServiceAccount {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &ServiceAccount{Email: email, KeyID: "key-" + randHex(4), Key: k}
}

// A Server is a running authorization server.
type Server struct {
	URL  string // base URL, "http://127.0.0.1:PORT"
	opts Options
	srv  *httptest.Server

	mu         sync.Mutex
	requests   map[string]int // by grant type, and "authorize", "devicecode"
	codes      map[string]authCode
	refresh    map[string]bool // refresh token -> still valid
	devices    map[string]int  // device code -> polls so far
	jtis       map[string]bool
	lastPrefix string
	lastForm   url.Values
}

type authCode struct {
	clientID, redirect, challenge, scope string
}

// New starts a Server on 127.0.0.1:0, closed when the test ends.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	if o.JWTKey == nil {
		o.JWTKey = []byte(randHex(32))
	}
	if o.User == "" {
		o.User = "user@example.com"
	}
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	if o.ClientID == "" {
		o.ClientID = "mailwarden-client"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "s3cret-client-value"
	}
	s := &Server{opts: o, requests: map[string]int{}, codes: map[string]authCode{},
		refresh: map[string]bool{}, devices: map[string]int{}, jtis: map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(s.serve)}}
	s.srv.Start()
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// ClientID and ClientSecret return the registered client.
func (s *Server) ClientID() string     { return s.opts.ClientID }
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// Requests returns how many requests of kind were served: a grant type
// ("client_credentials", "refresh_token", ...), "authorize" or
// "devicecode".
func (s *Server) Requests(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[kind]
}

// LastPrefix returns the path before "/token" of the last token request.
func (s *Server) LastPrefix() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastPrefix
}

// LastForm returns the form of the last token request.
func (s *Server) LastForm() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastForm
}

// RevokeAll invalidates every refresh token issued so far.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.refresh {
		s.refresh[k] = false
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/authorize") && r.Method == http.MethodGet:
		s.authorize(w, r)
	case strings.HasSuffix(r.URL.Path, "/token") && r.Method == http.MethodPost:
		s.token(w, r)
	case strings.HasSuffix(r.URL.Path, "/devicecode") && r.Method == http.MethodPost:
		s.deviceCode(w, r)
	default:
		http.NotFound(w, r)
	}
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.requests["authorize"]++
	s.mu.Unlock()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme != "http" || (redirect.Hostname() != "localhost" && redirect.Hostname() != "127.0.0.1" && redirect.Hostname() != "::1") {
		http.Error(w, "redirect_uri must be a loopback http URL", http.StatusBadRequest)
		return
	}
	if q.Get("client_id") != s.opts.ClientID || q.Get("response_type") != "code" {
		http.Error(w, "unknown client or response_type", http.StatusBadRequest)
		return
	}
	rq := redirect.Query()
	rq.Set("state", q.Get("state"))
	switch {
	case s.opts.DenyAuthorize:
		rq.Set("error", "access_denied")
		rq.Set("error_description", "the user declined")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		rq.Set("error", "invalid_request")
		rq.Set("error_description", "PKCE with S256 is required")
	default:
		code := randHex(16)
		s.mu.Lock()
		s.codes[code] = authCode{clientID: q.Get("client_id"), redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), scope: q.Get("scope")}
		s.mu.Unlock()
		rq.Set("code", code)
	}
	redirect.RawQuery = rq.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// clientForm returns the request's form with the client's credentials in
// it, taken from HTTP Basic when the client used that (client_id and
// client_secret form-urlencoded, RFC 6749 section 2.3.1). A client that
// uses two methods at once, or a body secret under BasicOnly, is refused.
func (s *Server) clientForm(r *http.Request) (url.Values, error) {
	if err := r.ParseForm(); err != nil {
		return nil, errors.New("unreadable form")
	}
	f := url.Values{}
	for k, v := range r.PostForm {
		f[k] = v
	}
	id, sec, basic := r.BasicAuth()
	switch {
	case basic && f.Get("client_secret") != "":
		return nil, errors.New("more than one client authentication method")
	case basic:
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		sec, err2 = url.QueryUnescape(sec)
		if err1 != nil || err2 != nil {
			return nil, errors.New("malformed Basic credentials")
		}
		if f.Get("client_id") != "" && f.Get("client_id") != id {
			return nil, errors.New("client_id differs from the Basic credentials")
		}
		f.Set("client_id", id)
		f.Set("client_secret", sec)
		s.mu.Lock()
		s.requests["basic"]++
		s.mu.Unlock()
	case s.opts.BasicOnly && f.Get("client_secret") != "":
		return nil, errors.New("client_secret in the body: use HTTP Basic")
	}
	return f, nil
}

func (s *Server) deviceCode(w http.ResponseWriter, r *http.Request) {
	f, err := s.clientForm(r)
	if err != nil {
		oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	if f.Get("client_id") != s.opts.ClientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return
	}
	if sec := f.Get("client_secret"); sec != "" && subtle.ConstantTimeCompare([]byte(sec), []byte(s.opts.ClientSecret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "wrong client secret")
		return
	}
	code := randHex(16)
	s.mu.Lock()
	s.requests["devicecode"]++
	s.devices[code] = 0
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"device_code": code, "user_code": "WDJB-MJHT", "verification_uri": s.URL + "/device",
		"expires_in": 900, "interval": s.opts.Interval, "scope": f.Get("scope"),
	})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	f, err := s.clientForm(r)
	if err != nil {
		oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	grant := f.Get("grant_type")
	s.mu.Lock()
	s.requests[grant]++
	s.lastPrefix = strings.TrimSuffix(r.URL.Path, "/token")
	s.lastForm = f
	s.mu.Unlock()
	tokenURL := s.URL + r.URL.Path
	scope := f.Get("scope")
	switch grant {
	case "client_credentials":
		if err := s.checkClient(f, tokenURL, true); err != nil {
			oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
			return
		}
		s.issue(w, scope, false)
	case "authorization_code":
		if err := s.checkClient(f, tokenURL, false); err != nil {
			oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
			return
		}
		s.mu.Lock()
		c, ok := s.codes[f.Get("code")]
		delete(s.codes, f.Get("code")) // one use only
		s.mu.Unlock()
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		switch {
		case !ok:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or used code")
		case c.redirect != f.Get("redirect_uri") || c.clientID != f.Get("client_id"):
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri or client_id differ from the authorization request")
		case base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		default:
			s.issue(w, c.scope, true)
		}
	case "refresh_token":
		if err := s.checkClient(f, tokenURL, false); err != nil {
			oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
			return
		}
		rt := f.Get("refresh_token")
		s.mu.Lock()
		valid := s.refresh[rt]
		s.refresh[rt] = false // rotation: each refresh token works once
		s.mu.Unlock()
		if !valid {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token has been revoked")
			return
		}
		s.issue(w, scope, true)
	case "urn:ietf:params:oauth:grant-type:device_code":
		if f.Get("client_id") != s.opts.ClientID {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client")
			return
		}
		s.mu.Lock()
		n, ok := s.devices[f.Get("device_code")]
		s.devices[f.Get("device_code")] = n + 1
		s.mu.Unlock()
		if !ok {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown device code")
			return
		}
		if n < len(s.opts.DeviceScript) {
			oauthError(w, http.StatusBadRequest, s.opts.DeviceScript[n], "scripted")
			return
		}
		s.mu.Lock()
		delete(s.devices, f.Get("device_code"))
		s.mu.Unlock()
		s.issue(w, "", true)
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		claims, err := s.checkServiceAccount(f.Get("assertion"), tokenURL)
		if err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_grant", err.Error())
			return
		}
		sc, _ := claims["scope"].(string)
		s.issue(w, sc, false)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", grant)
	}
}

// checkClient authenticates the client: by secret, by client_assertion,
// or (public clients, when !confidential) by client_id alone.
func (s *Server) checkClient(f url.Values, tokenURL string, confidential bool) error {
	if f.Get("client_id") != "" && f.Get("client_id") != s.opts.ClientID {
		return errors.New("unknown client_id")
	}
	if a := f.Get("client_assertion"); a != "" {
		if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			return errors.New("unsupported client_assertion_type")
		}
		return s.checkClientAssertion(a, tokenURL)
	}
	if sec := f.Get("client_secret"); sec != "" {
		if subtle.ConstantTimeCompare([]byte(sec), []byte(s.opts.ClientSecret)) != 1 {
			return errors.New("wrong client secret")
		}
		return nil
	}
	if f.Get("client_id") == "" || confidential {
		return errors.New("client authentication required")
	}
	return nil
}

func (s *Server) checkClientAssertion(a, tokenURL string) error {
	if s.opts.ClientCert == nil {
		return errors.New("no certificate registered")
	}
	pub, ok := s.opts.ClientCert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errors.New("the registered certificate is not RSA")
	}
	head, claims, err := verifyRS256(a, pub)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(s.opts.ClientCert.Raw)
	if head["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		return errors.New("x5t#S256 does not match the registered certificate")
	}
	if claims["aud"] != tokenURL {
		return fmt.Errorf("aud %v is not the token endpoint", claims["aud"])
	}
	if claims["iss"] != s.opts.ClientID || claims["sub"] != s.opts.ClientID {
		return errors.New("iss and sub must be the client ID")
	}
	if err := s.checkTimes(claims); err != nil {
		return err
	}
	jti, _ := claims["jti"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	if jti == "" || s.jtis[jti] {
		return errors.New("missing or replayed jti")
	}
	s.jtis[jti] = true
	return nil
}

func (s *Server) checkServiceAccount(a, tokenURL string) (map[string]any, error) {
	sa := s.opts.ServiceAccount
	if sa == nil {
		return nil, errors.New("no service account registered")
	}
	head, claims, err := verifyRS256(a, &sa.Key.PublicKey)
	if err != nil {
		return nil, err
	}
	if kid, ok := head["kid"]; ok && kid != sa.KeyID {
		return nil, errors.New("unknown key id")
	}
	if claims["iss"] != sa.Email || claims["aud"] != tokenURL {
		return nil, errors.New("iss must be the service account and aud the token endpoint")
	}
	if err := s.checkTimes(claims); err != nil {
		return nil, err
	}
	if sub, ok := claims["sub"]; ok && sub != s.opts.User {
		return nil, errors.New("the service account may not act for this subject")
	}
	return claims, nil
}

func (s *Server) checkTimes(claims map[string]any) error {
	exp, _ := claims["exp"].(float64)
	if exp == 0 || time.Unix(int64(exp), 0).Before(time.Now()) {
		return errors.New("the assertion has expired or has no exp")
	}
	return nil
}

func verifyRS256(jwt string, pub *rsa.PublicKey) (map[string]string, map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("malformed assertion")
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, nil, errors.New("malformed assertion")
	}
	var head map[string]string
	var claims map[string]any
	if json.Unmarshal(hb, &head) != nil || json.Unmarshal(cb, &claims) != nil {
		return nil, nil, errors.New("malformed assertion")
	}
	if head["alg"] != "RS256" {
		return nil, nil, errors.New("alg must be RS256")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
		return nil, nil, errors.New("bad assertion signature")
	}
	return head, claims, nil
}

// issue writes a token response; withRefresh adds a new refresh token.
func (s *Server) issue(w http.ResponseWriter, scope string, withRefresh bool) {
	resp := map[string]any{
		"access_token": s.AccessToken(s.opts.TTL),
		"token_type":   "Bearer",
		"expires_in":   int(s.opts.TTL / time.Second),
	}
	if scope != "" {
		resp["scope"] = scope
	}
	if withRefresh {
		rt := "rt-" + randHex(16)
		s.mu.Lock()
		s.refresh[rt] = true
		s.mu.Unlock()
		resp["refresh_token"] = rt
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(resp)
}

// AccessToken mints an access token valid for ttl, as /token issues them.
func (s *Server) AccessToken(ttl time.Duration) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now()
	head := enc(map[string]string{"alg": "HS256", "typ": "JWT", "kid": "mailwarden-test"})
	claims := enc(map[string]any{"sub": s.opts.User, "email": s.opts.User, "iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": randHex(8)})
	m := hmac.New(sha256.New, s.opts.JWTKey)
	m.Write([]byte(head + "." + claims))
	return head + "." + claims + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// VerifyAccessToken checks an access token's signature and expiry and
// returns its claims.
func (s *Server) VerifyAccessToken(tok string) (map[string]any, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("oauthtest: malformed token")
	}
	m := hmac.New(sha256.New, s.opts.JWTKey)
	m.Write([]byte(parts[0] + "." + parts[1]))
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if !hmac.Equal(sig, m.Sum(nil)) {
		return nil, errors.New("oauthtest: bad token signature")
	}
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(cb, &claims); err != nil {
		return nil, err
	}
	if exp, _ := claims["exp"].(float64); time.Unix(int64(exp), 0).Before(time.Now()) {
		return nil, errors.New("oauthtest: token expired")
	}
	return claims, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
