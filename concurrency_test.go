package mailwarden

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"mailwarden/audit"
	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/smtptest"
)

// One Sender used by many goroutines at once — sends, test sends and
// probes, as a product's alerting threads and its admin screen do — under
// -race: every message arrives exactly once, and the audit trail holds one
// send record each and still verifies.
func TestSenderIsSafeForConcurrentUse(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	dir := t.TempDir()
	auditFile := filepath.Join(dir, "audit.log")
	s, err := NewSender(context.Background(), Profile{Name: "busy", Servers: []string{srv.Addr}, TLS: "none",
		From: "alerts@example.com", Audit: AuditConfig{File: auditFile}}, &Options{MaxIdle: 4})
	if err != nil {
		t.Fatal(err)
	}
	const senders, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, senders*each+2*senders)
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				m := &envelope.Message{To: []headers.Address{{Addr: "ops@example.org"}}, Subject: fmt.Sprintf("alert %d-%d", g, i), Text: "x\r\n"}
				if _, err := s.Send(context.Background(), m); err != nil {
					errs <- err
				}
			}
			if _, err := s.SendTest(context.Background(), "admin@example.org"); err != nil {
				errs <- err
			}
			if _, err := s.Probe(context.Background()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range srv.Messages() {
		for _, line := range strings.Split(string(m.Data), "\r\n") {
			if strings.HasPrefix(line, "Subject: ") {
				seen[strings.TrimPrefix(line, "Subject: ")]++
			}
		}
	}
	for g := range senders {
		for i := range each {
			if n := seen[fmt.Sprintf("alert %d-%d", g, i)]; n != 1 {
				t.Errorf("alert %d-%d arrived %d times", g, i, n)
			}
		}
	}
	rep, err := audit.Verify(nil, auditFile)
	if err != nil || !rep.Sealed {
		t.Fatalf("audit trail: %+v %v", rep, err)
	}
	b, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	trail := string(b)
	if n := strings.Count(trail, `"msg":"smtp.send"`); n != senders*each+senders {
		t.Errorf("%d smtp.send records, want %d", n, senders*each+senders)
	}
}
