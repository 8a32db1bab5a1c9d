package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailwarden/audit"
)

func runAuditCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}, args)
	return code, out.String(), errb.String()
}

func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "audit.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := audit.LoadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit.log")
	f, err := audit.OpenFile(audit.FileConfig{Path: path, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	h := audit.NewHandler(f, nil)
	for i := range 5 {
		slog.New(h).Info("smtp.send", "rcpts", []string{"a@example.com"}, "i", i)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	if code, out, errs := runAuditCLI(t, "audit", "verify", "--key-file", keyFile, path); code != exitOK || !strings.HasPrefix(out, "ok: 7 records") {
		t.Errorf("intact: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, _, errs := runAuditCLI(t, "audit", "verify", path); code != exitUsage || !strings.Contains(errs, "key") {
		t.Errorf("keyed trail without key: exit %d, stderr %q", code, errs)
	}

	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	lines[3] = strings.Replace(lines[3], `"i":2`, `"i":9`, 1)
	os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600)
	code, _, errs := runAuditCLI(t, "audit", "verify", "--key-file", keyFile, path)
	if code != exitCheck || !strings.Contains(errs, "line 4: record 4 edited") {
		t.Errorf("edited: exit %d, stderr %q", code, errs)
	}

	// An open trail: only the seal is missing.
	lines[3] = strings.Replace(lines[3], `"i":9`, `"i":2`, 1)
	os.WriteFile(path, []byte(strings.Join(lines[:len(lines)-2], "")), 0o600)
	if code, _, errs := runAuditCLI(t, "audit", "verify", "--key-file", keyFile, path); code != exitCheck || !strings.Contains(errs, "truncated") {
		t.Errorf("open trail: exit %d, stderr %q", code, errs)
	}
	if code, out, errs := runAuditCLI(t, "audit", "verify", "--key-file", keyFile, "--allow-open", path); code != exitOK || !strings.Contains(out, "not sealed; last hash ") {
		t.Errorf("open trail allowed: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	for _, args := range [][]string{{"audit"}, {"audit", "verify"}, {"audit", "frob"}, {"audit", "verify", "--nope", path}, {"audit", "verify", filepath.Join(dir, "missing.log")}} {
		if code, _, _ := runAuditCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestAuditFlags(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "audit.key")
	os.WriteFile(keyFile, []byte(strings.Repeat("cd", 32)), 0o600)
	path := filepath.Join(dir, "audit.log")

	var a auditFlags
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	a.register(fs)
	if err := fs.Parse([]string{"--audit-file", path, "--audit-key-file", keyFile}); err != nil {
		t.Fatal(err)
	}
	h, err := a.handler(context.Background(), io.Discard)
	if err != nil || h == nil {
		t.Fatalf("handler: %v, %v", h, err)
	}
	tr := h.Track()
	slog.New(tr).Info("smtp.send", "from", "a@example.com")
	if err := tr.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if code, out, errs := runAuditCLI(t, "audit", "verify", "--key-file", keyFile, path); code != exitOK {
		t.Errorf("verify: %d %q %q", code, out, errs)
	}

	for _, args := range [][]string{
		{"--audit-key-file", keyFile},
		{"--syslog", "ftp://127.0.0.1"},
		{"--audit-file", filepath.Join(dir, "x.log"), "--audit-key-file", filepath.Join(dir, "missing.key")},
	} {
		var a auditFlags
		fs := flag.NewFlagSet("send", flag.ContinueOnError)
		a.register(fs)
		fs.Parse(args)
		if h, err := a.handler(context.Background(), io.Discard); err == nil {
			h.Close()
			t.Errorf("%v: no error", args)
		}
	}
	var none auditFlags
	if h, err := none.handler(context.Background(), io.Discard); h != nil || err != nil {
		t.Errorf("no flags: %v, %v", h, err)
	}
}
