package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	demo "mailwarden/internal/fakes"
)

// TestProxyURLInlinePassword: a password inside --proxy is used (the
// proxy authenticates the tunnel) with a warning like --password's, and
// printed nowhere; in a configuration file it is refused by config check
// and config show, which point to proxy.password and do not print it.
func TestProxyURLInlinePassword(t *testing.T) {
	const pw = "Inline-Proxy-Passw0rd-8"
	px, err := demo.StartSOCKS5("alerts", pw)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	r, ca := startRelay(t)
	out, stderr, code := runWith(t, nil, "", "probe", "--server", r.Addr()+"-starttls", "--ca", ca, "--json",
		"--proxy", "socks5h://alerts:"+pw+"@"+px.Addr())
	if code != exitOK || px.Tunnels() != 1 {
		t.Fatalf("exit %d, %d tunnels, stderr %s", code, px.Tunnels(), stderr)
	}
	if !strings.Contains(stderr, "warning: the password in --proxy") {
		t.Errorf("no warning: %q", stderr)
	}
	if strings.Contains(out+stderr, pw) {
		t.Errorf("the proxy password was printed:\n%s\n%s", out, stderr)
	}
	_, stderr, code = runWith(t, nil, "", "probe", "--server", r.Addr()+"-starttls", "--ca", ca,
		"--proxy", "socks5h://alerts:"+pw+"@"+px.Addr(), "--proxy-password-file", filepath.Join(t.TempDir(), "pw"))
	if code != exitUsage || strings.Contains(stderr, pw) {
		t.Errorf("password in --proxy and --proxy-password-file: exit %d, %q", code, stderr)
	}

	file := filepath.Join(t.TempDir(), "mailwarden.json")
	os.WriteFile(file, []byte(`{"profiles":[{"name":"relay","servers":["mail.example.com:587"],"proxy":{"url":"socks5h://alerts:`+pw+`@proxy.example.com:1080"}}]}`), 0o600)
	for _, args := range [][]string{{"check", file}, {"show", "--config", file}} {
		cmd := args[0]
		out, stderr, code := runWith(t, nil, "", append([]string{"config"}, args...)...)
		if code != exitUsage || !strings.Contains(stderr, "proxy.password") {
			t.Errorf("config %s: exit %d, %q; want 2 pointing to proxy.password", cmd, code, stderr)
		}
		if strings.Contains(out+stderr, pw) {
			t.Errorf("config %s printed the password:\n%s\n%s", cmd, out, stderr)
		}
	}
}
