package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden/audit"
	"mailwarden/internal/faulttest"
)

// enqueueN queues n messages in spool with 'outbox enqueue' (in this
// process) and returns how many were acknowledged (exit 0).
func enqueueN(t *testing.T, spool, addr string, n int) int {
	t.Helper()
	acked := 0
	for i := 0; i < n; i++ {
		_, stderr, code := runWith(t, nil, "", "outbox", "enqueue", "--spool", spool, "--server", addr, "--tls", "none",
			"--from", "alerts@example.com", "--to", "ops@example.org", "--subject", fmt.Sprintf("alert %d", i), "--body", "disk full")
		if code != exitOK {
			t.Fatalf("enqueue %d: exit %d: %s", i, code, stderr)
		}
		acked++
	}
	return acked
}

func spoolEmpty(t *testing.T, spool string) bool {
	out, _, code := runWith(t, nil, "", "outbox", "list", "--spool", spool)
	return code == exitOK && strings.Contains(out, "\n0 entries")
}

// requireExactlyOnce waits until the n queued messages have arrived and
// spool is empty, stops the worker cmd, and fails unless each of the acked
// messages arrived exactly once. during (how many had arrived when the
// fault ended) is logged with fault, what was wrong meanwhile.
func (r *faultRelay) requireExactlyOnce(t *testing.T, cmd *exec.Cmd, out *syncBuffer, spool string, n, acked, during int, fault string) {
	t.Helper()
	waitUntil(t, 30*time.Second, "every message delivered and the spool empty", func() bool {
		_, unique, _ := r.counts()
		return unique == n && spoolEmpty(t, spool)
	})
	stopProc(t, cmd)
	total, unique, dups := r.counts()
	t.Logf("acknowledged %d, delivered %d (%d distinct; %d %s), lost %d, duplicated %d %v",
		acked, total, unique, during, fault, acked-unique, len(dups), dups)
	if len(dups) != 0 || unique != acked {
		t.Fatalf("duplicates %v, %d of %d delivered\n%s", dups, unique, acked, out)
	}
}

// TestOutboxRunRecoversAfterAuditDiskFull: the audit file's disk (a real
// tmpfs) fills up under a real 'outbox run' process. Sends are refused
// before they start (fail-closed) while it is full; once space is freed
// the worker goes on by itself, without a restart, and delivers the rest.
// Every acknowledged message arrives exactly once, and the trail verifies,
// with the break reported as a recorded gap (no empty file left behind).
func TestOutboxRunRecoversAfterAuditDiskFull(t *testing.T) {
	auditDir := faulttest.Tmpfs(t, "512k")
	spool := filepath.Join(t.TempDir(), "spool")
	auditFile := filepath.Join(auditDir, "audit.log")
	relay := startFaultRelay(t)
	const n = 10
	acked := enqueueN(t, spool, relay.addr, n)

	var once sync.Once
	var filler string
	filled := make(chan struct{})
	relay.set(nil, func(_ int, mid string) error {
		if _, seen, _ := relay.counts(); seen == 3 {
			once.Do(func() { filler = faulttest.Fill(t, auditDir); close(filled) })
		}
		return nil
	})
	cmd, out := smtpcheckProc(t, "outbox", "run", "--spool", spool, "--server", relay.addr, "--tls", "none", "--timeout", "5s",
		"--audit-file", auditFile, "--min-backoff", "200ms", "--max-backoff", "400ms")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-filled:
	case <-time.After(20 * time.Second):
		t.Fatalf("the disk was never filled:\n%s", out)
	}
	waitUntil(t, 20*time.Second, "sends refused on the full disk", func() bool {
		return strings.Contains(out.String(), "no space left on device")
	})
	time.Sleep(time.Second) // the worker keeps trying against a full disk
	_, during, _ := relay.counts()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	relay.requireExactlyOnce(t, cmd, out, spool, n, acked, during, "before the disk was freed")
	files, _ := filepath.Glob(filepath.Join(auditDir, "audit*.log"))
	for _, f := range files {
		if st, _ := os.Stat(f); st.Size() == 0 {
			t.Errorf("empty audit file left behind: %s", f)
		}
	}
	rep, err := audit.Verify(nil, files...)
	if err != nil || len(rep.Gaps) == 0 || !rep.Sealed {
		t.Fatalf("audit verify: %+v, %v", rep, err)
	}
}

