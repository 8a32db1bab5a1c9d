package mailwarden

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/oauthtest"
	"mailwarden/oauth"
)

func TestOAuthProfileConfigErrors(t *testing.T) {
	ok := func() Profile {
		return Profile{Name: "m365", Servers: []string{"127.0.0.1:1"}, Auth: Auth{Mechanism: "XOAUTH2", Username: "u@example.com",
			OAuth: OAuth{Flow: "client_credentials", TenantID: "t", ClientID: "c", ClientSecret: "env:SECRET",
				TokenURL: "https://login.example/{tenant}/token", Scopes: []string{"https://outlook.office365.com/.default"}}}}
	}
	getenv := func(k string) string { return map[string]string{"SECRET": "s3cret-value"}[k] }
	cases := []struct {
		name  string
		mod   func(*Profile)
		field string
	}{
		{"unknown flow", func(p *Profile) { p.Auth.OAuth.Flow = "implicit" }, "auth.oauth.flow"},
		{"wrong mechanism", func(p *Profile) { p.Auth.Mechanism = "PLAIN" }, "auth.oauth.flow"},
		{"static token too", func(p *Profile) { p.Auth.OAuthToken = "env:SECRET" }, "auth.oauth.flow"},
		{"secret unresolved", func(p *Profile) { p.Auth.OAuth.ClientSecret = "env:MISSING" }, "auth.oauth.client_secret"},
		{"no tenant", func(p *Profile) { p.Auth.OAuth.TenantID = "" }, "auth.oauth.token_url"},
		{"cert without key", func(p *Profile) { p.Auth.OAuth.ClientCertFile = "/nonexistent.crt" }, "auth.oauth.client_cert_file"},
		{"missing cert file", func(p *Profile) {
			p.Auth.OAuth.ClientSecret, p.Auth.OAuth.ClientCertFile, p.Auth.OAuth.ClientKeyFile = "", "/nonexistent.crt", "/nonexistent.key"
		}, "auth.oauth.client_cert_file"},
		{"missing service account", func(p *Profile) { p.Auth.OAuth = OAuth{Flow: "jwt_bearer", ServiceAccountFile: "/nonexistent.json"} }, "auth.oauth.service_account_file"},
		{"interactive without cache", func(p *Profile) {
			p.Auth.OAuth.Flow, p.Auth.OAuth.AuthURL = "authorization_code", "https://login.example/a"
		}, "auth.oauth.token_cache"},
		{"cache key unresolved", func(p *Profile) {
			p.Auth.OAuth.TokenCache, p.Auth.OAuth.TokenCacheKey = t.TempDir()+"/c", "env:NOKEY"
		}, "auth.oauth.token_cache_key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := ok()
			tc.mod(&p)
			_, err := NewSender(context.Background(), p, &Options{Getenv: getenv})
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("got %v, want a *ConfigError for %s", err, tc.field)
			}
			if strings.Contains(err.Error(), "s3cret-value") {
				t.Errorf("the error reveals the secret: %v", err)
			}
		})
	}
	s, err := NewSender(context.Background(), ok(), &Options{Getenv: getenv})
	if err != nil {
		t.Fatalf("a valid OAuth profile: %v", err)
	}
	s.Close()
}

func TestOAuthLoginAndToken(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	p := Profile{Name: "office", Servers: []string{"127.0.0.1:1"}, Auth: Auth{Mechanism: "auto", Username: "u@example.com",
		OAuth: OAuth{Flow: "authorization_code", ClientID: srv.ClientID(), AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token",
			Scopes: []string{"SMTP.Send", "offline_access"}, TokenCache: t.TempDir() + "/tokens", TokenCacheKey: "env:KEY"}}}
	opts := &Options{Getenv: func(k string) string { return map[string]string{"KEY": "k"}[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if _, err := OAuthToken(ctx, p, opts, false); !errors.Is(err, oauth.ErrLoginRequired) {
		t.Fatalf("before login: got %v, want oauth.ErrLoginRequired", err)
	}
	if _, err := Login(ctx, p, opts, LoginUI{Open: followAuthURL}); err != nil {
		t.Fatal(err)
	}
	tok, err := OAuthToken(ctx, p, opts, false)
	if err != nil || tok.AccessToken == "" || strings.Join(tok.Scopes, " ") != "SMTP.Send offline_access" {
		t.Fatalf("after login: %v %v", tok, err)
	}
	if _, err := srv.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	forced, err := OAuthToken(ctx, p, opts, true)
	if err != nil || forced.AccessToken == tok.AccessToken || srv.Requests("refresh_token") != 1 {
		t.Fatalf("forced refresh: %v, %d refreshes", err, srv.Requests("refresh_token"))
	}

	cc := p
	cc.Auth.OAuth.Flow = "client_credentials"
	var ce *ConfigError
	if _, err := Login(ctx, cc, opts, LoginUI{Open: followAuthURL}); !errors.As(err, &ce) || ce.Field != "auth.oauth.flow" {
		t.Errorf("login for client credentials: got %v, want a *ConfigError", err)
	}
}
