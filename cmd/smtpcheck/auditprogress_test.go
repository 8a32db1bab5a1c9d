package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mailwarden/audit"
)

// rotatedTrail writes n records into a trail rotated every 16 KiB and
// returns its files.
func rotatedTrail(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	f, err := audit.OpenFile(audit.FileConfig{Path: path, MaxSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	h := audit.NewHandler(f, nil)
	for i := range n {
		slog.New(h).Info("smtp.send", "rcpts", []string{"ops@example.com"}, "i", i, "note", strings.Repeat("x", 100))
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.log"))
	sort.Strings(files)
	if len(files) < 3 {
		t.Fatalf("the trail has %d files, want several", len(files))
	}
	return files
}

// TestAuditProgressOnTerminal: audit verify and audit report show the
// records checked and the file of the files given on a terminal, ending at
// every record, every file and 100% of the bytes, and clear the line; not
// on a terminal nothing, or one line per file with --verbose.
func TestAuditProgressOnTerminal(t *testing.T) {
	files := rotatedTrail(t, 400)
	n := len(files)
	// The records, with each file's open record and the seal: as many as
	// verify counts.
	var records int
	if code, out, errs := runAuditCLI(t, append([]string{"audit", "verify"}, files...)...); code != 0 {
		t.Fatalf("verify: exit %d: %s", code, errs)
	} else if _, err := fmt.Sscanf(out, "ok: %d records", &records); err != nil || records < 400 {
		t.Fatalf("verify: %q", out)
	}
	for _, cmd := range [][]string{
		append([]string{"audit", "verify"}, files...),
		append([]string{"audit", "report", "--format", "csv"}, files...),
	} {
		action := map[string]string{"verify": "checking", "report": "reading"}[cmd[1]]
		tty, stdout, code := onTerminal(t, cmd...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%q", cmd[1], code, tty)
		}
		for _, want := range []string{
			fmt.Sprintf("\r%s 1 records  file 1 of %d", action, n),
			fmt.Sprintf("file 2 of %d", n),
			fmt.Sprintf("\r%s %d records  file %d of %d  ", action, records, n, n),
			"(100%)",
		} {
			if !strings.Contains(tty, want) {
				t.Errorf("%s: terminal lacks %q: %q", cmd[1], want, tty)
			}
		}
		if !strings.Contains(tty, "\r"+strings.Repeat(" ", 40)) {
			t.Errorf("%s: line not cleared: %q", cmd[1], tty)
		}
		if strings.Contains(stdout, "\r") || strings.Contains(stdout, action+" ") {
			t.Errorf("%s: progress on standard output", cmd[1])
		}

		code, _, errs := runAuditCLI(t, cmd...)
		if code != 0 || strings.Contains(errs, action) {
			t.Errorf("%s without a terminal: exit %d, stderr %q", cmd[1], code, errs)
		}
		code, _, errs = runAuditCLI(t, append(cmd[:2:2], append([]string{"--verbose"}, cmd[2:]...)...)...)
		if code != 0 || strings.Count(errs, "smtpcheck audit "+cmd[1]+": "+action) != n || strings.Contains(errs, "\r") {
			t.Errorf("%s --verbose: exit %d, stderr %q", cmd[1], code, errs)
		}
	}
}
