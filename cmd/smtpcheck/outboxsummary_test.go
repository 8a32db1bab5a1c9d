package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"mailwarden/internal/smtptest"
)

// TestOutboxListCountsDeadAsDead: a dead-lettered entry is counted as
// dead, not queued.
func TestOutboxListCountsDeadAsDead(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Rcpt: func(string, *smtp.RcptOptions) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}})
	spool := filepath.Join(t.TempDir(), "spool")
	conn := []string{"--server", srv.Addr, "--tls", "none"}
	if _, stderr, code := runWith(t, nil, "", append([]string{"outbox", "enqueue", "--spool", spool,
		"--from", "alerts@example.com", "--to", "gone@example.org", "--subject", "s", "--body", "b"}, conn...)...); code != exitOK {
		t.Fatalf("enqueue: exit %d: %s", code, stderr)
	}
	out, _, _ := runWith(t, nil, "", "outbox", "list", "--spool", spool)
	if !strings.Contains(out, "1 entry: 1 queued") {
		t.Errorf("before the run:\n%s", out)
	}
	runWith(t, nil, "", append([]string{"outbox", "run", "--spool", spool, "--once"}, conn...)...)
	out, _, _ = runWith(t, nil, "", "outbox", "list", "--spool", spool)
	if !strings.Contains(out, "1 entry: 1 dead") || strings.Contains(out, "queued") {
		t.Errorf("after the run:\n%s", out)
	}
}

func TestStateSummary(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{nil, "0 entries"},
		{[]string{"dead"}, "1 entry: 1 dead"},
		{[]string{"dead", "queued", "deferred", "queued"}, "4 entries: 2 queued, 1 deferred, 1 dead"},
	} {
		if got := stateSummary(c.in); got != c.want {
			t.Errorf("stateSummary(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
