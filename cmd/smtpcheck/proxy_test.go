package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
)

// TestSendThroughRealProxies sends through Dante (SOCKS5 with and without
// auth, SOCKS4), ssh -D (SOCKS4a) and Squid (HTTP CONNECT with and without
// Basic auth) to the real Postfix over STARTTLS, verifying the certificate
// against the mail server's name, never the proxy's.
func TestSendThroughRealProxies(t *testing.T) {
	v := peers.Need(t, "MW_SOCKS5", "MW_SOCKS5_AUTH", "MW_SSH_SOCKS", "MW_HTTP_PROXY", "MW_HTTP_PROXY_AUTH",
		"MW_PROXY_USER", "MW_PROXY_PASSWORD", "MW_POSTFIX_STARTTLS", "MW_POSTFIX_MAILDIR", "MW_TEST_CA")
	dir := t.TempDir()
	pw := filepath.Join(dir, "proxy-pw")
	bad := filepath.Join(dir, "bad-pw")
	os.WriteFile(pw, []byte(v[6]+"\n"), 0o600)
	const wrong = "Not-The-Proxy-Passw0rd"
	os.WriteFile(bad, []byte(wrong), 0o600)
	_, port, _ := strings.Cut(v[7], ":")
	server := "localhost:" + port + "-starttls"
	cases := []struct {
		name  string
		flags []string
		auth  bool
	}{
		{"dante socks5h", []string{"--proxy", "socks5h://" + v[0]}, false},
		{"dante socks5 local resolution", []string{"--proxy", "socks5://" + v[0]}, false},
		{"dante socks4", []string{"--proxy", "socks4://" + v[0]}, false},
		{"dante socks5 auth", []string{"--proxy", "socks5h://" + v[1], "--proxy-user", v[5], "--proxy-password-file"}, true},
		{"ssh socks4a", []string{"--proxy", "socks4a://" + v[2]}, false},
		{"squid connect", []string{"--proxy-type", "http", "--proxy-host", hostOf(v[3]), "--proxy-port", portOf(v[3])}, false},
		{"squid connect basic auth", []string{"--proxy-type", "http", "--proxy-host", hostOf(v[4]), "--proxy-port", portOf(v[4]), "--proxy-user", v[5], "--proxy-password-file"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := func(pwFile string) []string {
				a := []string{"send", "--server", server, "--ca", v[9], "--from", "a@example.com", "--to", "b@example.com",
					"--subject", "via " + c.name + " " + time.Now().Format(time.RFC3339Nano), "--body", "proxied", "--json"}
				a = append(a, c.flags...)
				if c.auth {
					a = append(a, pwFile)
				}
				return a
			}
			out, stderr, code := runWith(t, nil, "", args(pw)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var res sendOut
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			waitDelivered(t, v[8], res.QueueID)
			if !c.auth {
				return
			}
			_, stderr, code = runWith(t, nil, "", args(bad)...)
			if code != exitConnection || !strings.Contains(stderr, "proxy") || !strings.Contains(stderr, "rejected") {
				t.Errorf("wrong proxy password: exit %d, %q; want 3 naming the proxy", code, stderr)
			}
			if strings.Contains(stderr, wrong) || strings.Contains(stderr, v[6]) {
				t.Errorf("a proxy password leaked: %q", stderr)
			}
		})
	}
}

func hostOf(hp string) string { h, _, _ := strings.Cut(hp, ":"); return h }
