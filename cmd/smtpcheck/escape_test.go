package main

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailwarden/internal/smtptest"
	"mailwarden/internal/testcert"
)

// escapingRelay is a hostile relay whose greeting, EHLO lines, certificate
// names, replies and queue id carry terminal escape sequences: "ESC[2K"
// plus a carriage return would erase the line and print a fake
// "ok (TLS 1.3 verified)" over a warning.
func escapingRelay(t *testing.T) (addr, caFile string) {
	ca, err := testcert.NewCA("escape CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(testcert.Options{CommonName: "evil\x1b[2K\rok (TLS 1.3 verified)", IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, ca.CertPEM, 0o644)
	cfg := &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}}
	addr = smtptest.Hostile(t, func(c *smtptest.Conn) {
		c.Send("220 evil\x1b]0;owned\x07 ESMTP\r\n")
		tlsUp := false
		for {
			l, ok := c.Line()
			if !ok {
				return
			}
			switch strings.ToUpper(strings.Fields(l + " x")[0]) {
			case "EHLO":
				if tlsUp {
					c.Send("250-evil\x1b[2K\r\n250-X-\x1b[31mRED\x1b[0m\r\n250 8BITMIME\r\n")
				} else {
					c.Send("250-evil\r\n250 STARTTLS\r\n")
				}
			case "STARTTLS":
				c.Send("220 go\r\n")
				if c.StartTLS(cfg) != nil {
					return
				}
				tlsUp = true
			case "DATA":
				c.Send("354 go\r\n")
				c.Until(".")
				c.Send("250 2.0.0 Ok: queued as Q1\x1b[2K\rok \x9b31m\r\n")
			case "QUIT":
				c.Send("221 bye\r\n")
				return
			default:
				c.Send("250 2.1.0 ok\x1b[1A\r\n")
			}
		}
	})
	return addr, caFile
}

// TestTerminalEscapeInjection: in human output, nothing a server sent
// reaches the terminal as a control character; in --json output the same
// strings are kept exactly (as JSON escapes).
func TestTerminalEscapeInjection(t *testing.T) {
	addr, ca := escapingRelay(t)
	for _, args := range [][]string{
		{"probe"},
		{"send", "--from", "a@example.com", "--to", "b@example.com", "--subject", "x", "--body", "y"},
	} {
		args = append(args, "--server", addr+"-starttls", "--ca", ca)
		out, stderr, code := runWith(t, nil, "", args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, stderr)
		}
		if i := strings.IndexFunc(out+stderr, func(r rune) bool { return r != '\n' && (r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f) }); i >= 0 {
			t.Errorf("%s: a control character reached the terminal at %d:\n%q", args[0], i, out+stderr)
		}
		if !strings.Contains(out, `\x1b[2K`) {
			t.Errorf("%s: the escape is not shown escaped:\n%s", args[0], out)
		}
		out, _, code = runWith(t, nil, "", append(args, "--json")...)
		if code != exitOK || !strings.Contains(out, `\u001b[2K`) {
			t.Errorf("%s --json: exit %d, the server's text is not kept exactly:\n%s", args[0], code, out)
		}
	}
}
