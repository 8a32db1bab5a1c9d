package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/fakes"
	"mailwarden/internal/peers"
	"mailwarden/internal/smtptest"
	"mailwarden/internal/testcert"
)

func runWith(t *testing.T, getenv map[string]string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return getenv[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, e, args)
	return out.String(), errb.String(), code
}

// startRelay runs the embedded demo relay and writes its CA to a file.
func startRelay(t *testing.T) (*fakes.Relay, string) {
	t.Helper()
	lb, err := testcert.NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	r, err := fakes.StartRelay(lb.Server.TLS(), "demo", "relay-pw-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, lb.CA.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return r, ca
}

func TestProbeJSONAgainstEmbeddedRelay(t *testing.T) {
	r, ca := startRelay(t)
	out, stderr, code := runWith(t, nil, "", "probe", "--server", r.Addr()+"-starttls", "--ca", ca, "--json")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	var got probeOut
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if !got.OK || len(got.Servers) != 1 {
		t.Fatalf("result = %+v", got)
	}
	s := got.Servers[0]
	if s.TLSMode != "starttls" || !strings.HasPrefix(s.TLSVersion, "TLS 1.") || len(s.Certificates) == 0 || s.Certificates[0].Subject == "" {
		t.Errorf("TLS facts missing: %+v", s)
	}
	names := map[string]bool{}
	for _, st := range s.Steps {
		names[st.Name] = true
	}
	for _, want := range []string{"dial", "greeting", "ehlo", "starttls", "tls", "quit"} {
		if !names[want] {
			t.Errorf("step %q missing from %v", want, s.Steps)
		}
	}
	if strings.Join(s.AuthOffered, " ") != "CRAM-MD5 PLAIN" {
		t.Errorf("AUTH offered after TLS = %v", s.AuthOffered)
	}
	if len(r.Messages()) != 0 {
		t.Error("probe sent mail")
	}
}

func TestProbeExitCodes(t *testing.T) {
	r, _ := startRelay(t)
	_, stderr, code := runWith(t, nil, "", "probe", "--server", r.Addr()+"-starttls")
	if code != exitConnection || !strings.Contains(stderr, "--ca") {
		t.Errorf("unknown CA: exit %d, stderr %q; want 3 and a hint naming --ca", code, stderr)
	}
	_, stderr, code = runWith(t, nil, "", "probe")
	if code != exitUsage || !strings.Contains(stderr, "--server is required") {
		t.Errorf("no server: exit %d, %q", code, stderr)
	}
	_, _, code = runWith(t, nil, "", "probe", "--server", "mail.example.com", "--tls", "bogus")
	if code != exitUsage {
		t.Errorf("bad --tls: exit %d", code)
	}
}

func TestSendWithoutAuthIsRefusedWithExit4(t *testing.T) {
	r, ca := startRelay(t)
	_, stderr, code := runWith(t, nil, "", "send", "--server", r.Addr()+"-starttls", "--ca", ca,
		"--from", "a@example.com", "--to", "b@example.com", "--subject", "x", "--body", "y")
	if code != exitAuth || !strings.Contains(stderr, "5.7.0 Please authenticate first") {
		t.Errorf("exit %d, stderr %q; want 4 with the server's reply", code, stderr)
	}
	if len(r.Messages()) != 0 {
		t.Error("message accepted without authentication")
	}
}

// TestSendToRealPostfix sends a built message and a --data message through
// the real Postfix in each TLS mode and reads the delivered files back.
func TestSendToRealPostfix(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_PLAIN", "MW_POSTFIX_STARTTLS", "MW_POSTFIX_TLS", "MW_POSTFIX_MAILDIR", "MW_TEST_CA")
	maildir := v[3]
	cases := []struct{ server, tls string }{
		{v[0], "none"}, {v[1], "explicit"}, {v[2], "implicit"}, {v[1], "auto"},
	}
	for _, c := range cases {
		tag := "smtpcheck-" + c.tls + "-" + time.Now().Format("150405.000000000")
		out, stderr, code := runWith(t, nil, "", "send", "--server", c.server, "--tls", c.tls, "--ca", v[4],
			"--from", "Alerts <alerts@example.com>", "--to", "ops@example.com; \"Doe, Jane\" <jane@example.org>",
			"--subject", tag, "--body", "real peer "+tag, "--priority", "urgent", "--json")
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", c.tls, code, stderr)
		}
		var res sendOut
		if err := json.Unmarshal([]byte(out), &res); err != nil || !res.OK || res.QueueID == "" || len(res.Recipients) != 2 {
			t.Fatalf("%s: result %s (%v)", c.tls, out, err)
		}
		got := waitDelivered(t, maildir, res.QueueID)
		if !bytes.Contains(got, []byte("Subject: "+tag+"\r\n")) || !bytes.Contains(got, []byte("Priority: urgent\r\n")) ||
			!bytes.Contains(got, []byte("real peer "+tag)) {
			t.Errorf("%s: delivered file lacks what was sent:\n%s", c.tls, got)
		}
	}
	raw := "From: a@example.com\r\nTo: b@example.com\r\nSubject: raw\r\n\r\n.leading dot\r\nline\r\n"
	out, stderr, code := runWith(t, nil, raw, "send", "--server", v[1], "--tls", "explicit", "--ca", v[4],
		"--from", "a@example.com", "--to", "b@example.com", "--data", "-", "--json")
	if code != exitOK {
		t.Fatalf("--data: exit %d: %s", code, stderr)
	}
	var res sendOut
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if got := waitDelivered(t, maildir, res.QueueID); string(got) != raw {
		t.Errorf("--data delivered %q, want exactly %q", got, raw)
	}
}

func waitDelivered(t *testing.T, dir, queueID string) []byte {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(dir, "*."+queueID))
		if len(m) == 1 {
			b, err := os.ReadFile(m[0])
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no file for queue id %s in %s", queueID, dir)
	return nil
}

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
