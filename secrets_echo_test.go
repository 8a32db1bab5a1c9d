package mailwarden

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/smtptest"
)

// TestSecretsNotEchoed: a relay that reflects the credentials in its 535
// (plain, as the base64 AUTH payload, in hex, upper-cased) gets none of
// them into the send's and the probe's errors, the transcript or the
// audit trail; the 535 itself is still reported.
func TestSecretsNotEchoed(t *testing.T) {
	const password = "Echoed-Passw0rd-51"
	leaks := leakScanner{password: "password", strings.ToLower(password): "password (lower case)"}
	addr := smtptest.Hostile(t, smtptest.EchoCredentials)
	dir := t.TempDir()
	auditFile := filepath.Join(dir, "audit.log")
	var transcript bytes.Buffer
	var errs []string
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		p := Profile{Name: "echo", Servers: []string{addr}, TLS: "none", Timeout: 5 * time.Second,
			Auth:  Auth{Mechanism: mech, Username: "alice", Password: "env:PW", AllowPlaintext: true},
			Audit: AuditConfig{File: auditFile}}
		s, err := NewSender(context.Background(), p, &Options{Getenv: func(string) string { return password }, Transcript: &transcript})
		if err != nil {
			t.Fatal(err)
		}
		m := &envelope.Message{From: headers.Address{Addr: "a@example.com"}, To: []headers.Address{{Addr: "b@example.com"}}, Subject: "echo", Text: "body\r\n"}
		_, err = s.Send(context.Background(), m)
		if err == nil || !strings.Contains(err.Error(), "535") || !strings.Contains(err.Error(), "authentication failed") {
			t.Fatalf("%s: err = %v, want the 535", mech, err)
		}
		errs = append(errs, fmt.Sprintf("%v | %+v | %#v", err, err, err))
		if _, err := s.Probe(context.Background()); err != nil {
			errs = append(errs, fmt.Sprintf("%v | %+v", err, err))
		}
		s.Close()
	}
	trail, err := os.ReadFile(auditFile)
	if err != nil || !bytes.Contains(trail, []byte("535")) {
		t.Fatalf("the audit trail does not hold the refusals (%v):\n%s", err, trail)
	}
	if !strings.Contains(transcript.String(), "S: 535") {
		t.Fatalf("the transcript holds no 535:\n%s", transcript.String())
	}
	leaks.scan(t, "the errors", []byte(strings.Join(errs, "\n")))
	leaks.scan(t, "the transcript", transcript.Bytes())
	leaks.scan(t, "the audit trail", trail)
}
