package mailwarden_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/emersion/go-smtp"

	"mailwarden"
	"mailwarden/internal/smtptest"
	"mailwarden/outbox"
)

// TestOutboxDrainsInBatches: a pass hands the due entries to the Sender
// as one pipelined batch on one session; a 4xx and a 5xx of two entries
// in the middle stay theirs (deferred, dead) and the others are delivered.
func TestOutboxDrainsInBatches(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{NoChunking: true, Data: func(b []byte) error {
		switch {
		case bytes.Contains(b, []byte("Subject: batch 7\r\n")):
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "later"}
		case bytes.Contains(b, []byte("Subject: batch 12\r\n")):
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "never"}
		}
		return nil
	}})
	s, err := mailwarden.NewSender(context.Background(), mailwarden.Profile{Name: "alerts", Servers: []string{srv.Addr}, TLS: "none",
		Audit: mailwarden.AuditConfig{File: filepath.Join(t.TempDir(), "audit.log")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ob, err := s.OpenOutbox(outbox.Config{Dir: t.TempDir(), MaxBatch: outbox.DefaultMaxBatch})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	ctx := context.Background()
	for i := range 20 {
		if _, err := ob.Enqueue(ctx, alert(t, fmt.Sprintf("batch %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	st, err := ob.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Delivered != 18 || st.Deferred != 1 || st.Dead != 1 {
		t.Fatalf("stats %+v", st)
	}
	if n := srv.Sessions(); n != 1 {
		t.Errorf("%d sessions for one pass", n)
	}
	if srv.Count() != 18 {
		t.Errorf("server stored %d", srv.Count())
	}
	entries, err := ob.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("%d entries left", len(entries))
	}
	for _, e := range entries {
		switch {
		case e.Reason == "permanent" && bytes.Contains([]byte(e.LastError), []byte("554")):
		case e.Reason == "" && e.Attempts == 1 && bytes.Contains([]byte(e.LastError), []byte("451")):
		default:
			t.Errorf("entry left: %+v", e)
		}
	}
}
