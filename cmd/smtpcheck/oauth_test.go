package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mailwarden/internal/oauthtest"
)

// browserWriter is a stdout that plays the browser: when the login URL is
// printed, it follows it to the loopback redirect.
type browserWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	opened bool
	errs   chan error
}

var loginURL = regexp.MustCompile(`http://127\.0\.0\.1:\d+/\S*authorize\?\S+`)

func (w *browserWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if u := loginURL.FindString(w.buf.String()); u != "" && !w.opened {
		w.opened = true
		go func() {
			resp, err := http.Get(u)
			if err == nil {
				resp.Body.Close()
			}
			w.errs <- err
		}()
	}
	return len(p), nil
}

func (w *browserWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestOAuthLoginThenToken(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	dir := t.TempDir()
	getenv := map[string]string{"CACHE_KEY": "cli-cache-key"}
	common := []string{"--client-id", srv.ClientID(), "--auth-url", srv.URL + "/authorize", "--token-url", srv.URL + "/token",
		"--scope", "https://outlook.office365.com/SMTP.Send", "--scope", "offline_access",
		"--token-cache", filepath.Join(dir, "tokens"), "--token-cache-key-env", "CACHE_KEY"}

	out := &browserWriter{errs: make(chan error, 1)}
	var errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: out, stderr: &errb, getenv: func(k string) string { return getenv[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, e, append([]string{"oauth", "login", "--no-browser", "--redirect-uri", "http://127.0.0.1/"}, common...))
	if code != exitOK {
		t.Fatalf("login: exit %d, stderr %s, stdout %s", code, errb.String(), out.String())
	}
	if err := <-out.errs; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "a refresh token is stored") {
		t.Errorf("login output: %s", out.String())
	}

	stdout, stderr, code := runWith(t, getenv, "", append([]string{"oauth", "token"}, common...)...)
	if code != exitOK || !strings.Contains(stdout, "flow      authorization_code") || !strings.Contains(stdout, "offline_access") {
		t.Fatalf("token: exit %d, %s %s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "eyJ") {
		t.Errorf("token printed the access token without --show: %s", stdout)
	}
	stdout, _, code = runWith(t, getenv, "", append([]string{"oauth", "token", "--show", "--json", "--force"}, common...)...)
	var got struct {
		AccessToken string   `json:"access_token"`
		Scopes      []string `json:"scopes"`
		Refreshable bool     `json:"refreshable"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &got) != nil || !got.Refreshable {
		t.Fatalf("token --show --json: exit %d, %s", code, stdout)
	}
	if _, err := srv.VerifyAccessToken(got.AccessToken); err != nil {
		t.Errorf("--show printed no valid token: %v", err)
	}

	srv.RevokeAll()
	_, stderr, code = runWith(t, getenv, "", append([]string{"oauth", "token", "--force"}, common...)...)
	if code != exitAuth || !strings.Contains(stderr, "invalid_grant") || !strings.Contains(stderr, "log in again") {
		t.Fatalf("revoked: exit %d, stderr %s", code, stderr)
	}
}

func TestOAuthDeviceLogin(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{DeviceScript: []string{"authorization_pending"}, Interval: 1})
	getenv := map[string]string{"CACHE_KEY": "k"}
	stdout, stderr, code := runWith(t, getenv, "", "oauth", "login", "--device", "--client-id", srv.ClientID(),
		"--device-auth-url", srv.URL+"/devicecode", "--token-url", srv.URL+"/token", "--scope", "offline_access",
		"--token-cache", filepath.Join(t.TempDir(), "tokens"), "--token-cache-key-env", "CACHE_KEY")
	if code != exitOK || !strings.Contains(stdout, "enter the code WDJB-MJHT") || !strings.Contains(stdout, "logged in") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

func TestOAuthTokenClientCredentials(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte(srv.ClientSecret()+"\n"), 0o600)
	args := []string{"oauth", "token", "--tenant", "contoso", "--client-id", srv.ClientID(), "--client-secret-file", secret,
		"--token-url", srv.URL + "/{tenant}/oauth2/v2.0/token", "--scope", "https://outlook.office365.com/.default"}
	stdout, stderr, code := runWith(t, nil, "", args...)
	if code != exitOK || !strings.Contains(stdout, "flow      client_credentials") || srv.LastPrefix() != "/contoso/oauth2/v2.0" {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	os.WriteFile(secret, []byte("wrong-secret-value"), 0o600)
	_, stderr, code = runWith(t, nil, "", args...)
	if code != exitAuth || !strings.Contains(stderr, "invalid_client") || strings.Contains(stderr, "wrong-secret-value") {
		t.Fatalf("wrong secret: exit %d, stderr %s", code, stderr)
	}
}

func TestOAuthUsageErrors(t *testing.T) {
	cases := [][]string{
		{"oauth"},
		{"oauth", "frobnicate"},
		{"oauth", "token", "--client-id", "x"}, // no token URL
		{"oauth", "login", "--client-id", "x", "--token-url", "http://127.0.0.1:1/t"}, // no auth URL, no cache
		{"oauth", "token", "--client-secret-file", "a", "--client-secret-env", "B"},
	}
	for _, args := range cases {
		_, stderr, code := runWith(t, nil, "", args...)
		if code != exitUsage || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q; want a usage error", args, code, stderr)
		}
	}
}
