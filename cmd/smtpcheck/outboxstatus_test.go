//go:build unix

package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden"
	"mailwarden/internal/smtptest"
)

// deferringRelay accepts mail except for recipients at defer.example.org,
// which get a 451 (the entry is deferred).
func deferringRelay(t *testing.T) *smtptest.Server {
	return smtptest.Start(t, smtptest.Options{Rcpt: func(to string, _ *smtp.RcptOptions) error {
		if strings.HasSuffix(to, "@defer.example.org") {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	}})
}

// enqueueTo queues one message to rcpt.
func enqueueTo(t *testing.T, spool, addr, rcpt string) {
	t.Helper()
	_, stderr, code := runWith(t, nil, "", "outbox", "enqueue", "--spool", spool, "--server", addr, "--tls", "none",
		"--from", "alerts@example.com", "--to", rcpt, "--subject", "disk", "--body", "full")
	if code != exitOK {
		t.Fatalf("enqueue: exit %d: %s", code, stderr)
	}
}

// TestOutboxRunSnapshotOnSIGUSR1 runs a real 'outbox run' (standard error
// not a terminal): one line per state change on standard output, no status
// line; SIGUSR1 prints the full snapshot to standard error with what this
// run delivered and what is deferred; then 'outbox status' reads the same
// from the spool, as text and as JSON.
func TestOutboxRunSnapshotOnSIGUSR1(t *testing.T) {
	srv := deferringRelay(t)
	spool := filepath.Join(t.TempDir(), "spool")
	enqueueTo(t, spool, srv.Addr, "ops@example.org")
	enqueueTo(t, spool, srv.Addr, "ops@defer.example.org")
	cmd, _ := smtpcheckProc(t, "outbox", "run", "--spool", spool, "--server", srv.Addr, "--tls", "none", "--timeout", "5s",
		"--min-backoff", "1h", "--max-backoff", "2h")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stopProc(t, cmd)
	waitUntil(t, 20*time.Second, "one delivery and one deferral", func() bool {
		return strings.Contains(stdout.String(), "outbox.delivered") && strings.Contains(stdout.String(), "outbox.deferred")
	})
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the snapshot on SIGUSR1", func() bool { return strings.Contains(stderr.String(), "next attempt") })
	snap := stderr.String()
	for _, want := range []string{"outbox " + spool + " at ", "  queued        0\n", "  in flight     0\n", "  deferred      1\n", "  dead          0\n",
		"  delivered     1 this run\n", "  oldest        ", " deferred  attempts 1 "} {
		if !strings.Contains(snap, want) {
			t.Errorf("snapshot lacks %q:\n%s", want, snap)
		}
	}
	// The backoff is an hour, with jitter.
	nextInMinutes := regexp.MustCompile(`next attempt  in ([0-9]+h)?[0-9]+m \(`) // jitter: 30m to 1h0m
	if !nextInMinutes.MatchString(snap) {
		t.Errorf("snapshot's next attempt:\n%s", snap)
	}
	if strings.Contains(snap, "\r") || strings.Contains(stdout.String(), "\r") {
		t.Errorf("a status line redraw without a terminal:\n%q\n%q", stdout.String(), snap)
	}
	// One line per state change: queued entries are attempted, then
	// delivered or deferred.
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	count := map[string]int{}
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 1 {
			count[f[1]]++
		}
	}
	if count["outbox.attempt"] != 2 || count["outbox.delivered"] != 1 || count["outbox.deferred"] != 1 {
		t.Errorf("state-change lines %v:\n%s", count, stdout.String())
	}
	if cmd.ProcessState != nil {
		t.Fatalf("outbox run ended on SIGUSR1: %v", cmd.ProcessState)
	}

	out, errs, code := runWith(t, nil, "", "outbox", "status", "--spool", spool)
	if code != exitOK || !strings.Contains(out, "  deferred      1\n") || !strings.Contains(out, "  queued        0\n") ||
		strings.Contains(out, "in flight") || !nextInMinutes.MatchString(out) {
		t.Errorf("outbox status: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = runWith(t, nil, "", "outbox", "status", "--spool", spool, "--json")
	var j snapshotJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil || code != exitOK {
		t.Fatalf("outbox status --json: exit %d, %v\n%s%s", code, err, out, errs)
	}
	if j.Deferred != 1 || j.Queued != 0 || j.Dead != 0 || j.InFlight != nil || len(j.Entries) != 1 || j.Entries[0].State != "deferred" ||
		j.NextAttempt == "" || j.OldestID != j.Entries[0].ID {
		t.Errorf("outbox status --json: %+v", j)
	}
}

// TestOutboxRunStatusLineOnTerminal: on a terminal 'outbox run' keeps a
// status line on standard error, redrawn in place as entries change state
// (every second at most); it is stopped with SIGINT after 2.5 seconds.
func TestOutboxRunStatusLineOnTerminal(t *testing.T) {
	srv := deferringRelay(t)
	spool := filepath.Join(t.TempDir(), "spool")
	enqueueTo(t, spool, srv.Addr, "ops@example.org")
	enqueueTo(t, spool, srv.Addr, "ops@defer.example.org")
	tty, stdout, code := onTerminalWith(t, "timeout -s INT 2.5", "outbox", "run", "--spool", spool, "--server", srv.Addr, "--tls", "none", "--timeout", "5s",
		"--min-backoff", "1h", "--max-backoff", "2h")
	if code != 124 { // timeout's code: the run was still going, then stopped
		t.Errorf("exit %d, want 124 from timeout", code)
	}
	// First the two entries, queued or one already in flight; in the end
	// one delivered, one deferred for an hour (with jitter).
	first := regexp.MustCompile(`\rqueued [12]  in flight [01]  deferred 0  dead 0  delivered 0  oldest [0-9]+s  next now`)
	last := regexp.MustCompile(`\rqueued 0  in flight 0  deferred 1  dead 0  delivered 1  oldest [0-9]+s  next in ([0-9]+h)?[0-9]+m\r`) // jitter: 30m to 1h0m
	if !first.MatchString(tty) || !last.MatchString(tty) {
		t.Errorf("terminal: %q", tty)
	}
	if strings.Contains(stdout, "\r") || !strings.Contains(stdout, "outbox.delivered") {
		t.Errorf("stdout: %q", stdout)
	}
}

// TestOutboxReadOnlyCommandsRefuseMissingSpool: list, status, retry and
// purge with a mistyped --spool exit 2 saying there is no spool there, and
// create nothing (before, the directory was created and shown as an empty
// queue with exit 0).
func TestOutboxReadOnlyCommandsRefuseMissingSpool(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "spoool")
	for _, args := range [][]string{
		{"outbox", "list", "--spool", missing},
		{"outbox", "status", "--spool", missing},
		{"outbox", "status", "--json", "--spool", missing},
		{"outbox", "retry", "--spool", missing, "0123"},
		{"outbox", "purge", "--spool", missing, "0123"},
	} {
		out, stderr, code := runCLI(t, "", args...)
		if code != exitUsage || !strings.Contains(stderr, "no outbox spool at "+missing+": the directory does not exist") || !strings.Contains(stderr, "check the spool path") {
			t.Errorf("%v: exit %d, want %d and the no-spool error\nstdout: %s\nstderr: %s", args, code, exitUsage, out, stderr)
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v created %s", args, missing)
		}
	}
}

// printCheck is the next handler of a statusHandler: for each record it
// notes how many attempts the run status counts in flight as the record
// is printed.
type printCheck struct {
	rs       *runStatus
	inFlight map[string]int
}

func (p *printCheck) Enabled(context.Context, slog.Level) bool { return true }
func (p *printCheck) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *printCheck) WithGroup(string) slog.Handler            { return p }
func (p *printCheck) Handle(_ context.Context, r slog.Record) error {
	p.rs.mu.Lock()
	p.inFlight[r.Message] = len(p.rs.inFlight)
	p.rs.mu.Unlock()
	return nil
}

