package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden/internal/smtptest"
)

// TestServiceLoopStopLeavesDeliveryIntact drives serviceLoop as the
// Windows service manager does, with the real 'outbox run' as its worker: a
// stop request arrives while the relay holds its reply to DATA; the loop
// reports stop-pending and cancels the worker as SIGTERM does on Unix: the
// attempt in progress is abandoned, not counted, and its entry stays
// intact in the spool; the loop returns exit 0, and the next run delivers
// the entry once.
func TestServiceLoopStopLeavesDeliveryIntact(t *testing.T) {
	inData, release := make(chan struct{}), make(chan struct{})
	var held sync.Once
	srv := smtptest.Start(t, smtptest.Options{Data: func([]byte) error {
		first := false
		held.Do(func() { first = true; close(inData) })
		if first {
			<-release // the client is gone by then: this reply goes nowhere
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "the client left"}
		}
		return nil
	}})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	defer letGo()
	spool := filepath.Join(t.TempDir(), "spool")
	conn := []string{"--server", srv.Addr, "--tls", "none"}
	if _, stderr, code := runWith(t, nil, "", append([]string{"outbox", "enqueue", "--spool", spool,
		"--from", "alerts@example.com", "--to", "ops@example.org", "--subject", "svc", "--body", "in flight at stop"}, conn...)...); code != exitOK {
		t.Fatalf("enqueue: exit %d %s", code, stderr)
	}

	ctl := make(chan svcControl)
	reports := make(chan svcReport, 1000)
	log := &recordLog{}
	stderr := &tailBuffer{max: 4096}
	work := func(ctx context.Context, ready func()) int {
		return runOutboxRun(ctx, &env{stdin: strings.NewReader(""), stdout: &tailBuffer{max: 4096}, stderr: stderr, getenv: func(string) string { return "" }, ready: ready},
			append([]string{"--spool", spool}, conn...))
	}
	done := make(chan int, 1)
	go func() {
		done <- serviceLoop(context.Background(), "mwtest", ctl, func(r svcReport) { reports <- r }, log, work, stderr.String, 20*time.Millisecond)
	}()
	untilRunning(t, reports)
	select {
	case <-inData:
	case <-time.After(30 * time.Second):
		t.Fatalf("the delivery never reached DATA; stderr: %s", stderr)
	}
	ctl <- ctlStop
	if r := <-reports; r.state != svcStopPending || r.checkpoint != 1 || r.waitHint <= 0 {
		t.Fatalf("after stop: %+v, want stop-pending, checkpoint 1, a wait hint", r)
	}
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("serviceLoop returned %d; stderr: %s", code, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serviceLoop did not return after the stop")
	}
	log.mu.Lock()
	info, errs := strings.Join(log.info, "\n"), log.error
	log.mu.Unlock()
	if !strings.Contains(info, "service mwtest started") || !strings.Contains(info, "stop requested") || !strings.Contains(info, "service mwtest stopped") || len(errs) > 0 {
		t.Errorf("lifecycle lines:\n%s\nerrors: %q", info, errs)
	}
	out, lerr, code := runWith(t, nil, "", "outbox", "list", "--spool", spool, "--json")
	var l listJSON
	if code != exitOK || json.Unmarshal([]byte(out), &l) != nil || len(l.Entries) != 1 || l.Entries[0].State != "queued" || l.Entries[0].Attempts != 0 {
		t.Fatalf("the interrupted entry is not intact: exit %d %s %s", code, out, lerr)
	}
	letGo()
	if _, rerr, code := runWith(t, nil, "", append([]string{"outbox", "run", "--spool", spool, "--once"}, conn...)...); code != exitOK {
		t.Fatalf("the next run: exit %d %s", code, rerr)
	}
	if n := srv.Count(); n != 1 {
		t.Errorf("the relay accepted %d messages, want 1", n)
	}
	out, _, _ = runWith(t, nil, "", "outbox", "list", "--spool", spool, "--json")
	if json.Unmarshal([]byte(out), &l) != nil || len(l.Entries) != 0 {
		t.Errorf("the spool after the next run: %s", out)
	}
}

// TestServiceLoopStopPending: while the worker is still finishing after a
// stop request, the loop tells the service manager so at every tick, each
// time with a new checkpoint, answers an interrogation with the same
// state, ignores a second stop, and returns only when the worker has.
func TestServiceLoopStopPending(t *testing.T) {
	finish := make(chan struct{})
	canceled := make(chan struct{})
	work := func(ctx context.Context, ready func()) int {
		ready()
		<-ctx.Done()
		close(canceled)
		<-finish // a delivery that takes its time to end
		return exitOK
	}
	ctl := make(chan svcControl)
	reports := make(chan svcReport, 1000)
	log := &recordLog{}
	done := make(chan int, 1)
	go func() {
		done <- serviceLoop(context.Background(), "mwtest", ctl, func(r svcReport) { reports <- r }, log, work, func() string { return "" }, 10*time.Millisecond)
	}()
	untilRunning(t, reports)
	ctl <- ctlInterrogate
	if r := <-reports; r.state != svcRunning {
		t.Fatalf("interrogate while running: %+v", r)
	}
	ctl <- ctlShutdown
	<-canceled
	prev := <-reports
	if prev.state != svcStopPending || prev.checkpoint != 1 {
		t.Fatalf("after shutdown: %+v", prev)
	}
	ctl <- ctlStop
	ctl <- ctlInterrogate
	for range 5 {
		r := <-reports
		if r.state != svcStopPending || r.checkpoint < prev.checkpoint || r.checkpoint > prev.checkpoint+1 {
			t.Fatalf("while stopping: %+v after %+v", r, prev)
		}
		prev = r
	}
	if prev.checkpoint < 4 {
		t.Fatalf("checkpoints did not advance: %+v", prev)
	}
	select {
	case code := <-done:
		t.Fatalf("serviceLoop returned %d before the worker", code)
	default:
	}
	close(finish)
	if code := <-done; code != exitOK {
		t.Fatalf("serviceLoop returned %d", code)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if n := strings.Count(strings.Join(log.info, "\n"), "requested"); n != 1 || !strings.Contains(log.info[1], "system shutdown requested") {
		t.Errorf("lifecycle lines: %q", log.info)
	}
}

// untilRunning reads the reports of a starting service: start-pending,
// each with a new checkpoint, until running.
func untilRunning(t *testing.T, reports <-chan svcReport) {
	t.Helper()
	var prev uint32
	for {
		select {
		case r := <-reports:
			switch {
			case r.state == svcRunning:
				return
			case r.state != svcStartPending || r.checkpoint != prev+1 || r.waitHint <= 0:
				t.Fatalf("while starting: %+v after checkpoint %d", r, prev)
			}
			prev = r.checkpoint
		case <-time.After(30 * time.Second):
			t.Fatal("the service did not report running")
		}
	}
}
