package mailwarden_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"mailwarden"
	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/oauthtest"
	"mailwarden/outbox"
)

// The graph transport gets its app-only token from the client-credentials
// flow, for the Graph resource of the endpoint it sends to, and the token
// requests go the way Graph requests go.
func TestGraphWithClientCredentialsToken(t *testing.T) {
	f := newFakeGraph(t, 202, "")
	idp := oauthtest.New(t, oauthtest.Options{User: "alerts@contoso.com"})
	p := mailwarden.Profile{
		Name: "m365-app", Provider: "exchange-online", Transport: "graph", From: "alerts@contoso.com",
		Graph: mailwarden.GraphConfig{Endpoint: f.srv.URL, MaxRetries: -1},
		Auth: mailwarden.Auth{OAuth: mailwarden.OAuth{Flow: "client_credentials", TenantID: "contoso", ClientID: idp.ClientID(),
			ClientSecret: "env:CLIENT_SECRET", TokenURL: idp.URL + "/{tenant}/oauth2/v2.0/token"}},
	}
	opts := &mailwarden.Options{Getenv: func(k string) string {
		if k == "CLIENT_SECRET" {
			return idp.ClientSecret()
		}
		return ""
	}}
	s, err := mailwarden.NewSender(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 2; i++ {
		if _, err := s.SendTest(context.Background(), "ops@contoso.com"); err != nil {
			t.Fatal(err)
		}
	}
	if got := idp.LastForm().Get("scope"); got != f.srv.URL+"/.default" {
		t.Errorf("token scope %q, want the Graph endpoint's .default", got)
	}
	if got := idp.LastPrefix(); !strings.Contains(got, "contoso") {
		t.Errorf("token URL prefix %q, want the tenant", got)
	}
	if n := idp.Requests("client_credentials"); n != 1 {
		t.Errorf("%d token requests for two sends, want 1 (the token is reused until it is due)", n)
	}
	calls := f.got()
	if len(calls) != 2 || !strings.HasPrefix(calls[0].auth, "Bearer ey") || calls[0].auth != calls[1].auth {
		t.Fatalf("graph calls: %+v", calls)
	}
}

// An outbox in front of a graph profile delivers through Graph, and a
// throttled Graph (429) defers the message instead of losing it.
func TestOutboxDeliversThroughGraph(t *testing.T) {
	f := newFakeGraph(t, 429, "ApplicationThrottled")
	dir := t.TempDir()
	p := graphProfile(f, dir)
	s, err := mailwarden.NewSender(context.Background(), p, graphOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ob, err := s.OpenOutbox(outbox.Config{Dir: filepath.Join(dir, "spool")})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	m := &envelope.Message{From: headers.Address{Addr: "alerts@contoso.com"}, To: []headers.Address{{Addr: "ops@contoso.com"}},
		Bcc: []headers.Address{{Addr: "audit@contoso.com"}}, Subject: "queued for graph", Text: "hi\r\n"}
	if _, err := ob.Enqueue(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	st, err := ob.RunOnce(context.Background())
	if err != nil || st.Deferred != 1 {
		t.Fatalf("throttled: %+v %v", st, err)
	}
	f.mu.Lock()
	f.status = 202
	f.mu.Unlock()
	entries, err := ob.List(context.Background())
	if err != nil || len(entries) != 1 {
		t.Fatalf("list: %v %v", entries, err)
	}
	if err := ob.Retry(context.Background(), entries[0].ID); err != nil {
		t.Fatal(err)
	}
	st, err = ob.RunOnce(context.Background())
	if err != nil || st.Delivered != 1 {
		t.Fatalf("after the throttle: %+v %v", st, err)
	}
	calls := f.got()
	last := calls[len(calls)-1]
	if !strings.Contains(last.uri, "/users/alerts@contoso.com/sendMail") || !bytes.Contains(last.mime, []byte("Bcc: audit@contoso.com\r\n")) ||
		!bytes.Contains(last.mime, []byte("Message-ID: <"+m.MessageID+">")) {
		t.Errorf("graph got %s\n%s", last.uri, last.mime)
	}
}

// client_auth "client_secret_basic" in a profile reaches the token request:
// a server that takes the secret only by HTTP Basic issues the token.
func TestProfileClientSecretBasic(t *testing.T) {
	f := newFakeGraph(t, 202, "")
	idp := oauthtest.New(t, oauthtest.Options{BasicOnly: true})
	p := mailwarden.Profile{
		Name: "m365-basic", Transport: "graph", From: "alerts@contoso.com",
		Graph: mailwarden.GraphConfig{Endpoint: f.srv.URL, MaxRetries: -1},
		Auth: mailwarden.Auth{OAuth: mailwarden.OAuth{Flow: "client_credentials", ClientID: idp.ClientID(),
			ClientSecret: "env:CLIENT_SECRET", ClientAuth: "client_secret_basic", TokenURL: idp.URL + "/token"}},
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	opts := &mailwarden.Options{Getenv: func(string) string { return idp.ClientSecret() }}
	s, err := mailwarden.NewSender(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.SendTest(context.Background(), "ops@contoso.com"); err != nil {
		t.Fatal(err)
	}
	if idp.Requests("basic") != 1 {
		t.Errorf("%d Basic token requests, want 1", idp.Requests("basic"))
	}
	p.Auth.OAuth.ClientAuth = "client_secret_jwt"
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "auth.oauth.client_auth") {
		t.Errorf("unknown client_auth: %v", err)
	}
}

// OAuthToken (smtpcheck oauth token) asks for what a graph Sender asks for:
// the endpoint's Graph resource, so both use one cache entry.
func TestOAuthTokenForAGraphProfileUsesTheGraphScope(t *testing.T) {
	idp := oauthtest.New(t, oauthtest.Options{})
	p := mailwarden.Profile{Name: "m365-graph", Transport: "graph",
		Graph: mailwarden.GraphConfig{Cloud: "usgov"},
		Auth: mailwarden.Auth{OAuth: mailwarden.OAuth{Flow: "client_credentials", ClientID: idp.ClientID(),
			ClientSecret: "env:CLIENT_SECRET", TokenURL: idp.URL + "/token"}}}
	opts := &mailwarden.Options{Getenv: func(string) string { return idp.ClientSecret() }}
	if _, err := mailwarden.OAuthToken(context.Background(), p, opts, false); err != nil {
		t.Fatal(err)
	}
	if got := idp.LastForm().Get("scope"); got != "https://graph.microsoft.us/.default" {
		t.Errorf("scope %q, want the US Government Graph resource", got)
	}
}
