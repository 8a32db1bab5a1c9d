package main

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailwarden/internal/peers"
	"mailwarden/internal/smtptest"
	"mailwarden/internal/testcert"
)

// TestNetworkFlagsAgainstPostfix: -4/-6, --source-address,
// --tls-server-name and --save-cert against the real Postfix.
func TestNetworkFlagsAgainstPostfix(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_STARTTLS", "MW_TEST_CA")
	conn := []string{"probe", "--server", v[0], "--tls", "explicit", "--ca", v[1]}
	out, stderr, code := runWith(t, nil, "", append(conn, "-4", "--source-address", "127.0.0.2", "--json")...)
	var got probeOut
	if code != exitOK || json.Unmarshal([]byte(out), &got) != nil || !strings.HasPrefix(got.Servers[0].Local, "127.0.0.2:") {
		t.Errorf("-4 --source-address 127.0.0.2: exit %d\n%s\n%s", code, out, stderr)
	}
	// The server is an IPv4 address: over IPv6 only there is no way.
	_, stderr, code = runWith(t, nil, "", append(conn, "-6")...)
	if code != exitConnection || !strings.Contains(stderr, "tcp6") {
		t.Errorf("-6: exit %d, %q", code, stderr)
	}
	// SNI override: the name sent and verified is the one given.
	_, stderr, code = runWith(t, nil, "", append(conn, "--tls-server-name", "wrong.example")...)
	if code != exitConnection || !strings.Contains(stderr, "not wrong.example") {
		t.Errorf("--tls-server-name wrong.example: exit %d, %q", code, stderr)
	}
	if _, stderr, code = runWith(t, nil, "", append(conn, "--tls-server-name", "localhost")...); code != exitOK {
		t.Errorf("--tls-server-name localhost: exit %d, %q", code, stderr)
	}
	// --save-cert writes the chain the relay presented.
	file := filepath.Join(t.TempDir(), "chain.pem")
	if _, stderr, code = runWith(t, nil, "", append(conn, "--save-cert", file)...); code != exitOK {
		t.Fatalf("--save-cert: exit %d, %q", code, stderr)
	}
	saved, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(saved)
	want, _ := os.ReadFile(filepath.Join(filepath.Dir(v[1]), "server.pem"))
	wblk, _ := pem.Decode(want)
	if blk == nil || blk.Type != "CERTIFICATE" || wblk == nil || string(blk.Bytes) != string(wblk.Bytes) {
		t.Errorf("saved chain does not start with the server certificate:\n%s", saved)
	}
	for _, c := range [][]string{{"-4", "-6"}, {"--source-address", "not-an-ip"}, {"--tls-min-version", "1.1"}, {"--tls-server-name", "bad name"}} {
		if _, stderr, code := runWith(t, nil, "", append(conn, c...)...); code != exitUsage {
			t.Errorf("%v: exit %d, %q", c, code, stderr)
		}
	}
}

// TestTLSMinVersion13RefusesATLS12Relay: --tls-min-version 1.3 does not
// settle for a relay that stops at TLS 1.2.
func TestTLSMinVersion13RefusesATLS12Relay(t *testing.T) {
	lb, err := testcert.NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	s := smtptest.Start(t, smtptest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{lb.Server.TLS()}, MaxVersion: tls.VersionTLS12}})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, lb.CA.CertPEM, 0o644)
	conn := []string{"probe", "--server", s.Addr, "--tls", "explicit", "--ca", ca}
	if out, stderr, code := runWith(t, nil, "", conn...); code != exitOK || !strings.Contains(out, "TLS 1.2") {
		t.Fatalf("default: exit %d\n%s\n%s", code, out, stderr)
	}
	if _, stderr, code := runWith(t, nil, "", append(conn, "--tls-min-version", "1.3")...); code != exitConnection || !strings.Contains(stderr, "tls") {
		t.Errorf("--tls-min-version 1.3: exit %d, %q", code, stderr)
	}
}

// TestDSNFlagsReachPostfix: the DSN flags become MAIL RET/ENVID and RCPT
// NOTIFY parameters, which the real Postfix accepts.
func TestDSNFlagsReachPostfix(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_STARTTLS", "MW_TEST_CA")
	args := []string{"send", "--server", v[0], "--tls", "explicit", "--ca", v[1], "--transcript", "-",
		"--from", "a@example.com", "--to", "b@example.com", "--subject", "dsn", "--body", "x"}
	out, stderr, code := runWith(t, nil, "", append(args, "--dsn-notify", "success,failure", "--dsn-ret", "hdrs", "--dsn-envid", "run-42")...)
	if code != exitOK || !strings.Contains(out, "RET=HDRS") || !strings.Contains(out, "ENVID=run-42") || !strings.Contains(out, "NOTIFY=SUCCESS,FAILURE") {
		t.Errorf("exit %d\n%s\n%s", code, out, stderr)
	}
	for _, c := range [][]string{{"--dsn-notify", "sometimes"}, {"--dsn-notify", "never,success"}, {"--dsn-ret", "body"}} {
		if _, stderr, code := runWith(t, nil, "", append(args, c...)...); code != exitUsage || !strings.Contains(stderr, "dsn") {
			t.Errorf("%v: exit %d, %q", c, code, stderr)
		}
	}
}
