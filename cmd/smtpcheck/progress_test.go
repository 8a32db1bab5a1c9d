package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
	"mailwarden/internal/smtptest"
)

// onTerminal runs smtpcheck with args with its standard error on a
// pseudo-terminal (util-linux script) and its standard output in a file.
// It returns what the terminal showed and what went to standard output.
func onTerminal(t *testing.T, args ...string) (tty, stdout string, code int) {
	t.Helper()
	return onTerminalWith(t, "", args...)
}

// onTerminalWith is onTerminal with a command prefix (e.g. "timeout 2").
func onTerminalWith(t *testing.T, prefix string, args ...string) (tty, stdout string, code int) {
	t.Helper()
	script := peers.Tool(t, "script", "util-linux, for a terminal")
	out := filepath.Join(t.TempDir(), "stdout")
	line := "exec " + prefix + " env " + faultMainEnv + "=1 " + shellQuote(os.Args[0])
	for _, a := range args {
		line += " " + shellQuote(a)
	}
	line += " >" + shellQuote(out)
	cmd := exec.Command(script, "-qfec", line, "/dev/null")
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	so, _ := os.ReadFile(out)
	return b.String(), string(so), code
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// bigMessage writes a message of about n bytes to a file.
func bigMessage(t *testing.T, n int) string {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nTo: b@example.com\r\nSubject: report\r\n\r\n")
	for b.Len() < n {
		b.WriteString(strings.Repeat("0123456789", 7) + "abcdef\r\n")
	}
	f := filepath.Join(t.TempDir(), "msg.eml")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSendProgressOnTerminal sends 12 MiB through a link of about 4 MiB/s
// (the kernel's send buffer, up to 4 MiB on Linux, takes in the first
// megabytes at once; the rest goes at the link's pace): on a terminal the status line is redrawn in place (\r) with
// the phases, bytes of total, rate and time left, and cleared at the end;
// standard output has the result and no progress.
func TestSendProgressOnTerminal(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Discard: true})
	proxy := smtptest.Throttle(t, srv.Addr, 4<<20)
	msg := bigMessage(t, 12<<20)
	tty, stdout, code := onTerminal(t, "send", "--server", proxy, "--tls", "none", "--from", "a@example.com", "--to", "b@example.com", "--data", msg)
	if code != 0 {
		t.Fatalf("exit %d\n%q\n%s", code, tty, stdout)
	}
	if n := strings.Count(tty, "\r"); n < 8 {
		t.Errorf("%d redraws on the terminal, want at least 8: %q", n, tty)
	}
	for _, want := range []string{"\rspooling 12.0 MiB", "\rconnecting", "\rtransferring 0 B of 12.0 MiB", "MiB/s", " left", "\rtransferring 12.0 MiB of 12.0 MiB", "\rdone 12.0 MiB"} {
		if !strings.Contains(tty, want) {
			t.Errorf("terminal output lacks %q: %q", want, tty)
		}
	}
	// The status line is cleared at the end: "done 12.0 MiB" overwritten
	// with as many spaces, before anything else is printed.
	if !strings.Contains(tty, "\rdone 12.0 MiB"+strings.Repeat(" ", 30)) || !strings.Contains(tty, "\r"+strings.Repeat(" ", len("done 12.0 MiB"))+"\r") {
		t.Errorf("status line not cleared at the end: %q", tty[max(0, len(tty)-200):])
	}
	if strings.Contains(stdout, "\r") || strings.Contains(stdout, "transferring") || !strings.Contains(stdout, "sent      ") {
		t.Errorf("standard output %q", stdout)
	}
}

// TestSendProgressQuietAndJSONOnTerminal: --quiet and --json show nothing
// on a terminal.
func TestSendProgressQuietAndJSONOnTerminal(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Discard: true})
	msg := bigMessage(t, 64<<10)
	for _, flag := range []string{"--quiet", "--json"} {
		tty, _, code := onTerminal(t, "send", flag, "--server", srv.Addr, "--tls", "none", "--from", "a@example.com", "--to", "b@example.com", "--data", msg)
		if code != 0 || strings.Contains(withoutWarnings(tty), "\r") || strings.Contains(tty, "transferring") {
			t.Errorf("%s: exit %d, terminal %q", flag, code, tty)
		}
	}
}

// TestSendProgressNotOnTerminal: with standard error not a terminal there
// is no progress; with --verbose one line per phase, never a \r.
func TestSendProgressNotOnTerminal(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Discard: true})
	msg := bigMessage(t, 256<<10)
	args := []string{"send", "--server", srv.Addr, "--tls", "none", "--from", "a@example.com", "--to", "b@example.com", "--data", msg}
	_, stderr, code := runWith(t, nil, "", args...)
	if code != 0 || withoutWarnings(stderr) != "" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	var out, errb syncBuffer
	cmd, _ := smtpcheckProc(t, append(args, "--verbose")...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v: %s", err, errb.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("smtpcheck send did not finish")
	}
	st, err := os.Stat(msg)
	if err != nil {
		t.Fatal(err)
	}
	size := bytesText(st.Size())
	want := "smtpcheck send: spooling " + size + "\nsmtpcheck send: connecting\nsmtpcheck send: transferring 0 B of " + size + "\nsmtpcheck send: done " + size + "\n"
	if got := withoutWarnings(errb.String()); got != want {
		t.Errorf("--verbose stderr %q, want %q", got, want)
	}
	if strings.Contains(out.String(), "smtpcheck send:") {
		t.Errorf("progress on standard output: %q", out.String())
	}
}

// withoutWarnings drops the WARNING lines (a send without TLS has one).
func withoutWarnings(s string) string {
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.Contains(l, "WARNING") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// TestEnqueueProgress: outbox enqueue shows building and spooling, on a
// terminal as a redrawn line, elsewhere with --verbose as lines.
func TestEnqueueProgress(t *testing.T) {
	spool := t.TempDir()
	args := []string{"outbox", "enqueue", "--spool", spool, "--server", "127.0.0.1:25", "--tls", "none", "--from", "a@example.com", "--to", "b@example.com", "--subject", "disk", "--body", "full"}
	_, stderr, code := runWith(t, nil, "", append(args, "--verbose")...)
	if code != 0 || !strings.HasPrefix(stderr, "smtpcheck outbox enqueue: building\nsmtpcheck outbox enqueue: spooling ") || strings.Contains(stderr, "\r") {
		t.Errorf("--verbose: exit %d, stderr %q", code, stderr)
	}
	tty, stdout, code := onTerminal(t, args...)
	if code != 0 || !strings.Contains(tty, "\rbuilding") || !strings.Contains(tty, "\rspooling ") || !strings.Contains(stdout, "queued ") {
		t.Errorf("terminal: exit %d, %q, stdout %q", code, tty, stdout)
	}
}
