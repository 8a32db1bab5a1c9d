package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mailwarden/internal/smtptest"
)

// TestSendDataKeepsRecipientOrder: send --data put the recipients in a
// random order (a map was ranged over); RCPT TO goes in the order given.
func TestSendDataKeepsRecipientOrder(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	want := []string{"t1@example.com", "t2@example.com", "c1@example.com", "b1@example.com", "b2@example.com"}
	for i := 0; i < 8; i++ { // map order varied between runs
		_, stderr, code := runWith(t, nil, "From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n", "send", "--server", srv.Addr, "--tls", "none",
			"--from", "a@example.com", "--to", "t1@example.com, t2@example.com", "--cc", "c1@example.com", "--bcc", "b1@example.com,b2@example.com", "--data", "-")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	for _, m := range srv.Messages() {
		if !reflect.DeepEqual(m.To, want) {
			t.Fatalf("RCPT order %v, want %v", m.To, want)
		}
	}
}

// TestProbeWithCredentialsAndNoAuthFlag: probe --user --password-file
// without --auth printed "result ok" and exit 0 without logging in.
// Credentials mean auto, and the probe is not ok until they are accepted.
func TestProbeWithCredentialsAndNoAuthFlag(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{User: "alice", Password: "right", AllowInsecureAuth: true})
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runWith(t, nil, "", "probe", "--server", srv.Addr, "--tls", "none", "--allow-plaintext-auth",
		"--user", "alice", "--password-file", pw, "--timeout", "5s")
	if code != exitAuth || strings.Contains(out, "result    ok") {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitAuth, out, stderr)
	}
	if err := os.WriteFile(pw, []byte("right\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = runWith(t, nil, "", "probe", "--server", srv.Addr, "--tls", "none", "--allow-plaintext-auth",
		"--user", "alice", "--password-file", pw, "--timeout", "5s")
	if code != exitOK || !strings.Contains(out, "authenticated with") {
		t.Fatalf("right password: exit %d\n%s%s", code, out, stderr)
	}
}

// TestConfigErrorIsOneClearLine: a flag error read
// "mailwarden: profile command line: smime.sign_cert: smime: ...", one
// layer's prefix after another.
func TestConfigErrorIsOneClearLine(t *testing.T) {
	_, stderr, code := runWith(t, nil, "", "send", "--server", "127.0.0.1:1", "--from", "a@example.com", "--to", "b@example.com",
		"--body", "x", "--sign-cert", filepath.Join(t.TempDir(), "missing.pem"), "--sign-key", filepath.Join(t.TempDir(), "missing.key"))
	if code != exitUsage {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	line := strings.TrimSpace(stderr)
	for _, layer := range []string{"mailwarden:", "profile command line", "smime: "} {
		if strings.Contains(line, layer) {
			t.Errorf("%q has the layer prefix %q", line, layer)
		}
	}
	if strings.Count(line, "\n") != 0 || !strings.Contains(line, "smime.sign_cert") || !strings.Contains(line, "missing.pem") {
		t.Errorf("stderr %q", stderr)
	}
}

// TestConfigShowWithAnotherProfileBroken: one bad profile broke config
// show (and send) of every other profile in the file.
func TestConfigShowWithAnotherProfileBroken(t *testing.T) {
	conf := writeFile(t, "c.json", `{"profiles":[{"name":"good","servers":["relay.example.com:587"]},
		{"name":"bad","servers":["relay.example.com:x-ssl"]}]}`)
	out, stderr, code := runWith(t, nil, "", "config", "show", "--config", conf, "--profile", "good")
	if code != exitOK || !strings.Contains(out, "relay.example.com:587") {
		t.Fatalf("good: exit %d\n%s%s", code, out, stderr)
	}
	_, stderr, code = runWith(t, nil, "", "config", "show", "--config", conf, "--profile", "bad")
	if code != exitUsage || !strings.Contains(stderr, "servers[0]") {
		t.Fatalf("bad: exit %d: %s", code, stderr)
	}
	_, stderr, code = runWith(t, nil, "", "config", "check", conf)
	if code == exitOK {
		t.Fatalf("config check passes a file with a bad profile: %s", stderr)
	}
}
