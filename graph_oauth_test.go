package mailwarden_test

import (
	"context"
	"strings"
	"testing"

	"mailwarden"
	"mailwarden/internal/oauthtest"
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
