package mailwarden_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailwarden"
	demo "mailwarden/internal/fakes"
	"mailwarden/internal/testcert"
)

// TestSendTestUsesTestTemplate: the "Send test email" message is the
// built-in test template, HTML with a text alternative and the logo inline,
// naming the profile and its servers in both parts.
func TestSendTestUsesTestTemplate(t *testing.T) {
	certs, err := testcert.NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	relay, err := demo.StartRelay(certs.Server.TLS(), "alerts", "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, certs.CA.CertPEM, 0o644)
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("pw\n"), 0o600)
	s, err := mailwarden.NewSender(context.Background(), mailwarden.Profile{
		Name: "alerts", Servers: []string{relay.Addr() + "-starttls"}, CAFile: caFile, From: "alerts@example.com",
		Auth: mailwarden.Auth{Mechanism: "auto", Username: "alerts", Password: mailwarden.SecretRef("file:" + pw)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.SendTest(context.Background(), "ops@example.com"); err != nil {
		t.Fatal(err)
	}
	msgs := relay.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	tree, html, text := parseWithGoMessage(t, msgs[0].Data)
	for _, want := range []string{"Subject: Mailwarden test message (profile alerts)\n", "multipart/related\n  multipart/alternative\n    text/plain\n    text/html\n  image/png id=<logo@mailwarden>"} {
		if !strings.Contains(tree, want) {
			t.Errorf("structure lacks %q:\n%s", want, tree)
		}
	}
	for _, part := range []string{strings.ReplaceAll(html, "<wbr>", ""), text} {
		if !strings.Contains(part, "alerts") || !strings.Contains(part, relay.Addr()) {
			t.Errorf("a part does not name the profile and server:\n%s", part)
		}
	}
}
