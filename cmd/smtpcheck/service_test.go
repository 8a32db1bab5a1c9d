package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordLog is the service's Event Log in the tests of serviceLoop.
type recordLog struct {
	mu          sync.Mutex
	info, error []string
}

func (l *recordLog) Info(m string)  { l.mu.Lock(); l.info = append(l.info, m); l.mu.Unlock() }
func (l *recordLog) Error(m string) { l.mu.Lock(); l.error = append(l.error, m); l.mu.Unlock() }

// TestServiceLoopWorkerFails: a worker that exits with an error before it
// is ready (the spool cannot be created) makes the loop return its exit
// code and log an error carrying what the worker printed, without any stop
// request and without ever reporting running.
func TestServiceLoopWorkerFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	log := &recordLog{}
	stderr := &tailBuffer{max: 4096}
	work := func(ctx context.Context, ready func()) int {
		return runOutboxRun(ctx, &env{stdin: strings.NewReader(""), stdout: &tailBuffer{max: 4096}, stderr: stderr, getenv: func(string) string { return "" }, ready: ready},
			[]string{"--spool", filepath.Join(file, "spool"), "--server", "127.0.0.1:1", "--tls", "none"})
	}
	var states []svcState
	code := serviceLoop(context.Background(), "mwtest", make(chan svcControl), func(r svcReport) { states = append(states, r.state) }, log, work, stderr.String, time.Second)
	if code != exitCheck {
		t.Fatalf("serviceLoop returned %d, want %d; stderr: %s", code, exitCheck, stderr)
	}
	if len(log.error) != 1 || !strings.Contains(log.error[0], "service mwtest failed: outbox run exited with code 1") || !strings.Contains(log.error[0], "smtpcheck outbox run: ") {
		t.Errorf("error lines: %q", log.error)
	}
	if len(states) == 0 || slices.Contains(states, svcRunning) || slices.Contains(states, svcStopPending) {
		t.Errorf("reports %v, want start-pending only: the worker failed before it was ready", states)
	}
	if strings.Contains(strings.Join(log.info, "\n"), "started") {
		t.Errorf("a service that never started logged %q", log.info)
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	b.Write([]byte("0123456"))
	b.Write([]byte("789ab"))
	if got := b.String(); got != "456789ab" {
		t.Fatalf("tail %q, want %q", got, "456789ab")
	}
}

// TestServiceCommandsUsage: what an admin types wrong gets a clear line and
// exit 2 before anything is installed; the outbox-run flags are parsed as
// 'outbox run' parses them.
func TestServiceCommandsUsage(t *testing.T) {
	abs := filepath.Join(t.TempDir(), "spool")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"service"}, "usage: smtpcheck service <command>"},
		{[]string{"service", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"service", "install", "--nmae", "x", "--", "outbox", "run", "--spool", abs, "--server", "h:25"}, "flag provided but not defined: -nmae"},
		{[]string{"service", "install", "--", "outbox", "run", "--spool", abs, "--sever", "h:25"}, "the 'outbox run' flags are wrong: flag provided but not defined: -sever"},
		{[]string{"service", "install", "--spool", abs}, "the service's flags follow them after -- outbox run"},
		{[]string{"service", "install"}, "the service's command is missing: end with -- outbox run FLAGS"},
		{[]string{"service", "install", "--", "outbox", "send"}, "the service's command is missing"},
		{[]string{"service", "install", "--start", "boot", "--", "outbox", "run", "--spool", abs, "--server", "h:25"}, `--start "boot": auto or manual`},
		{[]string{"service", "install", "--name", `a\b`, "--", "outbox", "run", "--spool", abs, "--server", "h:25"}, "a service name has no / or \\"},
		{[]string{"service", "install", "--", "outbox", "run", "--spool", "spool", "--server", "h:25"}, `--spool "spool" is relative`},
		{[]string{"service", "install", "--", "outbox", "run", "--server", "h:25"}, "--spool or --store is required"},
		{[]string{"service", "install", "--", "outbox", "run", "--spool", abs, "--server", "h:25", "--once"}, "--once: a service runs until it is stopped"},
		{[]string{"service", "install", "--", "outbox", "run", "--spool", abs, "--server", "h:25", "--user", "u", "--password", "pw"}, "--password would be stored in the service's command line"},
		{[]string{"service", "install", "--", "outbox", "run", "--spool", abs, "--server", "h:25", "--tls", "sometimes"}, "the 'outbox run' flags are wrong: "},
		{[]string{"service", "install", "--", "outbox", "run", "--spool", abs, "--config", "mailwarden.json"}, `--config "mailwarden.json" is relative`},
		{[]string{"service", "status", "--name", ""}, "--name is empty"},
		{[]string{"service", "run", "--name", "x", "outbox", "list"}, "usage: smtpcheck service run --name NAME outbox run FLAGS"},
	} {
		_, stderr, code := runWith(t, nil, "", tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, exitUsage, tc.want)
		}
		if strings.Contains(stderr, "pw") && strings.Contains(strings.Join(tc.args, " "), "--password pw") {
			t.Errorf("%q: the password is echoed: %q", tc.args, stderr)
		}
	}
	out, _, code := runWith(t, nil, "", "service", "--help")
	if code != exitOK || !strings.Contains(out, "install [--name NAME]") || !strings.Contains(out, "docs/smtpcheck-outbox.service") {
		t.Errorf("service --help: exit %d\n%s", code, out)
	}
	out, _, code = runWith(t, nil, "", "--help")
	if code != exitOK || !strings.Contains(out, "  service ") {
		t.Errorf("--help does not list service: %s", out)
	}
}

