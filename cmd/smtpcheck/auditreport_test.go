package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixed trails of the report package, written by the real audit writer.
func reportTrail(t *testing.T, name string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "audit", "report", "testdata", "trails", name, "*.log"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no trail %s: %v", name, err)
	}
	return files
}

func reportKey(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.key")
	if err := os.WriteFile(path, []byte("mailwarden-report-test-key-32byt"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAuditReport(t *testing.T) {
	key := reportKey(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "report.html")

	// Flags after the files, files in any order.
	files := reportTrail(t, "intact")
	args := append([]string{"audit", "report"}, files[len(files)-1])
	args = append(append(args, files[:len(files)-1]...), "--key-file", key, "-o", out)
	code, _, errs := runAuditCLI(t, args...)
	if code != exitOK || !strings.Contains(errs, "Intact") {
		t.Fatalf("intact: exit %d, stderr %q", code, errs)
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(b), ">INTACT<") {
		t.Fatalf("report: %v", err)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}

	code, _, errs = runAuditCLI(t, append([]string{"audit", "report", "--key-file", key, "-o", out}, reportTrail(t, "tampered")...)...)
	b, _ = os.ReadFile(out)
	if code != exitCheck || !strings.Contains(errs, "TAMPERED: record 62") || !strings.Contains(string(b), ">TAMPERED<") {
		t.Errorf("tampered: exit %d, stderr %q", code, errs)
	}

	code, stdout, _ := runAuditCLI(t, append([]string{"audit", "report", "--key-file", key, "--format", "csv", "--profile", "o365"}, files...)...)
	if code != exitOK || !strings.HasPrefix(stdout, "time,outcome_time,message_id") || strings.Count(stdout, "\n") != 2 {
		t.Errorf("csv: exit %d, %q", code, stdout)
	}

	// The anchor: inline, and the line 'audit verify --allow-open' prints.
	code, stdout, _ = runAuditCLI(t, append([]string{"audit", "report", "--key-file", key, "--format", "json", "--anchor", "75:" + strings.Repeat("0", 64)}, files...)...)
	if code != exitCheck || !strings.Contains(stdout, `"anchor_ok":false`) {
		t.Errorf("wrong anchor: exit %d", code)
	}
	anchorFile := filepath.Join(dir, "anchor.txt")
	code, stdout, _ = runAuditCLI(t, append([]string{"audit", "report", "--key-file", key, "--format", "json"}, files...)...)
	i := strings.Index(stdout, `"last_hash":"`)
	if code != exitOK || i < 0 {
		t.Fatalf("json: exit %d", code)
	}
	last := stdout[i+13 : i+13+64]
	os.WriteFile(anchorFile, []byte("ok (open): 75 records, seq 1 to 75, 3 file(s), hmac-sha256, not sealed; last hash "+last+"\n"), 0o600)
	code, stdout, errs = runAuditCLI(t, append([]string{"audit", "report", "--key-file", key, "--format", "json", "--anchor", anchorFile}, files...)...)
	if code != exitOK || !strings.Contains(stdout, `"anchor_ok":true`) {
		t.Errorf("anchor file: exit %d, stderr %q", code, errs)
	}
}

func TestAuditReportUsage(t *testing.T) {
	key := reportKey(t)
	files := reportTrail(t, "intact")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no files", []string{"--key-file", key}, "no files"},
		{"no key", files, "no key was given"},
		{"typo", append([]string{"--formt", "csv"}, files...), "-formt"},
		{"format", append([]string{"--key-file", key, "--format", "pdf"}, files...), "want html, csv or json"},
		{"from", append([]string{"--key-file", key, "--from", "yesterday"}, files...), "neither RFC 3339"},
		{"period", append([]string{"--key-file", key, "--from", "2026-11-03", "--to", "2026-11-02"}, files...), "before --to"},
		{"anchor", append([]string{"--key-file", key, "--anchor", "nonsense"}, files...), "--anchor"},
		{"missing file", []string{"--key-file", key, "no-such.log"}, "no-such.log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, errs := runAuditCLI(t, append([]string{"audit", "report"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(errs, tc.want) || stdout != "" {
				t.Errorf("exit %d, stdout %d bytes, stderr %q", code, len(stdout), errs)
			}
		})
	}
	if code, stdout, _ := runAuditCLI(t, "audit", "report", "--help"); code != exitOK || !strings.Contains(stdout, "--anchor") {
		t.Errorf("--help: %d", code)
	}
}
