package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"mailwarden/internal/smtptest"
)

func TestOutboxCommands(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Rcpt: func(to string, _ *smtp.RcptOptions) error {
		if strings.HasPrefix(to, "gone@") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	spool := filepath.Join(t.TempDir(), "spool")
	auditFile := filepath.Join(t.TempDir(), "audit.log")
	conn := []string{"--server", srv.Addr, "--tls", "none", "--audit-file", auditFile}

	var ids []string
	for _, to := range []string{"ops@example.org", "gone@example.org"} {
		out, stderr, code := runWith(t, nil, "", append([]string{"outbox", "enqueue", "--spool", spool, "--json",
			"--from", "alerts@example.com", "--to", to, "--subject", "alert", "--body", "disk full"}, conn...)...)
		if code != exitOK {
			t.Fatalf("enqueue: exit %d: %s", code, stderr)
		}
		var res struct{ ID, MessageID string }
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.ID == "" {
			t.Fatalf("enqueue printed %q (%v)", out, err)
		}
		ids = append(ids, res.ID)
	}

	out, stderr, code := runWith(t, nil, "", "outbox", "list", "--spool", spool, "--json")
	var l listJSON
	if code != exitOK || json.Unmarshal([]byte(out), &l) != nil || len(l.Entries) != 2 || l.Entries[0].State != "queued" || l.Entries[1].Rcpts[0] != "gone@example.org" {
		t.Fatalf("list: exit %d %s %s", code, out, stderr)
	}

	out, stderr, code = runWith(t, nil, "", append([]string{"outbox", "run", "--spool", spool, "--once"}, conn...)...)
	if code != exitRejected || !strings.Contains(out, "outbox.delivered") || !strings.Contains(out, "outbox.dead") {
		t.Fatalf("run --once: exit %d\n%s\n%s", code, out, stderr)
	}
	if srv.Count() != 1 {
		t.Fatalf("server got %d messages", srv.Count())
	}

	out, _, code = runWith(t, nil, "", "outbox", "list", "--spool", spool)
	if code != exitOK || !strings.Contains(out, ids[1]) || !strings.Contains(out, "dead (permanent)") || !strings.Contains(out, "550") || strings.Contains(out, ids[0]) {
		t.Fatalf("list after run: exit %d\n%s", code, out)
	}

	if _, stderr, code := runWith(t, nil, "", "outbox", "retry", ids[1], "--spool", spool); code != exitOK {
		t.Fatalf("retry: exit %d %s", code, stderr)
	}
	out, _, _ = runWith(t, nil, "", "outbox", "list", "--spool", spool, "--json")
	if json.Unmarshal([]byte(out), &l) != nil || len(l.Entries) != 1 || l.Entries[0].State != "deferred" || l.Entries[0].Attempts != 1 {
		t.Fatalf("after retry: %s", out)
	}
	if _, stderr, code := runWith(t, nil, "", "outbox", "purge", "--spool", spool, "--audit-file", auditFile, ids[1]); code != exitOK {
		t.Fatalf("purge: exit %d %s", code, stderr)
	}
	// The operator's purge is in the same audit trail as the sends, and the
	// chain still verifies.
	trail, _ := os.ReadFile(auditFile)
	if !strings.Contains(string(trail), `"msg":"outbox.purged"`) || !strings.Contains(string(trail), ids[1]) {
		t.Errorf("the purge is not in the audit trail:\n%s", trail)
	}
	if _, stderr, code := runWith(t, nil, "", "audit", "verify", auditFile); code != exitOK {
		t.Errorf("audit verify after the purge: exit %d %s", code, stderr)
	}
	// The report names who purged it, and the message delivered before.
	trailFiles, _ := filepath.Glob(filepath.Join(filepath.Dir(auditFile), "*.log"))
	out, stderr, code = runWith(t, nil, "", append([]string{"audit", "report", "--format", "json"}, trailFiles...)...)
	var rep struct {
		Summary struct {
			Actions []struct{ Action, Who, MessageID string }
		}
	}
	if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("audit report: exit %d %s", code, stderr)
	}
	if a := rep.Summary.Actions; len(a) != 1 || a[0].Action != "purge" || a[0].Who != operatorName() || !strings.Contains(a[0].Who, "@") {
		t.Errorf("report actions %+v, want a purge by %s", a, operatorName())
	}
	if _, stderr, code := runWith(t, nil, "", "outbox", "purge", "--spool", spool, ids[1]); code != exitUsage || !strings.Contains(stderr, "no such entry") {
		t.Fatalf("purge again: exit %d %s", code, stderr)
	}
	if _, _, code := runWith(t, nil, "", "outbox", "retry", "--spool", spool); code != exitUsage {
		t.Fatalf("retry without ID: exit %d", code)
	}

	// A corrupt file is quarantined and reported, not fatal.
	os.WriteFile(filepath.Join(spool, "00000000000000000000abcd.msg"), []byte("MWOUTBOX1 garbage"), 0o600)
	out, stderr, code = runWith(t, nil, "", "outbox", "list", "--spool", spool)
	if code != exitOK || !strings.Contains(stderr, "outbox.quarantined") || !strings.Contains(out, "1 file(s) in quarantine") {
		t.Fatalf("corrupt entry: exit %d\n%s\n%s", code, out, stderr)
	}

	// The audit trail (the active file and those rotated by each run) has
	// the state changes.
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(auditFile), "*"))
	var b []byte
	for _, f := range files {
		c, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, c...)
	}
	for _, ev := range []string{`"outbox.queued"`, `"outbox.attempt"`, `"outbox.delivered"`, `"outbox.dead"`} {
		if !strings.Contains(string(b), ev) {
			t.Errorf("audit file lacks %s", ev)
		}
	}
}
