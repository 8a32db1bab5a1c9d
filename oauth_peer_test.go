package mailwarden

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/oauthtest"
	"mailwarden/internal/peers"
	"mailwarden/internal/testcert"
	"mailwarden/oauth"
	"mailwarden/transport"
)

// followAuthURL plays the browser for Login: it follows the authorization
// URL to the loopback redirect.
func followAuthURL(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the loopback redirect answered %s", resp.Status)
	}
	return nil
}

// oauthFixture is an authorization server issuing tokens the test
// Dovecot accepts, and profiles for each flow that point at it.
type oauthFixture struct {
	srv    *oauthtest.Server
	dir    string
	env    map[string]string
	user   string
	server string
	ca     string
	ttl    time.Duration
}

// untilDue waits until a token issued now is due for renewal: past half
// its lifetime, the most a short-lived token is kept.
func (f *oauthFixture) untilDue() { time.Sleep(f.ttl/2 + 100*time.Millisecond) }

func newOAuthFixture(t *testing.T, keyFile, user, server, ca string, ttl time.Duration) *oauthFixture {
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	authority, err := testcert.NewCA("oauth client CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := authority.Issue(testcert.Options{CommonName: "mailwarden app", Key: testcert.RSA2048, Purpose: testcert.Client})
	if err != nil {
		t.Fatal(err)
	}
	sa := oauthtest.NewServiceAccount(t, "mailer@project.iam.gserviceaccount.com")
	f := &oauthFixture{dir: t.TempDir(), user: user, server: server, ca: ca, ttl: ttl}
	f.srv = oauthtest.New(t, oauthtest.Options{JWTKey: key, User: user, TTL: ttl, Interval: 1, ClientCert: leaf.Cert, ServiceAccount: sa})
	f.env = map[string]string{"CLIENT_SECRET": f.srv.ClientSecret(), "CACHE_KEY": "cache-key-for-the-test"}
	write := func(name string, b []byte) string {
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("client.crt", leaf.CertPEM)
	write("client.key", leaf.KeyPEM)
	write("sa.json", sa.JSON(f.srv.URL+"/token"))
	return f
}

func (f *oauthFixture) getenv(k string) string { return f.env[k] }

func (f *oauthFixture) profile(flow, mech string) Profile {
	o := OAuth{Flow: flow, TenantID: "contoso", ClientID: f.srv.ClientID(),
		AuthURL: f.srv.URL + "/{tenant}/authorize", TokenURL: f.srv.URL + "/{tenant}/token", DeviceAuthURL: f.srv.URL + "/{tenant}/devicecode",
		Scopes:     []string{"https://outlook.office365.com/.default"},
		TokenCache: filepath.Join(f.dir, "tokens-"+flow), TokenCacheKey: "env:CACHE_KEY"}
	switch flow {
	case "client_credentials":
		o.ClientSecret = "env:CLIENT_SECRET"
	case "client_credentials_cert":
		o.Flow = "client_credentials"
		o.ClientCertFile, o.ClientKeyFile = filepath.Join(f.dir, "client.crt"), filepath.Join(f.dir, "client.key")
	case "jwt_bearer":
		o = OAuth{Flow: flow, ServiceAccountFile: filepath.Join(f.dir, "sa.json"), Subject: f.user,
			Scopes: []string{"https://mail.google.com/"}}
	}
	return Profile{Name: "oauth-" + strings.ReplaceAll(flow, "_", "-"), Servers: []string{f.server}, CAFile: f.ca,
		Auth: Auth{Mechanism: mech, Username: f.user, OAuth: o}}
}

func (f *oauthFixture) login(t *testing.T, p Profile) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok, err := Login(ctx, p, &Options{Getenv: f.getenv}, LoginUI{Open: followAuthURL,
		Prompt: func(context.Context, oauth.DevicePrompt) error { return nil }})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if !tok.Refreshable {
		t.Fatalf("login stored no refresh token: %v", tok)
	}
}

func TestOAuthFlowsAgainstDovecot(t *testing.T) {
	v := peers.Need(t, "MW_DOVECOT_SUBMISSION", "MW_OAUTH_JWT_KEY_FILE", "MW_OAUTH_USER", "MW_TEST_CA", "MW_POSTFIX_MAILDIR")
	// Two-second tokens are due for renewal a second after they are
	// issued, so after a login and that wait every Sender below
	// refreshes: each interactive send also proves the refresh path.
	f := newOAuthFixture(t, v[1], v[2], v[0]+"-starttls", v[3], 2*time.Second)
	for _, flow := range []string{"client_credentials", "client_credentials_cert", "authorization_code", "device_code", "jwt_bearer"} {
		for _, mech := range []string{"XOAUTH2", "OAUTHBEARER"} {
			t.Run(flow+"/"+mech, func(t *testing.T) {
				p := f.profile(flow, mech)
				if flow == "authorization_code" || flow == "device_code" {
					f.login(t, p)
					f.untilDue()
				}
				tag, err := sendVia(t, p, f.getenv)
				if err != nil {
					t.Fatalf("send with a %s token: %v", flow, err)
				}
				got := findDelivered(t, v[4], tag)
				if !strings.Contains(string(got), "authenticated with "+mech) {
					t.Errorf("delivered message lacks its body: %q", got)
				}
			})
		}
	}
	if n := f.srv.Requests("refresh_token"); n < 4 {
		t.Errorf("%d refreshes, want at least one per interactive send", n)
	}

	t.Run("revoked refresh token", func(t *testing.T) {
		p := f.profile("authorization_code", "XOAUTH2")
		f.login(t, p)
		f.srv.RevokeAll()
		f.untilDue()
		_, err := sendVia(t, p, f.getenv)
		if !errors.Is(err, oauth.ErrLoginRequired) {
			t.Fatalf("got %v, want oauth.ErrLoginRequired", err)
		}
		var oe *oauth.Error
		if !errors.As(err, &oe) || oe.Code != "invalid_grant" {
			t.Errorf("got %v, want the server's invalid_grant", err)
		}
		if transport.Classify(err) != transport.ClassAuth {
			t.Errorf("class %v, want an authentication failure", transport.Classify(err))
		}
		if !strings.Contains(err.Error(), "smtpcheck oauth login --profile oauth-authorization-code") {
			t.Errorf("the error does not tell the admin how to log in again: %v", err)
		}
	})

	t.Run("token for another user is refused by dovecot", func(t *testing.T) {
		p := f.profile("client_credentials", "XOAUTH2")
		p.Auth.Username = "nobody-" + f.user
		_, err := sendVia(t, p, f.getenv)
		if transport.Classify(err) != transport.ClassAuth {
			t.Fatalf("got %v (class %v), want an authentication failure", err, transport.Classify(err))
		}
		if strings.Contains(fmt.Sprintf("%v %+v", err, err), f.srv.ClientSecret()) {
			t.Errorf("the error reveals the client secret: %v", err)
		}
	})
}