// TestOutboxRunLeavesAStuckSession: a relay that answers 451 to every
// transaction on the connections it accepted while sick. A real 'outbox
// run' must open a new connection after a temporary failure, so that once
// the relay recovers (new connections are served), every message goes out
// without restarting the worker.
func TestOutboxRunLeavesAStuckSession(t *testing.T) {
	spool := filepath.Join(t.TempDir(), "spool")
	relay := startFaultRelay(t)
	const n = 30
	acked := enqueueN(t, spool, relay.addr, n)
	var mu sync.Mutex
	sickUpTo := 1 << 30 // every connection is sick until the relay recovers
	relay.set(func(conn int) error {
		mu.Lock()
		defer mu.Unlock()
		if conn <= sickUpTo {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "stuck"}
		}
		return nil
	}, nil)
	cmd, out := smtpcheckProc(t, "outbox", "run", "--spool", spool, "--server", relay.addr, "--tls", "none", "--timeout", "5s",
		"--min-backoff", "50ms", "--max-backoff", "200ms")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "the worker to meet the 451s", func() bool {
		relay.mu.Lock()
		defer relay.mu.Unlock()
		return relay.tx >= 5
	})
	relay.mu.Lock()
	mu.Lock()
	sickUpTo = relay.conns // the relay recovers: connections from now on are served
	mu.Unlock()
	relay.mu.Unlock()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, unique, _ := relay.counts(); unique == n {
			break
		}
	}
	stopProc(t, cmd)
	total, unique, dups := relay.counts()
	relay.mu.Lock()
	conns, tx := relay.conns, relay.tx
	relay.mu.Unlock()
	t.Logf("acknowledged %d, delivered %d (%d distinct), not delivered %d, duplicated %d; %d transactions over %d connections", acked, total, unique, acked-unique, len(dups), tx, conns)
	if len(dups) != 0 || unique != acked {
		t.Fatalf("duplicates %v\n%s", dups, out)
	}
}

// TestTwoWorkersOnOneSpool: a second real 'outbox run' on a spool a first
// one is delivering is refused at once with a clear message (exit 1),
// while enqueuers (real processes too) keep working beside the worker.
// Every acknowledged message arrives once.
func TestTwoWorkersOnOneSpool(t *testing.T) {
	spool := filepath.Join(t.TempDir(), "spool")
	relay := startFaultRelay(t)
	relay.set(nil, func(int, string) error { time.Sleep(5 * time.Millisecond); return nil })
	acked := enqueueN(t, spool, relay.addr, 20)
	worker := []string{"outbox", "run", "--spool", spool, "--server", relay.addr, "--tls", "none", "--timeout", "5s", "--concurrency", "2"}
	first, out1 := smtpcheckProc(t, worker...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "the first worker to take the spool", func() bool {
		b, _ := os.ReadFile(filepath.Join(spool, "worker.lock"))
		return strings.Contains(string(b), fmt.Sprintf("pid %d ", first.Process.Pid))
	})
	second, out2 := smtpcheckProc(t, worker...)
	start := time.Now()
	err := second.Run()
	var ee interface{ ExitCode() int }
	if !errors.As(err, &ee) || ee.ExitCode() != exitCheck || !strings.Contains(out2.String(), "another worker is delivering this spool") ||
		!strings.Contains(out2.String(), fmt.Sprintf("pid %d", first.Process.Pid)) {
		t.Fatalf("second worker: %v after %v:\n%s", err, time.Since(start), out2)
	}
	t.Logf("second worker refused in %v: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(out2.String()))
	// Enqueuers beside the worker: real processes, four at a time.
	var wg sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, 4)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd, out := smtpcheckProc(t, "outbox", "enqueue", "--spool", spool, "--server", relay.addr, "--tls", "none",
				"--from", "alerts@example.com", "--to", "ops@example.org", "--subject", fmt.Sprintf("beside %d", i), "--body", "x")
			if err := cmd.Run(); err != nil {
				t.Errorf("enqueue beside the worker: %v\n%s", err, out)
				return
			}
			mu.Lock()
			acked++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	waitUntil(t, 30*time.Second, "every message delivered", func() bool {
		_, unique, _ := relay.counts()
		return unique == acked
	})
	stopProc(t, first)
	total, unique, dups := relay.counts()
	t.Logf("acknowledged %d, delivered %d (%d distinct), lost %d, duplicated %d", acked, total, unique, acked-unique, len(dups))
	if len(dups) != 0 {
		t.Fatalf("duplicates %v\n%s", dups, out1)
	}
}

// TestStartupAuditFailureExits1: a trail that cannot be opened when the
// command starts (its directory is missing; a syslog collector refuses)
// is an audit failure, exit 1 as documented, and nothing is sent; a
// malformed audit setting stays a usage error (exit 2).
func TestStartupAuditFailureExits1(t *testing.T) {
	relay := startFaultRelay(t)
	missing := filepath.Join(t.TempDir(), "no-such-dir", "audit.log")
	send := []string{"send", "--server", relay.addr, "--tls", "none", "--from", "a@example.com", "--to", "b@example.org", "--subject", "s", "--body", "b"}
	spool := filepath.Join(t.TempDir(), "spool")
	for _, c := range []struct {
		name string
		args []string
		want int
	}{
		{"send, audit dir missing", append(send, "--audit-file", missing), exitCheck},
		{"send, syslog refused", append(send, "--syslog", "tcp://"+closedPort(t)), exitCheck},
		{"outbox run, audit dir missing", []string{"outbox", "run", "--once", "--spool", spool, "--server", relay.addr, "--tls", "none", "--audit-file", missing}, exitCheck},
		{"outbox purge, audit dir missing", []string{"outbox", "purge", "0123456789abcdef01234567", "--spool", spool, "--audit-file", missing}, exitCheck},
		{"send, bad syslog URL", append(send, "--syslog", "ftp://x"), exitUsage},
	} {
		cmd, out := smtpcheckProc(t, c.args...)
		err := cmd.Run()
		code := 0
		var ee interface{ ExitCode() int }
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if code != c.want {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, code, c.want, out)
		}
	}
	if total, _, _ := relay.counts(); total != 0 {
		t.Errorf("%d messages sent although the trail could not be opened", total)
	}
}

// closedPort returns a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
