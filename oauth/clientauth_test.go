package oauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/oauthtest"
	"mailwarden/oauth"
)

// A server that accepts a client secret only by HTTP Basic: with
// ClientSecretBasic every request the client makes — client credentials,
// the code exchange, refresh, the device authorization and its polls —
// authenticates that way and succeeds; with the default (in the body) the
// server refuses.
func TestClientSecretBasic(t *testing.T) {
	t.Run("client_credentials", func(t *testing.T) {
		srv := oauthtest.New(t, oauthtest.Options{BasicOnly: true})
		cfg := &oauth.Config{Flow: oauth.ClientCredentials, ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
			TokenURL: srv.URL + "/token", Scopes: []string{outlookScope}}
		ts, err := oauth.NewTokenSource(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var e *oauth.Error
		if _, err := ts.Token(ctxT(t)); !errors.As(err, &e) || e.Code != "invalid_client" {
			t.Fatalf("secret in the body to a Basic-only server: %v, want invalid_client", err)
		}
		cfg.ClientAuth = oauth.ClientSecretBasic
		ts, _ = oauth.NewTokenSource(cfg)
		if _, err := ts.Token(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if srv.Requests("basic") != 1 {
			t.Errorf("%d Basic requests, want 1", srv.Requests("basic"))
		}
	})
	t.Run("login_and_refresh", func(t *testing.T) {
		srv := oauthtest.New(t, oauthtest.Options{BasicOnly: true, TTL: time.Hour})
		cfg, clk := interactive(t, srv)
		cfg.ClientSecret, cfg.ClientAuth = srv.ClientSecret(), oauth.ClientSecretBasic
		if _, err := oauth.Login(ctxT(t), cfg, oauth.LoginOptions{Open: browse(t)}); err != nil {
			t.Fatal(err)
		}
		clk.Add(58 * time.Minute)
		ts, _ := oauth.NewTokenSource(cfg)
		if _, err := ts.Token(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if srv.Requests("refresh_token") != 1 || srv.Requests("basic") != 2 {
			t.Errorf("%d refreshes, %d Basic requests; want 1 and 2 (exchange, refresh)", srv.Requests("refresh_token"), srv.Requests("basic"))
		}
	})
	t.Run("device", func(t *testing.T) {
		srv := oauthtest.New(t, oauthtest.Options{BasicOnly: true, Interval: 1, DeviceScript: []string{"authorization_pending"}})
		cfg, _ := interactive(t, srv)
		cfg.Flow, cfg.ClientSecret, cfg.ClientAuth = oauth.DeviceCode, srv.ClientSecret(), oauth.ClientSecretBasic
		cfg.Sleep = func(context.Context, time.Duration) error { return nil }
		tok, err := oauth.DeviceLogin(ctxT(t), cfg, func(context.Context, oauth.DevicePrompt) error { return nil })
		if err != nil || !tok.Refreshable {
			t.Fatalf("device login with Basic: %v", err)
		}
		// The device authorization and both polls.
		if srv.Requests("basic") != 3 {
			t.Errorf("%d Basic requests, want 3", srv.Requests("basic"))
		}
	})
	t.Run("unknown method", func(t *testing.T) {
		_, err := oauth.NewTokenSource(&oauth.Config{Flow: oauth.ClientCredentials, ClientID: "c", ClientSecret: "s",
			TokenURL: "https://idp.example.com/token", ClientAuth: "client_secret_jwt"})
		var ce *oauth.ConfigError
		if !errors.As(err, &ce) || ce.Field != "client_auth" {
			t.Fatalf("got %v, want a ConfigError for client_auth", err)
		}
	})
}

// Two mailboxes of one application share a cache file: each keeps its own
// login, and the login asks the server for the right account.
func TestInteractiveLoginsAreKeptPerAccount(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{TTL: time.Hour})
	alerts, _ := interactive(t, srv)
	alerts.Account = "alerts@contoso.com"
	reports := *alerts
	reports.Account = "reports@contoso.com"
	var authURL string
	if _, err := oauth.Login(ctxT(t), alerts, oauth.LoginOptions{Open: func(ctx context.Context, u string) error {
		authURL = u
		return browse(t)(ctx, u)
	}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(authURL, "login_hint=alerts%40contoso.com") {
		t.Errorf("the login does not name the account: %s", authURL)
	}
	ts, _ := oauth.NewTokenSource(&reports)
	if _, err := ts.Token(ctxT(t)); !errors.Is(err, oauth.ErrLoginRequired) {
		t.Fatalf("the other mailbox got %v, want ErrLoginRequired (not alerts' token)", err)
	}
	ts, _ = oauth.NewTokenSource(alerts)
	if _, err := ts.Token(ctxT(t)); err != nil {
		t.Fatalf("alerts' own login: %v", err)
	}
}
