package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/oauthtest"
	"mailwarden/internal/peers"
)

// An admin's whole path with a configuration file: a profile made from the
// exchange-online preset (its OAuth endpoints overridden to point at the
// test authorization server, its server at the real Dovecot), "oauth
// login --profile", then "send --profile": the preset's delegated scopes are
// requested, the token is accepted by Dovecot and the message delivered.
func TestConfigProfileOAuthLoginAndSendThroughDovecot(t *testing.T) {
	v := peers.Need(t, "MW_DOVECOT_SUBMISSION", "MW_OAUTH_JWT_KEY_FILE", "MW_OAUTH_USER", "MW_TEST_CA", "MW_POSTFIX_MAILDIR")
	key, err := os.ReadFile(v[1])
	if err != nil {
		t.Fatal(err)
	}
	srv := oauthtest.New(t, oauthtest.Options{JWTKey: key, User: v[2]})
	dir := t.TempDir()
	conf := writeFile(t, "mailwarden.json", `{
  "active": "o365",
  "profiles": [{
    "name": "o365",
    "provider": "exchange-online",
    "servers": ["`+v[0]+`-starttls"],
    "ca_file": "`+v[3]+`",
    "from": "`+v[2]+`",
    "auth": {"username": "`+v[2]+`", "oauth": {
      "flow": "authorization_code", "tenant_id": "contoso", "client_id": "`+srv.ClientID()+`",
      "auth_url": "`+srv.URL+`/{tenant}/oauth2/v2.0/authorize", "token_url": "`+srv.URL+`/{tenant}/oauth2/v2.0/token",
      "redirect_uri": "http://127.0.0.1/",
      "token_cache": "`+filepath.Join(dir, "tokens")+`", "token_cache_key": "env:MW_CACHE_KEY"}}
  }]
}`)
	getenv := map[string]string{"MW_CACHE_KEY": "a cache key for this test"}

	out := &browserWriter{errs: make(chan error, 1)}
	var errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: out, stderr: &errb, getenv: func(k string) string { return getenv[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := run(ctx, e, []string{"oauth", "login", "--config", conf, "--no-browser"}); code != exitOK {
		t.Fatalf("login: exit %d: %s %s", code, errb.String(), out.String())
	}
	if err := <-out.errs; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "scope=https%3A%2F%2Foutlook.office.com%2FSMTP.Send+offline_access&") {
		t.Errorf("the login did not ask for the preset's delegated scopes: %s", out.String())
	}
	if p := srv.LastPrefix(); !strings.Contains(p, "contoso") {
		t.Errorf("token request prefix %q, want the tenant filled in", p)
	}

	tag := "config-oauth-" + time.Now().Format("150405.000000000")
	_, stderr, code := runWith(t, getenv, "", "send", "--config", conf, "--profile", "o365", "--to", v[2], "--subject", tag, "--body", "sent with a profile's OAuth login")
	if code != exitOK {
		t.Fatalf("send: exit %d: %s", code, stderr)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(v[4], "*"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), tag) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no delivered message carries %s", tag)
}
