package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailwarden/audit"
	"mailwarden/internal/faulttest"
)

func procExit(err error) int {
	var ee interface{ ExitCode() int }
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// firstSeqOf returns the seq of the first record of an audit file.
func firstSeqOf(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), ",")
	n, err := strconv.ParseUint(strings.TrimPrefix(line, `{"seq":`), 10, 64)
	if err != nil {
		t.Fatalf("%s: %q", path, line)
	}
	return n
}

// TestAuditAnchorDetectsDeletedNewestFiles: a trail written with rotation
// by one writer and then, with --audit-anchor, by real 'smtpcheck send'
// processes; the files of the last process are deleted. 'audit verify'
// without --anchor passes (every writer leaves a sealed end: the deletion
// cannot be seen), with --anchor it fails (exit 1) and says what is
// missing, for the anchor file, the literal SEQ:HASH and a collector log.
// A new writer refuses to start on the shortened trail (exit 1), and
// nothing is sent.
func TestAuditAnchorDetectsDeletedNewestFiles(t *testing.T) {
	dir := t.TempDir()
	auditFile := filepath.Join(dir, "audit.log")
	anchor := filepath.Join(t.TempDir(), "audit.anchor")
	relay := startFaultRelay(t)
	send := func(subject string) *strings.Builder {
		cmd, out := smtpcheckProc(t, "send", "--server", relay.addr, "--tls", "none", "--from", "a@example.com", "--to", "b@example.org",
			"--subject", subject, "--body", "b", "--audit-file", auditFile, "--audit-anchor", anchor)
		err := cmd.Run()
		var b strings.Builder
		b.WriteString(out.String())
		if code := procExit(err); code != 0 {
			b.WriteString("\nexit " + strconv.Itoa(code))
		}
		return &b
	}
	// The first writer rotates (small files) and keeps the anchor too.
	h, err := audit.New(context.Background(), audit.Config{File: &audit.FileConfig{Path: auditFile, MaxSize: 1500, AnchorFile: anchor}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 15; i++ {
		h.Record(context.Background(), slog.LevelInfo, "smtp.send", slog.Int("i", i))
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if out := send("one"); strings.Contains(out.String(), "exit ") {
		t.Fatalf("send: %s", out)
	}
	before, _ := filepath.Glob(filepath.Join(dir, "audit*.log"))
	rep, err := audit.Verify(nil, before...)
	if err != nil {
		t.Fatal(err)
	}
	kept := rep.LastSeq
	if out := send("two"); strings.Contains(out.String(), "exit ") {
		t.Fatalf("send: %s", out)
	}
	if out := send("three"); strings.Contains(out.String(), "exit ") {
		t.Fatalf("send: %s", out)
	}
	all, _ := filepath.Glob(filepath.Join(dir, "audit*.log"))
	full, err := audit.Verify(nil, all...)
	if err != nil {
		t.Fatal(err)
	}
	lit := strconv.FormatUint(full.LastSeq, 10) + ":" + full.LastHash
	// A collector's log: syslog records with the chain members.
	colLog := filepath.Join(t.TempDir(), "collector.log")
	os.WriteFile(colLog, []byte(`<86>1 2026-01-01T00:00:00Z h mailwarden 1 smtp.send - {"seq":9,"chain_seq":`+strconv.FormatUint(full.LastSeq, 10)+`,"chain_hash":"`+full.LastHash+`","msg":"smtp.send"}`+"\n"), 0o600)

	// Delete the newest files: those of the last two processes.
	var left []string
	for _, f := range all {
		if firstSeqOf(t, f) > kept {
			os.Remove(f)
		} else {
			left = append(left, f)
		}
	}
	if len(left) < 3 || len(left) == len(all) {
		t.Fatalf("kept %d of %d files", len(left), len(all))
	}
	out, stderr, code := runWith(t, nil, "", append([]string{"audit", "verify"}, left...)...)
	if code != exitOK {
		t.Fatalf("verify without anchor: exit %d (want 0: the deletion is invisible without it)\n%s%s", code, out, stderr)
	}
	t.Logf("without --anchor: %s", strings.TrimSpace(out))
	for _, a := range []string{anchor, lit, colLog} {
		out, stderr, code := runWith(t, nil, "", append([]string{"audit", "verify", "--anchor", a}, left...)...)
		if code != exitCheck || !strings.Contains(stderr, "before its anchor") ||
			!strings.Contains(stderr, "ends at record "+strconv.FormatUint(kept, 10)) {
			t.Fatalf("verify --anchor %s: exit %d (want 1)\n%s%s", a, code, out, stderr)
		}
		if a == anchor {
			t.Logf("with --anchor: exit %d: %s", code, strings.TrimSpace(stderr))
		}
	}
	// The whole trail matches its anchor; a bad anchor argument is exit 2.
	if out, stderr, code := runWith(t, nil, "", append([]string{"audit", "verify", "--anchor", lit}, all[:0]...)...); code != exitUsage {
		t.Errorf("verify with no files: exit %d %s%s", code, out, stderr)
	}
	if _, stderr, code := runWith(t, nil, "", append([]string{"audit", "verify", "--anchor", filepath.Join(dir, "missing")}, left...)...); code != exitUsage || !strings.Contains(stderr, "--anchor") {
		t.Errorf("verify with a missing anchor file: exit %d %s", code, stderr)
	}

	sent, _, _ := relay.counts()
	res := send("four")
	if !strings.Contains(res.String(), "exit 1") || !strings.Contains(res.String(), "refusing to continue the trail") {
		t.Fatalf("a writer on the shortened trail: %s", res)
	}
	if now, _, _ := relay.counts(); now != sent {
		t.Errorf("a message was sent by a writer that refused its trail")
	}
}

// TestRELPAnchorsInRealRsyslog: 'smtpcheck send' with a file and RELP to
// the test environment's rsyslog: the collector's file holds the records
// with chain_seq and chain_hash, and 'audit verify --anchor' takes that
// file as the anchor.
func TestRELPAnchorsInRealRsyslog(t *testing.T) {
	col := faulttest.StartRsyslog(t)
	relay := startFaultRelay(t)
	dir := t.TempDir()
	auditFile := filepath.Join(dir, "audit.log")
	cmd, out := smtpcheckProc(t, "send", "--server", relay.addr, "--tls", "none", "--from", "a@example.com", "--to", "b@example.org",
		"--subject", "s", "--body", "b", "--audit-file", auditFile, "--syslog", "relp://"+col.Addr+"?timeout=2s")
	if err := cmd.Run(); err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	waitUntil(t, 10*time.Second, "the records in rsyslog's file", func() bool { return col.Count(`"msg":"smtp.send"`) == 1 })
	if n := col.Count(`"chain_seq":`); n < 3 {
		t.Errorf("%d records with chain members in the collector's file", n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.log"))
	o, stderr, code := runWith(t, nil, "", append([]string{"audit", "verify", "--anchor", col.File}, files...)...)
	if code != exitOK || !strings.Contains(o, "matches the anchor") {
		t.Fatalf("verify against the collector's file: exit %d\n%s%s", code, o, stderr)
	}
	t.Logf("%s", strings.TrimSpace(o))
}

// TestSendRefusedWhenRELPCollectorStopped: the RELP collector (a real
// rsyslogd) is stopped with SIGSTOP: it accepts the TCP connection in the
// kernel but acknowledges nothing. 'smtpcheck send' must not send (its
// intent record is not acknowledged in time) and must exit non-zero; over
// plain TCP the same stopped collector would take the bytes and the send
// would go on.
func TestSendRefusedWhenRELPCollectorStopped(t *testing.T) {
	col := faulttest.StartRsyslog(t)
	relay := startFaultRelay(t)
	send := []string{"send", "--server", relay.addr, "--tls", "none", "--from", "a@example.com", "--to", "b@example.org",
		"--subject", "s", "--body", "b", "--syslog", "relp://" + col.Addr + "?timeout=1s"}
	// A session open, then the collector stops: the first record is not
	// acknowledged.
	col.Stop()
	cmd, out := smtpcheckProc(t, send...)
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if code := procExit(err); code == 0 {
		t.Fatalf("send with a stopped RELP collector exited 0:\n%s", out)
	}
	if total, _, _ := relay.counts(); total != 0 {
		t.Fatalf("%d message(s) sent although the collector acknowledged nothing", total)
	}
	t.Logf("stopped collector: exit %d after %v: %s", procExit(err), took.Round(time.Millisecond), strings.TrimSpace(out.String()))
	col.Resume()
	cmd, out = smtpcheckProc(t, send...)
	if err := cmd.Run(); err != nil {
		t.Fatalf("send after SIGCONT: %v\n%s", err, out)
	}
	if total, _, _ := relay.counts(); total != 1 {
		t.Fatalf("%d messages delivered after the collector resumed, want 1", total)
	}
}

// TestSyslogUDPRefusedFailClosed: --syslog udp:// cannot hold a
// fail-closed trail: refused (exit 2, nothing sent) unless
// --audit-fail-open.
func TestSyslogUDPRefusedFailClosed(t *testing.T) {
	relay := startFaultRelay(t)
	send := []string{"send", "--server", relay.addr, "--tls", "none", "--from", "a@example.com", "--to", "b@example.org",
		"--subject", "s", "--body", "b", "--syslog", "udp://127.0.0.1:9"}
	_, stderr, code := runWith(t, nil, "", send...)
	if code != exitUsage || !strings.Contains(stderr, "relp://") || !strings.Contains(stderr, "--audit-fail-open") {
		t.Fatalf("udp fail-closed: exit %d: %s", code, stderr)
	}
	if total, _, _ := relay.counts(); total != 0 {
		t.Fatal("sent with a refused trail")
	}
	if _, stderr, code := runWith(t, nil, "", append(send, "--audit-fail-open")...); code != exitOK {
		t.Fatalf("udp with --audit-fail-open: exit %d: %s", code, stderr)
	}
	if total, _, _ := relay.counts(); total != 1 {
		t.Fatal("not sent with --audit-fail-open")
	}
}

// TestOutboxRunRELPCollectorStoppedOrKilled: a real 'outbox run' with a
// file and a RELP collector (a real rsyslogd) that is stopped (SIGSTOP)
// then resumed, or killed (SIGKILL) then started again on the same port,
// while the relay is accepting the 4th message. Records that are not
// acknowledged refuse the sends after it (fail-closed) and the accepted
// message is not sent again (only its record is retried); once the
// collector is back every queued message goes out exactly once, every
// delivered message has its smtp.send record at the collector, and the
// trail verifies against the collector's file as anchor.
func TestOutboxRunRELPCollectorStoppedOrKilled(t *testing.T) {
	for _, fault := range []string{"stopped", "killed"} {
		t.Run(fault, func(t *testing.T) {
			col := faulttest.StartRsyslog(t)
			spool := filepath.Join(t.TempDir(), "spool")
			auditDir := t.TempDir()
			relay := startFaultRelay(t)
			const n = 12
			acked := enqueueN(t, spool, relay.addr, n)
			var once sync.Once
			hit := make(chan string, 1)
			relay.set(nil, func(_ int, mid string) error {
				if _, seen, _ := relay.counts(); seen == 3 {
					once.Do(func() {
						if fault == "stopped" {
							col.Stop()
						} else {
							col.Kill()
						}
						hit <- mid
					})
				}
				return nil
			})
			cmd, out := smtpcheckProc(t, "outbox", "run", "--spool", spool, "--server", relay.addr, "--tls", "none", "--timeout", "5s",
				"--audit-file", filepath.Join(auditDir, "audit.log"), "--syslog", "relp://"+col.Addr+"?timeout=1s",
				"--min-backoff", "200ms", "--max-backoff", "400ms")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var mid string
			select {
			case mid = <-hit:
			case <-time.After(30 * time.Second):
				t.Fatalf("the collector was never %s:\n%s", fault, out)
			}
			time.Sleep(8 * time.Second) // the worker goes on against the dead collector
			_, during, _ := relay.counts()
			if fault == "stopped" {
				col.Resume()
			} else {
				col.Restart(t)
			}
			relay.requireExactlyOnce(t, cmd, out, spool, n, acked, during, "while the collector was "+fault)
			if os.Getenv("MW_SHOW_WORKER") != "" {
				t.Logf("worker:\n%s", out)
			}
			if during > 4 {
				t.Errorf("%d messages delivered while the collector was %s: sends went on without acknowledged records", during, fault)
			}
			relay.mu.Lock()
			var mids []string
			for m := range relay.got {
				mids = append(mids, m)
			}
			relay.mu.Unlock()
			// Every delivered message has its outbox.delivered record (the
			// record the outbox retries) at the collector; smtp.send
			// records that were refused while it was down are in the
			// file only.
			count := func(m, msg string) int {
				k := 0
				for _, l := range col.Lines(m) {
					if strings.Contains(l, `"msg":"`+msg+`"`) {
						k++
					}
				}
				return k
			}
			missing, copies, sendMissing := 0, 0, 0
			waitFor(10*time.Second, func() bool {
				missing, copies, sendMissing = 0, 0, 0
				for _, m := range mids {
					k := count(m, "outbox.delivered")
					if k == 0 {
						missing++
					} else {
						copies += k - 1
					}
					if count(m, "smtp.send") == 0 {
						sendMissing++
					}
				}
				return missing == 0
			})
			if missing > 0 {
				b, _ := os.ReadFile(col.File)
				t.Fatalf("%d delivered messages without their outbox.delivered record at the collector\nworker:\n%s\ncollector:\n%s", missing, out, b)
			}
			files, _ := filepath.Glob(filepath.Join(auditDir, "audit*.log"))
			o, stderr, code := runWith(t, nil, "", append([]string{"audit", "verify", "--anchor", col.File}, files...)...)
			if code != exitOK {
				t.Errorf("trail against the collector's file: exit %d\n%s%s", code, o, stderr)
			}
			refused, pending := 0, 0
			for _, f := range files {
				b, _ := os.ReadFile(f)
				refused += strings.Count(string(b), `"msg":"outbox.deferred"`)
				pending += strings.Count(string(b), `"msg":"outbox.record_pending"`)
			}
			t.Logf("collector %s at message %s: %d delivered during the fault, %d sends refused (outbox.deferred) and %d records pending in the trail file; at the collector: outbox.delivered for %d of %d messages (%d extra copies), smtp.send for %d (the others refused while it was down: in the file only)",
				fault, mid, during, refused, pending, len(mids)-missing, len(mids), copies, len(mids)-sendMissing)
		})
	}
}

// waitFor polls cond until it holds or the time is up.
func waitFor(d time.Duration, cond func() bool) {
	for deadline := time.Now().Add(d); !cond() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
}
