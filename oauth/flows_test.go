package oauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailwarden/internal/oauthtest"
	"mailwarden/internal/testcert"
	"mailwarden/oauth"
)

const outlookScope = "https://outlook.office365.com/.default"

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// browse is a LoginOptions.Open that plays the browser: it follows the
// authorization URL to the loopback redirect.
func browse(t *testing.T) func(context.Context, string) error {
	return func(ctx context.Context, u string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("browser: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		return nil
	}
}

func TestClientCredentialsWithSecretAndTenant(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	ts, err := oauth.NewTokenSource(&oauth.Config{Flow: oauth.ClientCredentials, ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		Tenant: "contoso-tenant-id", TokenURL: srv.URL + "/{tenant}/oauth2/v2.0/token", Scopes: []string{outlookScope}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.VerifyAccessToken(tok); err != nil {
		t.Fatalf("the token is not one the server issued: %v", err)
	}
	if got := srv.LastPrefix(); got != "/contoso-tenant-id/oauth2/v2.0" {
		t.Errorf("request went to %q: {tenant} not replaced", got)
	}
	if got := srv.LastForm().Get("scope"); got != outlookScope {
		t.Errorf("scope %q, want %q", got, outlookScope)
	}
	again, err := ts.Token(ctxT(t))
	if err != nil || again != tok {
		t.Fatalf("second Token: %v, same token %v", err, again == tok)
	}
	if n := srv.Requests("client_credentials"); n != 1 {
		t.Errorf("%d token requests, want 1 (the fresh token is reused)", n)
	}
}

func TestClientCredentialsWrongSecretIsTypedAndRedacted(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	const wrong = "wr0ng-client-secret-value"
	ts, err := oauth.NewTokenSource(&oauth.Config{Flow: oauth.ClientCredentials, ClientID: srv.ClientID(), ClientSecret: wrong,
		TokenURL: srv.URL + "/token", Scopes: []string{outlookScope}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token(ctxT(t))
	var e *oauth.Error
	if !errors.As(err, &e) || e.Code != "invalid_client" || e.Status != 401 || e.Op != "client_credentials" {
		t.Fatalf("got %#v, want *oauth.Error invalid_client 401", err)
	}
	if errors.Is(err, oauth.ErrLoginRequired) {
		t.Error("a wrong client secret is not a login problem")
	}
	msg := fmt.Sprintf("%v %+v", err, err)
	if strings.Contains(msg, wrong) || !strings.Contains(msg, "client secret or certificate") {
		t.Errorf("error reveals the secret or lacks a hint: %s", msg)
	}
}

func TestClientCredentialsWithCertificateAssertion(t *testing.T) {
	ca, err := testcert.NewCA("oauth test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(testcert.Options{CommonName: "mailwarden app", Key: testcert.RSA2048, Purpose: testcert.Client})
	if err != nil {
		t.Fatal(err)
	}
	srv := oauthtest.New(t, oauthtest.Options{ClientCert: leaf.Cert})
	cfg := &oauth.Config{Flow: oauth.ClientCredentials, ClientID: srv.ClientID(), ClientKey: leaf.Key, ClientCert: leaf.Cert,
		TokenURL: srv.URL + "/tenant/token", Scopes: []string{outlookScope}}
	ts, err := oauth.NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.VerifyAccessToken(tok); err != nil {
		t.Fatal(err)
	}
	f := srv.LastForm()
	if f.Get("client_secret") != "" || f.Get("client_assertion_type") != oauth.ClientAssertionType {
		t.Errorf("form %v: want a client assertion and no secret", f)
	}

	// Another certificate's key is refused by the server.
	other, _ := ca.Issue(testcert.Options{CommonName: "impostor", Key: testcert.RSA2048, Purpose: testcert.Client})
	bad := *cfg
	bad.ClientKey = other.Key
	ts2, _ := oauth.NewTokenSource(&bad)
	_, err = ts2.Token(ctxT(t))
	var e *oauth.Error
	if !errors.As(err, &e) || e.Code != "invalid_client" {
		t.Fatalf("an assertion signed by the wrong key: got %v, want invalid_client", err)
	}
}

func TestJWTBearerServiceAccountWithDelegation(t *testing.T) {
	const user = "admin@example.org"
	sa := oauthtest.NewServiceAccount(t, "mailer@project.iam.gserviceaccount.com")
	srv := oauthtest.New(t, oauthtest.Options{ServiceAccount: sa, User: user})
	cfg := &oauth.Config{Flow: oauth.JWTBearer, ServiceAccountJSON: sa.JSON(srv.URL + "/token"),
		Subject: user, Scopes: []string{"https://mail.google.com/"}}
	ts, err := oauth.NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	claims, err := srv.VerifyAccessToken(tok)
	if err != nil || claims["sub"] != user {
		t.Fatalf("claims %v, %v", claims, err)
	}
	if srv.Requests("urn:ietf:params:oauth:grant-type:jwt-bearer") != 1 {
		t.Error("the JWT bearer grant was not used")
	}

	bad := *cfg
	bad.Subject = "someone-else@example.org"
	ts2, _ := oauth.NewTokenSource(&bad)
	_, err = ts2.Token(ctxT(t))
	var e *oauth.Error
	if !errors.As(err, &e) || e.Code != "invalid_grant" || e.Op != "jwt_bearer" || errors.Is(err, oauth.ErrLoginRequired) {
		t.Fatalf("a subject the account may not act for: got %v", err)
	}
}

// interactive returns a Config for the interactive flows and its clock.
func interactive(t *testing.T, srv *oauthtest.Server) (*oauth.Config, *clock) {
	clk := &clock{t: time.Now()}
	return &oauth.Config{Flow: oauth.AuthorizationCode, ClientID: srv.ClientID(),
		AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token", DeviceAuthURL: srv.URL + "/devicecode",
		Scopes:    []string{"https://outlook.office365.com/SMTP.Send", "offline_access"},
		CachePath: filepath.Join(t.TempDir(), "tokens"), CacheKey: []byte("cache key"),
		LoginCommand: "smtpcheck oauth login --profile office", Now: clk.Now}, clk
}

func TestLoginWithPKCEThenRefreshBeforeExpiry(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{TTL: time.Hour})
	cfg, clk := interactive(t, srv)
	var authURL string
	info, err := oauth.Login(ctxT(t), cfg, oauth.LoginOptions{Open: func(ctx context.Context, u string) error {
		authURL = u
		return browse(t)(ctx, u)
	}})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := url.Parse(authURL)
	if q.Query().Get("code_challenge_method") != "S256" || q.Query().Get("state") == "" ||
		!strings.HasPrefix(q.Query().Get("redirect_uri"), "http://localhost:") {
		t.Errorf("authorization URL lacks PKCE, state or the loopback redirect: %s", authURL)
	}
	if !info.Refreshable || info.AccessToken == "" || srv.Requests("authorization_code") != 1 {
		t.Fatalf("login: %v, %d exchanges", info, srv.Requests("authorization_code"))
	}

	// A new TokenSource (a later process) finds the login in the cache.
	ts, err := oauth.NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token(ctxT(t))
	if err != nil || tok != info.AccessToken {
		t.Fatalf("Token after login: %v (same token: %v)", err, tok == info.AccessToken)
	}
	if srv.Requests("refresh_token") != 0 {
		t.Error("a fresh token was refreshed")
	}
	clk.Add(56 * time.Minute) // four minutes left: due for renewal
	tok2, err := ts.Token(ctxT(t))
	if err != nil || tok2 == tok || srv.Requests("refresh_token") != 1 {
		t.Fatalf("refresh before expiry: %v, new token %v, %d refreshes", err, tok2 != tok, srv.Requests("refresh_token"))
	}
	// The server rotated the refresh token; another process must use the
	// new one from the cache, or the server would answer invalid_grant.
	clk.Add(56 * time.Minute)
	ts2, _ := oauth.NewTokenSource(cfg)
	if _, err := ts2.Token(ctxT(t)); err != nil {
		t.Fatalf("refresh with the rotated token from the cache: %v", err)
	}
}

func TestRefreshOnceUnderConcurrency(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	cfg, clk := interactive(t, srv)
	if _, err := oauth.Login(ctxT(t), cfg, oauth.LoginOptions{Open: browse(t)}); err != nil {
		t.Fatal(err)
	}
	ts, _ := oauth.NewTokenSource(cfg)
	clk.Add(2 * time.Hour) // expired
	const n = 50
	toks := make([]string, n)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range n {
		wg.Go(func() {
			tok, err := ts.Token(ctxT(t))
			if err != nil {
				failed.Add(1)
				t.Error(err)
			}
			toks[i] = tok
		})
	}
	wg.Wait()
	if got := srv.Requests("refresh_token"); got != 1 {
		t.Errorf("%d refresh requests from %d goroutines, want 1", got, n)
	}
	for _, tok := range toks {
		if tok != toks[0] || tok == "" {
			t.Fatal("the goroutines got different tokens")
		}
	}
}

func TestRevokedRefreshTokenAsksForLogin(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	cfg, clk := interactive(t, srv)
	if _, err := oauth.Login(ctxT(t), cfg, oauth.LoginOptions{Open: browse(t)}); err != nil {
		t.Fatal(err)
	}
	srv.RevokeAll()
	clk.Add(2 * time.Hour)
	ts, _ := oauth.NewTokenSource(cfg)
	_, err := ts.Token(ctxT(t))
	var e *oauth.Error
	if !errors.Is(err, oauth.ErrLoginRequired) || !errors.As(err, &e) || e.Code != "invalid_grant" || !e.LoginRequired() {
		t.Fatalf("got %v, want invalid_grant matching ErrLoginRequired", err)
	}
	if !strings.Contains(err.Error(), "smtpcheck oauth login --profile office") {
		t.Errorf("the error does not say how to log in again: %v", err)
	}
	if strings.Contains(err.Error(), "rt-") {
		t.Errorf("the error reveals the refresh token: %v", err)
	}
}

func TestNoLoginStoredAsksForLogin(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	cfg, _ := interactive(t, srv)
	ts, err := oauth.NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token(ctxT(t))
	if !errors.Is(err, oauth.ErrLoginRequired) || !strings.Contains(err.Error(), cfg.LoginCommand) {
		t.Fatalf("got %v", err)
	}
	if n := srv.Requests("refresh_token"); n != 0 {
		t.Errorf("%d refresh requests without a refresh token", n)
	}
}

func TestLoginIgnoresAForeignState(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	cfg, _ := interactive(t, srv)
	var forged int
	_, err := oauth.Login(ctxT(t), cfg, oauth.LoginOptions{Open: func(ctx context.Context, u string) error {
		au, _ := url.Parse(u)
		redirect, _ := url.Parse(au.Query().Get("redirect_uri"))
		redirect.RawQuery = url.Values{"code": {"attacker-code"}, "state": {"forged"}}.Encode()
		resp, err := http.Get(redirect.String())
		if err != nil {
			return err
		}
		resp.Body.Close()
		forged = resp.StatusCode
		return browse(t)(ctx, u)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if forged != http.StatusBadRequest {
		t.Errorf("a redirect with a forged state got %d, want 400", forged)
	}
	if f := srv.LastForm(); f.Get("code") == "attacker-code" {
		t.Error("the forged code was exchanged")
	}
}

func TestLoginDenied(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{DenyAuthorize: true})
	cfg, _ := interactive(t, srv)
	_, err := oauth.Login(ctxT(t), cfg, oauth.LoginOptions{Open: browse(t)})
	var e *oauth.Error
	if !errors.As(err, &e) || e.Code != "access_denied" || e.Op != "authorize" {
		t.Fatalf("got %v, want access_denied", err)
	}
}

func TestLoginTimesOutWithContext(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	cfg, _ := interactive(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := oauth.Login(ctx, cfg, oauth.LoginOptions{Open: func(context.Context, string) error { cancel(); return nil }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestDeviceLoginPolling(t *testing.T) {
	cases := []struct {
		script     []string
		wantSleeps []time.Duration
		wantCode   string
	}{
		{nil, []time.Duration{2 * time.Second}, ""},
		{[]string{"authorization_pending", "slow_down", "authorization_pending"},
			[]time.Duration{2 * time.Second, 2 * time.Second, 7 * time.Second, 7 * time.Second}, ""},
		{[]string{"authorization_pending", "access_denied"}, []time.Duration{2 * time.Second, 2 * time.Second}, "access_denied"},
		{[]string{"expired_token"}, []time.Duration{2 * time.Second}, "expired_token"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(append(tc.script, "end"), "-"), func(t *testing.T) {
			srv := oauthtest.New(t, oauthtest.Options{DeviceScript: tc.script, Interval: 2})
			cfg, _ := interactive(t, srv)
			cfg.Flow = oauth.DeviceCode
			var sleeps []time.Duration
			cfg.Sleep = func(ctx context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }
			var prompt oauth.DevicePrompt
			tok, err := oauth.DeviceLogin(ctxT(t), cfg, func(_ context.Context, p oauth.DevicePrompt) error { prompt = p; return nil })
			if prompt.UserCode != "WDJB-MJHT" || prompt.VerificationURI != srv.URL+"/device" || prompt.Expiry.IsZero() {
				t.Errorf("prompt %+v", prompt)
			}
			if fmt.Sprint(sleeps) != fmt.Sprint(tc.wantSleeps) {
				t.Errorf("waited %v, want %v", sleeps, tc.wantSleeps)
			}
			if tc.wantCode != "" {
				var e *oauth.Error
				if !errors.As(err, &e) || e.Code != tc.wantCode || e.Hint == "" {
					t.Fatalf("got %v, want %s with a hint", err, tc.wantCode)
				}
				return
			}
			if err != nil || !tok.Refreshable {
				t.Fatalf("device login: %v %v", tok, err)
			}
			// The stored login serves a TokenSource.
			ts, _ := oauth.NewTokenSource(cfg)
			got, err := ts.Token(ctxT(t))
			if err != nil || got != tok.AccessToken {
				t.Fatalf("Token after device login: %v", err)
			}
		})
	}
}

func TestTokenWaitHonoursContext(t *testing.T) {
	// The server holds the first request until released, so a second
	// caller waits on the lock; cancelling its context frees it.
	release := make(chan struct{})
	inside := make(chan struct{})
	hs := oauthtest.New(t, oauthtest.Options{})
	slow := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		close(inside)
		<-release
		return http.DefaultTransport.RoundTrip(r)
	})}
	ts, _ := oauth.NewTokenSource(&oauth.Config{Flow: oauth.ClientCredentials, ClientID: hs.ClientID(), ClientSecret: hs.ClientSecret(),
		TokenURL: hs.URL + "/token", HTTPClient: slow})
	first := make(chan error, 1)
	go func() { _, err := ts.Token(context.Background()); first <- err }()
	<-inside
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ts.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("a waiting caller with a cancelled context got %v", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTwoProcessesShareRotatingRefreshTokens(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	cfg, clk := interactive(t, srv)
	if _, err := oauth.Login(ctxT(t), cfg, oauth.LoginOptions{Open: browse(t)}); err != nil {
		t.Fatal(err)
	}
	a, _ := oauth.NewTokenSource(cfg)
	b, _ := oauth.NewTokenSource(cfg)
	if _, err := b.Token(ctxT(t)); err != nil { // b loads the login
		t.Fatal(err)
	}
	clk.Add(2 * time.Hour)
	if _, err := a.Token(ctxT(t)); err != nil { // a refreshes: the refresh token rotates
		t.Fatal(err)
	}
	clk.Add(2 * time.Hour)
	// b's refresh token from the login is spent; b must pick up a's.
	if _, err := b.Token(ctxT(t)); err != nil {
		t.Fatalf("the second process used a spent refresh token: %v", err)
	}
	if n := srv.Requests("refresh_token"); n != 2 {
		t.Errorf("%d refreshes, want 2", n)
	}
}

func TestRunningSourcePicksUpANewLogin(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	cfg, clk := interactive(t, srv)
	if _, err := oauth.Login(ctxT(t), cfg, oauth.LoginOptions{Open: browse(t)}); err != nil {
		t.Fatal(err)
	}
	ts, _ := oauth.NewTokenSource(cfg)
	if _, err := ts.Token(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	srv.RevokeAll()
	clk.Add(2 * time.Hour)
	if _, err := ts.Token(ctxT(t)); !errors.Is(err, oauth.ErrLoginRequired) {
		t.Fatalf("after revocation: %v", err)
	}
	// The administrator logs in again; the running source (a service that
	// was not restarted) carries on with the new login.
	if _, err := oauth.Login(ctxT(t), cfg, oauth.LoginOptions{Open: browse(t)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(ctxT(t)); err != nil {
		t.Fatalf("after a new login: %v", err)
	}
}

func TestLoginServesLocalhostOnIPv6Too(t *testing.T) {
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback on this machine")
	} else {
		ln.Close()
	}
	srv := oauthtest.New(t, oauthtest.Options{})
	cfg, _ := interactive(t, srv)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, err := oauth.Login(ctxT(t), cfg, oauth.LoginOptions{Open: func(ctx context.Context, u string) error {
		resp, err := noFollow.Get(u)
		if err != nil {
			return err
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Hostname() != "localhost" {
			return fmt.Errorf("redirect to %v", loc)
		}
		loc.Host = net.JoinHostPort("::1", loc.Port()) // a browser that prefers IPv6
		resp, err = http.Get(loc.String())
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoginRedirectPathIsNotAServeMuxPattern: the redirect URI's path is
// configuration, not a net/http pattern; braces or a space in it must not
// panic, and the redirect must still be served on exactly that path.
func TestLoginRedirectPathIsNotAServeMuxPattern(t *testing.T) {
	for _, path := range []string{"/cb/{id}", "/cb%20x", "/cb/{$}"} {
		t.Run(path, func(t *testing.T) {
			srv := oauthtest.New(t, oauthtest.Options{})
			cfg, _ := interactive(t, srv)
			cfg.RedirectURI = "http://localhost" + path
			var wrongPath int
			info, err := oauth.Login(ctxT(t), cfg, oauth.LoginOptions{Open: func(ctx context.Context, u string) error {
				au, _ := url.Parse(u)
				redirect, _ := url.Parse(au.Query().Get("redirect_uri"))
				other := *redirect
				other.Path, other.RawPath = "/elsewhere", ""
				other.RawQuery = url.Values{"code": {"c"}, "state": {au.Query().Get("state")}}.Encode()
				resp, err := http.Get(other.String())
				if err != nil {
					return err
				}
				resp.Body.Close()
				wrongPath = resp.StatusCode
				return browse(t)(ctx, u)
			}})
			if err != nil || !info.Refreshable {
				t.Fatalf("login: %v", err)
			}
			if wrongPath != http.StatusNotFound {
				t.Errorf("a request to another path got %d, want 404", wrongPath)
			}
		})
	}
}

// waitersBlocked waits until n goroutines are waiting for ts's lock in
// TokenSource.get, by reading the goroutine stacks.
func waitersBlocked(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for range 10000 {
		got := 0
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "[select") && strings.Contains(g, "oauth.(*TokenSource).get(") {
				got++
			}
		}
		if got >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("fewer than %d goroutines ever waited for the token lock", n)
}

// TestFailedFetchIsSharedWithWaiters: while one caller's request fails,
// the callers waiting for it get its error instead of each sending the
// failing request again in turn; the next call after that tries again.
func TestFailedFetchIsSharedWithWaiters(t *testing.T) {
	hs := oauthtest.New(t, oauthtest.Options{})
	release := make(chan struct{})
	inside := make(chan struct{}, 1)
	var requests atomic.Int32
	slow := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if requests.Add(1) == 1 {
			inside <- struct{}{}
			<-release
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	ts, err := oauth.NewTokenSource(&oauth.Config{Flow: oauth.ClientCredentials, ClientID: hs.ClientID(), ClientSecret: "wrong-secret",
		TokenURL: hs.URL + "/token", HTTPClient: slow})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make(chan error, n)
	go func() { _, err := ts.Token(ctxT(t)); errs <- err }()
	<-inside
	for range n - 1 {
		go func() { _, err := ts.Token(ctxT(t)); errs <- err }()
	}
	waitersBlocked(t, n-1)
	close(release)
	for range n {
		var e *oauth.Error
		if err := <-errs; !errors.As(err, &e) || e.Code != "invalid_client" {
			t.Errorf("got %v, want the invalid_client failure", err)
		}
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("%d token requests from %d concurrent callers of one failing fetch, want 1", got, n)
	}
	if _, err := ts.Token(ctxT(t)); err == nil {
		t.Fatal("a wrong secret succeeded")
	}
	if got := requests.Load(); got != 2 {
		t.Errorf("the next call after the failure made %d requests in all, want 2 (it must retry)", got)
	}
}

// TestShortLivedTokenIsReused: a server issuing tokens that live no
// longer than RefreshBefore (Keycloak's default is five minutes, the
// same as DefaultRefreshBefore) must not be asked for a new token on
// every call; such a token is renewed at half its lifetime instead.
func TestShortLivedTokenIsReused(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{TTL: 5 * time.Minute})
	clk := &clock{t: time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)}
	ts, err := oauth.NewTokenSource(&oauth.Config{Flow: oauth.ClientCredentials, ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		TokenURL: srv.URL + "/token", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	first, err := ts.Token(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	if again, err := ts.Token(ctxT(t)); err != nil || again != first {
		t.Fatalf("one minute into a five-minute token: %v, same token %v", err, again == first)
	}
	if n := srv.Requests("client_credentials"); n != 1 {
		t.Errorf("%d token requests one minute into a five-minute token, want 1", n)
	}
	clk.Add(2 * time.Minute) // past half its lifetime: renewed
	if again, err := ts.Token(ctxT(t)); err != nil || again == first {
		t.Fatalf("three minutes into a five-minute token: %v, new token %v", err, again != first)
	}
	if n := srv.Requests("client_credentials"); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

// TestTokenRequestNotResentOnRedirect: a token endpoint answering 307
// must not make the client POST its secret to wherever Location points.
func TestTokenRequestNotResentOnRedirect(t *testing.T) {
	var leaked atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.PostForm.Get("client_secret") != "" {
			leaked.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"x","token_type":"Bearer","expires_in":3600}`)
	}))
	t.Cleanup(elsewhere.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/token", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	ts, err := oauth.NewTokenSource(&oauth.Config{Flow: oauth.ClientCredentials, ClientID: "id", ClientSecret: "s3cret-client-value",
		TokenURL: redirector.URL + "/token"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token(ctxT(t))
	var e *oauth.Error
	if !errors.As(err, &e) || e.Status != http.StatusTemporaryRedirect {
		t.Errorf("got %v, want an *oauth.Error with status 307", err)
	}
	if leaked.Load() != 0 {
		t.Error("the client secret was re-posted to the redirect target")
	}
}

// TestTwoProcessesRefreshAtOnce: two processes (two TokenSources on one
// cache file) find the same token due at the same moment. Without a lock
// across read, refresh and write both send the same refresh token; a
// server that rotates refresh tokens takes the first and answers the
// second invalid_grant, and that process reports "log in again" although
// the login is fine. With the lock the second waits, then finds the first
// one's token in the cache.
func TestTwoProcessesRefreshAtOnce(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	cfg, clk := interactive(t, srv)
	if _, err := oauth.Login(ctxT(t), cfg, oauth.LoginOptions{Open: browse(t)}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	inside := make(chan struct{}, 1)
	held := *cfg
	held.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		inside <- struct{}{}
		<-release
		return http.DefaultTransport.RoundTrip(r)
	})}
	a, _ := oauth.NewTokenSource(&held)
	b, _ := oauth.NewTokenSource(cfg)
	clk.Add(2 * time.Hour)

	aErr := make(chan error, 1)
	go func() { _, err := a.Token(ctxT(t)); aErr <- err }()
	<-inside // a has read the cache and is sending its refresh
	bErr := make(chan error, 1)
	go func() { _, err := b.Token(ctxT(t)); bErr <- err }()
	var errB error
	bDone := false
	for !bDone && !stackShows("oauth.lockCache(") {
		select {
		case errB = <-bErr:
			bDone = true
		case <-time.After(time.Millisecond):
		}
	}
	close(release)
	if err := <-aErr; err != nil {
		t.Errorf("process a: %v", err)
	}
	if !bDone {
		errB = <-bErr
	}
	if errB != nil {
		t.Errorf("process b: %v", errB)
	}
	if n := srv.Requests("refresh_token"); n != 1 {
		t.Errorf("%d refresh requests, want 1 (b finds a's token in the cache)", n)
	}
}

// stackShows reports whether some goroutine's stack holds fn.
func stackShows(fn string) bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn)
}

// TestServiceAccountsSharingACacheKeepTheirOwnTokens: two profiles with
// different service accounts acting for the same user share a cache file;
// each must get a token for its own account, never the other's.
func TestServiceAccountsSharingACacheKeepTheirOwnTokens(t *testing.T) {
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		parts := strings.Split(r.PostForm.Get("assertion"), ".")
		var claims struct {
			Iss string `json:"iss"`
		}
		if len(parts) == 3 {
			b, _ := base64.RawURLEncoding.DecodeString(parts[1])
			json.Unmarshal(b, &claims)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"token-for-%s","token_type":"Bearer","expires_in":3600}`, claims.Iss)
	}))
	t.Cleanup(issuer.Close)
	cache := filepath.Join(t.TempDir(), "tokens")
	cfg := func(email string) *oauth.Config {
		sa := oauthtest.NewServiceAccount(t, email)
		return &oauth.Config{Flow: oauth.JWTBearer, ServiceAccountJSON: sa.JSON(issuer.URL + "/token"), Subject: "admin@example.org",
			Scopes: []string{"https://mail.google.com/"}, CachePath: cache, CacheKey: []byte("shared key")}
	}
	for _, email := range []string{"a@p.iam.gserviceaccount.com", "b@p.iam.gserviceaccount.com"} {
		ts, err := oauth.NewTokenSource(cfg(email))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := ts.Token(ctxT(t))
		if err != nil || tok != "token-for-"+email {
			t.Errorf("service account %s got %q (%v)", email, tok, err)
		}
	}
}