// TestServiceInstallArgs: the stored command is 'service run --name NAME
// outbox run' with the flags as given, plus --eventlog NAME unless the
// flags or the profile name an Event Log source.
func TestServiceInstallArgs(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	e := &env{stdin: strings.NewReader(""), stdout: &tailBuffer{max: 1 << 16}, stderr: &tailBuffer{max: 1 << 16}, getenv: func(string) string { return "" }}
	o, code, done := parseServiceInstall(e, []string{"--name", "mw-out", "--start", "manual", "--", "outbox", "run", "--spool", spool, "--server", "relay.example.com:25"})
	if done {
		t.Fatalf("install parse: exit %d: %s", code, e.stderr)
	}
	want := []string{"service", "run", "--name", "mw-out", "outbox", "run", "--spool", spool, "--server", "relay.example.com:25", "--eventlog", "mw-out"}
	if strings.Join(o.args, "\x00") != strings.Join(want, "\x00") || o.autoStart || o.display != "Mailwarden outbox (mw-out)" {
		t.Errorf("install: %+v, want args %q", o, want)
	}
	o, _, done = parseServiceInstall(e, []string{"outbox", "run", "--spool", spool, "--server", "relay.example.com:25", "--eventlog", "Mailwarden"})
	if done || o.name != defaultServiceName || !o.autoStart || o.args[len(o.args)-1] != "Mailwarden" || strings.Count(strings.Join(o.args, " "), "--eventlog") != 1 {
		t.Errorf("with --eventlog given: %+v", o)
	}
	cfg := filepath.Join(dir, "mailwarden.json")
	if err := os.WriteFile(cfg, []byte(`{"profiles":[{"name":"relay","servers":["relay.example.com:25"],"audit":{"eventlog":"MailwardenAudit"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	o, code, done = parseServiceInstall(e, []string{"--", "outbox", "run", "--spool", spool, "--config", cfg, "--profile", "relay"})
	if done || strings.Contains(strings.Join(o.args, " "), "--eventlog") {
		t.Errorf("with the profile's audit.eventlog: exit %d %+v %s", code, o, e.stderr)
	}
	_, code, done = parseServiceInstall(e, []string{"--", "outbox", "run", "--spool", spool, "--config", cfg, "--profile", "nosuch"})
	if !done || code != exitUsage {
		t.Errorf("with an unknown profile: done %v exit %d", done, code)
	}
}

// TestServiceNotWindows: elsewhere every command says that services are a
// Windows feature and where the systemd unit is.
func TestServiceNotWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the service manager is there on Windows")
	}
	for _, args := range [][]string{
		{"service", "status"},
		{"service", "stop", "--name", "x"},
		{"service", "install", "--", "outbox", "run", "--spool", filepath.Join(t.TempDir(), "s"), "--server", "h:25"},
		{"service", "install", "--", "outbox", "run", "--spool", filepath.Join(t.TempDir(), "s")}, // wrong flags: also says so
		{"service", "install", "--strat", "auto"},
	} {
		_, stderr, code := runWith(t, nil, "", args...)
		if code != exitUsage || !strings.Contains(stderr, "services are a Windows feature") || !strings.Contains(stderr, "docs/smtpcheck-outbox.service") {
			t.Errorf("%q: exit %d %q", args, code, stderr)
		}
	}
}
