package mailwarden

import (
	"context"
	"errors"
	"testing"
	"time"

	"mailwarden/internal/oauthtest"
	"mailwarden/internal/peers"
	"mailwarden/oauth"
)

// The "Test connection" button for an OAuth profile shows the token step
// on its own, then the real Dovecot accepts the token in AUTH.
func TestProbeShowsTheTokenStepAgainstDovecot(t *testing.T) {
	v := peers.Need(t, "MW_DOVECOT_SUBMISSION", "MW_OAUTH_JWT_KEY_FILE", "MW_OAUTH_USER", "MW_TEST_CA")
	f := newOAuthFixture(t, v[1], v[2], v[0]+"-starttls", v[3], time.Hour)
	p := f.profile("client_credentials", "XOAUTH2")
	s, err := NewSender(context.Background(), p, &Options{Getenv: f.getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	o := rep.OAuth
	if o == nil || o.Err != nil || o.Flow != "client_credentials" || o.Expiry.IsZero() || len(o.Scopes) == 0 {
		t.Fatalf("token step = %+v", o)
	}
	if got := rep.Servers[0].Info.AuthMechanism; got != "XOAUTH2" {
		t.Errorf("AUTH used %q, want XOAUTH2", got)
	}
	if n := f.srv.Requests("client_credentials"); n != 1 {
		t.Errorf("%d token requests for one probe, want 1 (AUTH reuses the probed token)", n)
	}
}

// A client secret the identity provider refuses fails the probe at the
// token step, with the provider's error, before any mail server is blamed.
func TestProbeTokenRefused(t *testing.T) {
	idp := oauthtest.New(t, oauthtest.Options{})
	p := Profile{Name: "o365", Servers: []string{"127.0.0.1:1"}, TLS: "none", Timeout: 2 * time.Second,
		Auth: Auth{Mechanism: "XOAUTH2", Username: "alerts@contoso.com", OAuth: OAuth{Flow: "client_credentials",
			ClientID: idp.ClientID(), ClientSecret: "env:SECRET", TokenURL: idp.URL + "/token", Scopes: []string{"s"}}}}
	s, err := NewSender(context.Background(), p, &Options{Getenv: func(string) string { return "not-the-secret" }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Probe(context.Background())
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != "invalid_client" {
		t.Fatalf("probe error %v, want the provider's invalid_client", err)
	}
	if rep.OAuth == nil || rep.OAuth.Err == nil {
		t.Fatalf("token step = %+v", rep.OAuth)
	}
	if rep.Servers[0].Err == nil {
		t.Error("the dead server's own failure is not reported")
	}
}