// TestStatusCountsBeforePrinting: a state change is counted before its line
// is printed, so a snapshot taken as soon as the line shows (SIGUSR1, the
// status line) already has it.
func TestStatusCountsBeforePrinting(t *testing.T) {
	rs := newRunStatus(&display{}, "spool")
	p := &printCheck{rs: rs, inFlight: map[string]int{}}
	log := slog.New(statusHandler{rs, p})
	for _, outcome := range []string{"outbox.delivered", "outbox.deferred", "outbox.dead"} {
		id := slog.Group("outbox", slog.String("spool_id", outcome))
		log.Info("outbox.attempt", id)
		log.Info(outcome, id)
		if p.inFlight["outbox.attempt"] != 1 || p.inFlight[outcome] != 0 {
			t.Errorf("in flight when printed: attempt %d, %s %d; want 1 and 0", p.inFlight["outbox.attempt"], outcome, p.inFlight[outcome])
		}
	}
	if rs.delivered != 1 {
		t.Errorf("delivered this run: %d, want 1", rs.delivered)
	}
}

// TestStatusLineDrawnBeforeStartReturns: on a terminal the first status
// line, the spool as the run finds it, is drawn by start itself, before
// the worker begins (drawn by the watcher's goroutine, a fast first
// delivery could come first: CI saw "delivered 1" as the first line).
func TestStatusLineDrawnBeforeStartReturns(t *testing.T) {
	var screen syncBuffer
	rs := newRunStatus(&display{w: &screen, tty: true, width: 100, now: time.Now}, "spool")
	rs.list = func(context.Context) ([]mailwarden.OutboxEntry, error) {
		return []mailwarden.OutboxEntry{{State: "queued"}, {State: "queued"}}, nil
	}
	rs.quar = func() ([]string, error) { return nil, nil }
	stop := rs.start(context.Background(), io.Discard)
	drawn := screen.String()
	stop()
	if !strings.Contains(drawn, "queued 2  in flight 0") {
		t.Errorf("screen when start returned: %q", drawn)
	}
}
