package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
)

func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code = run(context.Background(), e, args)
	return out.String(), errb.String(), code
}

func TestMessageCommand(t *testing.T) {
	dir := t.TempDir()
	attach := filepath.Join(dir, "report.csv")
	if err := os.WriteFile(attach, []byte("host,used\nweb1,95\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	html := filepath.Join(dir, "body.html")
	if err := os.WriteFile(html, []byte("<p>Volume <b>/var</b> is 95% full.</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCLI(t, "Volume /var is 95% full.\n",
		"message",
		"--from", "Alerts <alerts@example.com>",
		"--to", `ops@example.com; "Doe, Jane" <jane@example.org>`,
		"--cc", "Jürgen <jm@bücher.example>",
		"--bcc", "audit@example.com",
		"--reply-to", "noc@example.com",
		"--organization", "Example Corp",
		"--subject", "Festplatte fast voll – bitte prüfen",
		"--max-subject-length", "20",
		"--body-file", "-",
		"--html-file", html,
		"--attach", attach,
		"--header", "X-Alert-Id: 42",
		"--header", "X-Site:Zürich",
		"--priority", "urgent",
		"--importance", "high",
		"--sensitivity", "company-confidential",
		"--read-receipt-to", "alerts@example.com",
		"--return-receipt-to", "alerts@example.com",
	)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stdout, "audit@example.com") {
		t.Error("Bcc recipient appears in the message")
	}
	r, err := mail.CreateReader(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	h := r.Header
	subj, _ := h.Subject()
	site, _ := h.Text("X-Site")
	org, _ := h.Text("Organization")
	for k, v := range map[string][2]string{
		"Subject":      {subj, "Festplatte fast voll"},
		"Organization": {org, "Example Corp"},
		"X-Alert-Id":   {h.Get("X-Alert-Id"), "42"},
		"X-Site":       {site, "Zürich"},
		"Priority":     {h.Get("Priority"), "urgent"},
		"X-Priority":   {h.Get("X-Priority"), "1"},
		"Importance":   {h.Get("Importance"), "high"},
		"Sensitivity":  {h.Get("Sensitivity"), "Company-Confidential"},
		"DNT":          {h.Get("Disposition-Notification-To"), "alerts@example.com"},
		"RRT":          {h.Get("Return-Receipt-To"), "alerts@example.com"},
		"Reply-To":     {h.Get("Reply-To"), "noc@example.com"},
		"Cc":           {h.Get("Cc"), "=?utf-8?q?J=C3=BCrgen?= <jm@xn--bcher-kva.example>"},
	} {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", k, v[0], v[1])
		}
	}
	to, _ := h.AddressList("To")
	if len(to) != 2 || to[1].Name != "Doe, Jane" {
		t.Errorf("To = %v", to)
	}
	var parts []string
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p.Body)
		parts = append(parts, string(b))
	}
	want := []string{"Volume /var is 95% full.\r\n", "<p>Volume <b>/var</b> is 95% full.</p>", "host,used\nweb1,95\n"}
	if strings.Join(parts, "|") != strings.Join(want, "|") {
		t.Errorf("parts = %q, want %q", parts, want)
	}
}

func TestMessageCommandBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // substring of the one stderr line
	}{
		{"missing from", []string{"--to", "a@x.com"}, "--from: required"},
		{"two from", []string{"--from", "a@x.com, b@x.com", "--to", "a@x.com"}, "--from: want one address"},
		{"no recipients", []string{"--from", "a@x.com"}, "--to: at least one of --to, --cc or --bcc is required"},
		{"bad entry named", []string{"--from", "a@x.com", "--to", "ok@x.com; Doe, Jane <j@y.org>"}, `--to: bad address "Doe"`},
		{"bad cc", []string{"--from", "a@x.com", "--cc", "x@"}, `--cc: bad address "x@"`},
		{"owned header", []string{"--from", "a@x.com", "--to", "b@x.com", "--header", "Bcc: v@evil.example"}, `--header: "Bcc" is written by smtpcheck itself; use --bcc`},
		{"content header", []string{"--from", "a@x.com", "--to", "b@x.com", "--header", "Content-Type: text/html"}, `--header: "Content-Type" is written by smtpcheck itself`},
		{"header without colon", []string{"--from", "a@x.com", "--to", "b@x.com", "--header", "X-Tag"}, "--header: \"X-Tag\": want 'Name: value'"},
		{"header name with space", []string{"--from", "a@x.com", "--to", "b@x.com", "--header", "X Tag: v"}, "--header: field \"X Tag\": invalid field name"},
		{"subject injection", []string{"--from", "a@x.com", "--to", "b@x.com", "--subject", "hi\r\nBcc: v@evil.example"}, "--subject: CR or LF"},
		{"to injection", []string{"--from", "a@x.com", "--to", "b@x.com\r\nRCPT TO:<v@evil.example>"}, "--to: bad address"},
		{"header value injection", []string{"--from", "a@x.com", "--to", "b@x.com", "--header", "X-Tag: a\nBcc: v@evil.example"}, "--header: field \"X-Tag\": CR or LF"},
		{"bad priority", []string{"--from", "a@x.com", "--to", "b@x.com", "--priority", "asap"}, `--priority: unknown value: priority "asap"`},
		{"bad importance", []string{"--from", "a@x.com", "--to", "b@x.com", "--importance", "urgent"}, "--importance: unknown value"},
		{"bad sensitivity", []string{"--from", "a@x.com", "--to", "b@x.com", "--sensitivity", "secret"}, "--sensitivity: unknown value"},
		{"missing attachment", []string{"--from", "a@x.com", "--to", "b@x.com", "--attach", "/nonexistent/file.bin"}, "--attach: open /nonexistent/file.bin"},
		{"attach directory", []string{"--from", "a@x.com", "--to", "b@x.com", "--attach", "."}, "--attach: . is a directory"},
		{"body twice", []string{"--from", "a@x.com", "--to", "b@x.com", "--body", "x", "--body-file", "f"}, "--body-file: use either --body or --body-file"},
		{"negative max", []string{"--from", "a@x.com", "--to", "b@x.com", "--max-subject-length", "-1"}, "--max-subject-length: -1 is negative"},
		{"unknown flag", []string{"--form", "a@x.com"}, "flag provided but not defined: -form"},
		{"stray argument", []string{"--from", "a@x.com", "--to", "b@x.com", "extra"}, `unexpected argument "extra"`},
		{"bad read receipt", []string{"--from", "a@x.com", "--to", "b@x.com", "--read-receipt-to", "nope"}, `--read-receipt-to: bad address "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, "", append([]string{"message"}, tt.args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if stdout != "" {
				t.Errorf("wrote to stdout: %q", stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "smtpcheck message: ") {
				t.Errorf("stderr %q: want exactly one line", stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.want)
			}
		})
	}
}

func TestMessageCommandHelp(t *testing.T) {
	stdout, _, code := runCLI(t, "", "message", "--help")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"-from", "-to", "-cc", "-bcc", "-reply-to", "-organization", "-subject", "-body", "-body-file",
		"-html-file", "-attach", "-header", "-priority", "-importance", "-sensitivity", "-read-receipt-to",
		"-return-receipt-to", "-max-subject-length"} {
		if !strings.Contains(stdout, "  "+f+" ") {
			t.Errorf("--help does not list %s", f)
		}
	}
}

func TestMessageFlagsClose(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.bin")
	os.WriteFile(path, []byte("x"), 0o644)
	fs := newTestFlagSet()
	mf := addMessageFlags(fs)
	if err := fs.Parse([]string{"--from", "a@x.com", "--to", "b@x.com", "--attach", path}); err != nil {
		t.Fatal(err)
	}
	if _, err := mf.build(); err != nil {
		t.Fatal(err)
	}
	files := append([]*os.File(nil), mf.files...)
	if len(files) != 1 {
		t.Fatalf("%d open files", len(files))
	}
	if err := mf.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := files[0].Stat(); err == nil {
		t.Error("attachment still open after close")
	}
}

func newTestFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}
