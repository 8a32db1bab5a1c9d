package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs smtpcheck with no standard input.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	out, errs, code := runCLI(t, "", args...)
	return code, out, errs
}

func TestTemplateCommand(t *testing.T) {
	dir := t.TempDir()
	html := filepath.Join(dir, "r.html")
	if code, out, _ := cli(t, "template", "list"); code != 0 || !strings.Contains(out, "report ") {
		t.Fatalf("list: %d %q", code, out)
	}
	code, out, errs := cli(t, "template", "render", "report", "--data", "../../docs/examples/report.json", "--html", html)
	if code != 0 || !strings.HasPrefix(out, "Subject: Report from Update Publishing Service\n") || !strings.Contains(out, "CVE-2026-1001 <https://") {
		t.Fatalf("render: %d %q %q", code, out, errs)
	}
	b, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(b), `src="data:image/png;base64,`) || strings.Contains(string(b), "cid:") {
		t.Errorf("--html: images not inlined (%v)", err)
	}
	code, out, _ = cli(t, "template", "show", "alert")
	if code != 0 || !strings.Contains(out, `define "layout_start"`) {
		t.Errorf("show: %d", code)
	}
	// The source show prints is a template file.
	file := filepath.Join(dir, "my.tmpl")
	os.WriteFile(file, []byte(out), 0o644)
	if code, _, errs := cli(t, "template", "render", file, "--data", "../../docs/examples/alert.json"); code != 0 {
		t.Errorf("render of the shown source: %d %s", code, errs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"template", "render", "alrt", "--data", "x.json"}, "unknown template"},
		{[]string{"template", "render", "alert"}, "--data FILE.json is required"},
		{[]string{"template", "render", "report", "--data", "../../docs/examples/alert.json"}, `unknown field "severity"`},
		{[]string{"template", "frob"}, "unknown subcommand"},
		{[]string{"message", "--from", "a@example.com", "--to", "b@example.com", "--template", "alert"}, "--template-data: required"},
		{[]string{"message", "--from", "a@example.com", "--to", "b@example.com", "--template", "alert", "--template-data", "../../docs/examples/alert.json", "--body", "x"}, "--body: cannot be used with --template"},
		{[]string{"message", "--from", "a@example.com", "--to", "b@example.com", "--template-data", "x.json"}, "--template-data: needs --template"},
	} {
		if code, _, errs := cli(t, c.args...); code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d, %q; want 2 and %q", c.args, code, errs, c.want)
		}
	}
}

func TestMessageTemplate(t *testing.T) {
	code, out, errs := cli(t, "message", "--from", "a@example.com", "--to", "b@example.com", "--max-subject-length", "20",
		"--template", "alert", "--template-data", "../../docs/examples/alert.json")
	if code != 0 {
		t.Fatalf("%d %s", code, errs)
	}
	for _, want := range []string{"Subject: [WARNING] Disk almos\r\n", "multipart/related", "multipart/alternative", "Content-ID: <logo@mailwarden>"} {
		if !strings.Contains(out, want) {
			t.Errorf("message lacks %q", want)
		}
	}
	code, out, _ = cli(t, "message", "--from", "a@example.com", "--to", "b@example.com", "--subject", "Mine",
		"--template", "test", "--template-data", "../../docs/examples/test.json")
	if code != 0 || !strings.Contains(out, "Subject: Mine\r\n") {
		t.Errorf("--subject does not override the template's: %d", code)
	}
}
