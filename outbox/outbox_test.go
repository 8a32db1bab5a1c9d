package outbox

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestEnqueueDeliverRemoves(t *testing.T) {
	clk := newClock()
	d := &script{}
	o, ev := open(t, Config{Deliverer: d, Now: clk.Now, Sleep: clk.Sleep})
	e := enqueue(t, o, "1@example.com", message(1))
	if e.Envelope.Size != int64(len(message(1))) || e.State != StateQueued {
		t.Fatalf("entry = %+v", e)
	}
	l := mustList(t, o)
	if len(l) != 1 || l[0].ID != e.ID || l[0].Envelope.MessageID != "1@example.com" || l[0].State != StateQueued {
		t.Fatalf("list = %+v", l)
	}
	// A second Outbox on the same directory (a restart) sees it too.
	o2, _ := open(t, Config{Dir: o.Dir()})
	if l2 := mustList(t, o2); len(l2) != 1 || l2[0].ID != e.ID {
		t.Fatalf("after reopen: %+v", l2)
	}
	st, err := o.RunOnce(context.Background())
	if err != nil || st.Delivered != 1 {
		t.Fatalf("RunOnce = %+v, %v", st, err)
	}
	if len(d.got) != 1 || d.got[0] != message(1) {
		t.Fatalf("delivered %q", d.got)
	}
	if l := mustList(t, o); len(l) != 0 {
		t.Fatalf("still queued: %+v", l)
	}
	names, _ := os.ReadDir(o.Dir())
	for _, n := range names {
		if n.Name() != quarantine && n.Name() != lockName {
			t.Errorf("left in the spool: %s", n.Name())
		}
	}
	if got, want := ev.names(), []string{"outbox.queued", "outbox.attempt", "outbox.delivered"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	del := ev.find("outbox.delivered")[0]
	if del.attrs["queue_id"] != "Q1" || del.attrs["message_id"] != "1@example.com" || del.attrs["outbox.spool_id"] != e.ID || del.attrs["outbox.attempt"] != "1" {
		t.Fatalf("delivered event %v", del.attrs)
	}
}

func TestBackoffJitterAndExpiry(t *testing.T) {
	clk := newClock()
	d := &script{answers: []error{&smtpErr{451}, &smtpErr{421}, &smtpErr{451}, &smtpErr{451}, &smtpErr{451}}}
	jitter := 0.5
	o, ev := open(t, Config{Deliverer: d, Now: clk.Now, Sleep: clk.Sleep, Rand: func() float64 { return jitter },
		MinBackoff: time.Minute, MaxBackoff: 4 * time.Minute, MaxAge: 10 * time.Minute})
	e := enqueue(t, o, "b@example.com", "body\r\n")
	// Each delay is d/2 + jitter*d/2 with d = 1, 2, 4, 4 minutes.
	wantDelays := []time.Duration{45 * time.Second, 90 * time.Second, 3 * time.Minute, 3 * time.Minute}
	for i, want := range wantDelays {
		start := clk.Now()
		st, err := o.RunOnce(context.Background())
		if err != nil || st.Deferred != 1 {
			t.Fatalf("attempt %d: %+v %v", i+1, st, err)
		}
		l := mustList(t, o)
		if len(l) != 1 || l[0].State != StateDeferred || l[0].Attempts != i+1 {
			t.Fatalf("attempt %d: %+v", i+1, l)
		}
		if got := l[0].NextAttempt.Sub(start); got != want {
			t.Fatalf("attempt %d: next in %v, want %v", i+1, got, want)
		}
		if !strings.Contains(l[0].LastError, "refused") {
			t.Fatalf("last error %q", l[0].LastError)
		}
		// Not due yet: nothing happens.
		if st, _ := o.RunOnce(context.Background()); st != (Stats{}) {
			t.Fatalf("ran early: %+v", st)
		}
		clk.Advance(want)
	}
	// 45s+90s+3m+3m = 7m45s of its 10 minutes: the next delay (3m) would
	// pass the deadline, so it is cut to the deadline; that attempt fails
	// and it expires.
	st, _ := o.RunOnce(context.Background())
	if st.Deferred != 1 {
		t.Fatalf("%+v", st)
	}
	l := mustList(t, o)
	if want := e.Created.Add(10 * time.Minute); !l[0].NextAttempt.Equal(want) {
		t.Fatalf("last attempt at %v, want the deadline %v", l[0].NextAttempt, want)
	}
	clk.Advance(l[0].NextAttempt.Sub(clk.Now()))
	d.answers = []error{&smtpErr{451}}
	if st, _ := o.RunOnce(context.Background()); st.Dead != 1 {
		t.Fatalf("%+v", st)
	}
	l = mustList(t, o)
	if l[0].State != StateDead || l[0].Reason != "expired" || l[0].Attempts != 6 || !strings.Contains(l[0].LastError, "451") {
		t.Fatalf("%+v", l[0])
	}
	dead := ev.find("outbox.dead")
	if len(dead) != 1 || dead[0].attrs["outbox.reason"] != "expired" || dead[0].attrs["outbox.attempt"] != "6" {
		t.Fatalf("dead events %v", dead)
	}
	if n := len(ev.find("outbox.deferred")); n != 5 {
		t.Fatalf("%d deferred events", n)
	}
	// Retry revives it with a fresh age; a success delivers it.
	if err := o.Retry(context.Background(), e.ID); err != nil {
		t.Fatal(err)
	}
	if st, _ := o.RunOnce(context.Background()); st.Delivered != 1 {
		t.Fatalf("after retry: %+v", st)
	}
}

func TestPermanentFailureDeadLetters(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
	}{
		{"550", &smtpErr{550}},
		{"no-temporary-method", errPlain},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			d := &script{answers: []error{c.err}}
			o, ev := open(t, Config{Deliverer: d, Now: clk.Now})
			e := enqueue(t, o, "p@example.com", "x\r\n")
			if st, _ := o.RunOnce(context.Background()); st.Dead != 1 {
				t.Fatalf("%+v", st)
			}
			l := mustList(t, o)
			if l[0].State != StateDead || l[0].Reason != "permanent" || l[0].LastError != c.err.Error() {
				t.Fatalf("%+v", l[0])
			}
			// Dead entries stay put.
			clk.Advance(48 * time.Hour)
			if st, _ := o.RunOnce(context.Background()); st != (Stats{}) {
				t.Fatalf("dead entry retried: %+v", st)
			}
			if err := o.Purge(context.Background(), e.ID); err != nil {
				t.Fatal(err)
			}
			if l := mustList(t, o); len(l) != 0 {
				t.Fatalf("%+v", l)
			}
			if err := o.Purge(context.Background(), e.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("purge again: %v", err)
			}
			if err := o.Retry(context.Background(), "../../etc/passwd"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("bad id: %v", err)
			}
			if got := ev.names(); !slices.Equal(got, []string{"outbox.queued", "outbox.attempt", "outbox.dead", "outbox.purged"}) {
				t.Fatalf("events %v", got)
			}
		})
	}
}

func TestTemporary(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&smtpErr{421}, true},
		{&smtpErr{451}, true},
		{&smtpErr{550}, false},
		{refused, true}, // its own Temporary() says false; a network error is temporary
		{errors.Join(errors.New("x"), refused), true},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{errPlain, false},
		{nil, false},
		{io.ErrUnexpectedEOF, false},
		// A file-system error is not a network error, though a bare
		// syscall.Errno has the net.Error methods.
		{&os.PathError{Op: "open", Path: "x", Err: syscall.ENOENT}, false},
		{syscall.ENOSPC, false},
		{&net.DNSError{Err: "server misbehaving", Name: "relay.example", IsTemporary: true}, true},
		{&net.DNSError{Err: "no such host", Name: "relay.example", IsNotFound: true}, false},
	} {
		if got := Temporary(c.err); got != c.want {
			t.Errorf("Temporary(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestRateLimitPaces(t *testing.T) {
	clk := newClock()
	d := &script{clock: clk}
	o, _ := open(t, Config{Deliverer: d, Now: clk.Now, Sleep: clk.Sleep, RateLimit: 3, RatePeriod: time.Minute})
	for i := range 10 {
		enqueue(t, o, "", message(i))
	}
	st, err := o.RunOnce(context.Background())
	if err != nil || st.Delivered != 10 {
		t.Fatalf("%+v %v", st, err)
	}
	// No window of a minute holds more than 3 sends, and the worker waited
	// instead of sending: 10 sends at 3 a minute take 3 minutes.
	for i := 3; i < len(d.times); i++ {
		if d.times[i].Sub(d.times[i-3]) < time.Minute {
			t.Fatalf("sends %d and %d only %v apart", i-3, i, d.times[i].Sub(d.times[i-3]))
		}
	}
	if total := d.times[9].Sub(d.times[0]); total != 3*time.Minute {
		t.Fatalf("10 sends took %v of fake time, want 3m", total)
	}
	if len(clk.slept) == 0 {
		t.Fatal("never paced")
	}
}

func TestConcurrencyLimit(t *testing.T) {
	const limit = 3
	var cur, peak int
	mu := make(chan struct{}, 1)
	mu <- struct{}{}
	reached := make(chan struct{})
	reachedOnce := sync.OnceFunc(func() { close(reached) })
	release := make(chan struct{})
	dl := DelivererFunc(func(ctx context.Context, env Envelope, open Opener) (string, error) {
		<-mu
		cur++
		peak = max(peak, cur)
		if cur == limit {
			reachedOnce() // the limit may be reached again once released
		}
		mu <- struct{}{}
		<-release
		<-mu
		cur--
		mu <- struct{}{}
		return "", nil
	})
	o, _ := open(t, Config{Deliverer: dl, Concurrency: limit})
	for i := range 8 {
		enqueue(t, o, "", message(i))
	}
	done := make(chan Stats)
	go func() { st, _ := o.RunOnce(context.Background()); done <- st }()
	select {
	case <-reached:
	case <-time.After(10 * time.Second):
		t.Fatal("never reached the concurrency limit")
	}
	close(release)
	st := <-done
	if st.Delivered != 8 || peak != limit {
		t.Fatalf("delivered %d, peak %d (limit %d)", st.Delivered, peak, limit)
	}
}

func TestQuota(t *testing.T) {
	o, _ := open(t, Config{MaxMessages: 2})
	enqueue(t, o, "", "a\r\n")
	enqueue(t, o, "", "b\r\n")
	_, err := o.Enqueue(context.Background(), Envelope{To: []string{"x@example.org"}}, body("c\r\n"))
	var fe *FullError
	var oe *Error
	if !errors.Is(err, ErrFull) || !errors.As(err, &fe) || fe.Limit != "max_messages" || !errors.As(err, &oe) || oe.Op != "enqueue" {
		t.Fatalf("err = %v", err)
	}
	if len(mustList(t, o)) != 2 {
		t.Fatal("a refused message was stored")
	}

	ob, _ := open(t, Config{MaxBytes: 1000})
	enqueue(t, ob, "", strings.Repeat("a", 400))
	_, err = ob.Enqueue(context.Background(), Envelope{To: []string{"x@example.org"}}, body(strings.Repeat("b", 600)))
	if !errors.As(err, &fe) || fe.Limit != "max_bytes" {
		t.Fatalf("err = %v", err)
	}
	if l := mustList(t, ob); len(l) != 1 {
		t.Fatalf("%d entries", len(l))
	}
	noTemp(t, ob.Dir())
}

func noTemp(t *testing.T, dir string) {
	t.Helper()
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if strings.HasPrefix(de.Name(), tmpPrefix) {
			t.Errorf("temporary file left: %s", de.Name())
		}
	}
}

func TestEnqueueStorageFailureIsAnError(t *testing.T) {
	o, _ := open(t, Config{})
	// The spool directory disappears (an unmounted or failed disk).
	if err := os.RemoveAll(o.Dir()); err != nil {
		t.Fatal(err)
	}
	_, err := o.Enqueue(context.Background(), Envelope{To: []string{"x@example.org"}}, body("x"))
	var oe *Error
	if !errors.As(err, &oe) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "writable") {
		t.Fatalf("err = %v", err)
	}
	// A writer that fails: nothing is stored, no temporary file left.
	o2, _ := open(t, Config{})
	boom := errors.New("boom")
	if _, err := o2.Enqueue(context.Background(), Envelope{To: []string{"x@example.org"}}, func(io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if len(mustList(t, o2)) != 0 {
		t.Fatal("stored")
	}
	noTemp(t, o2.Dir())
	// A read-only spool (Windows ignores a directory's mode bits: its
	// ACL would have to deny the write).
	if os.Geteuid() != 0 && runtime.GOOS != "windows" {
		dir := t.TempDir()
		o3, _ := open(t, Config{Dir: dir})
		os.Chmod(dir, 0o500)
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		if _, err := o3.Enqueue(context.Background(), Envelope{To: []string{"x@example.org"}}, body("x")); !errors.Is(err, os.ErrPermission) {
			t.Fatalf("read-only spool: %v", err)
		}
	}
	if _, err := o2.Enqueue(context.Background(), Envelope{To: []string{"x@example.org\r\nRCPT TO:<evil@example.com>"}}, body("x")); err == nil {
		t.Fatal("CR LF in a recipient accepted")
	}
}

func TestCorruptEntriesQuarantined(t *testing.T) {
	dir := t.TempDir()
	o, _ := open(t, Config{Dir: dir})
	good := enqueue(t, o, "good@example.com", message(1))
	flipped := enqueue(t, o, "flip@example.com", message(2))
	torn := enqueue(t, o, "torn@example.com", message(3))
	garbage := "0123456789abcdef01234567"
	os.WriteFile(filepath.Join(dir, garbage+msgExt), []byte("not a spool file"), 0o600)
	stateBad := enqueue(t, o, "state@example.com", message(4))

	b, _ := os.ReadFile(filepath.Join(dir, flipped.ID+msgExt))
	b[len(b)-3] ^= 0x20
	os.WriteFile(filepath.Join(dir, flipped.ID+msgExt), b, 0o600)
	b, _ = os.ReadFile(filepath.Join(dir, torn.ID+msgExt))
	os.WriteFile(filepath.Join(dir, torn.ID+msgExt), b[:len(b)/2], 0o600)
	os.WriteFile(filepath.Join(dir, stateBad.ID+stateExt), []byte(`{"attempts":3}`+"\nbad\n"), 0o600)

	d := &script{}
	o2, ev := open(t, Config{Dir: dir, Deliverer: d})
	q := ev.find("outbox.quarantined")
	if len(q) != 4 {
		t.Fatalf("%d quarantined events: %v", len(q), q)
	}
	got, err := o2.Quarantined()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{flipped.ID + msgExt, torn.ID + msgExt, garbage + msgExt, stateBad.ID + stateExt} {
		if !slices.Contains(got, want) {
			t.Errorf("quarantine holds %v, not %s", got, want)
		}
	}
	st, err := o2.RunOnce(context.Background())
	if err != nil || st.Delivered != 2 {
		t.Fatalf("%+v %v", st, err)
	}
	slices.Sort(d.ids)
	if !slices.Equal(d.ids, []string{good.Envelope.MessageID, stateBad.Envelope.MessageID}) {
		t.Fatalf("delivered %v", d.ids)
	}
}

func TestChangedOnDiskAfterOpenIsNotSent(t *testing.T) {
	dir := t.TempDir()
	d := &script{}
	o, ev := open(t, Config{Dir: dir, Deliverer: d})
	e := enqueue(t, o, "c@example.com", message(7))
	mustList(t, o) // verified and cached: the change comes after
	path := filepath.Join(dir, e.ID+msgExt)
	b, _ := os.ReadFile(path)
	b[len(b)-4] ^= 1
	os.WriteFile(path, b, 0o600)
	st, err := o.RunOnce(context.Background())
	if err != nil || st.Quarantined != 1 || len(d.got) != 0 {
		t.Fatalf("%+v %v, delivered %d", st, err, len(d.got))
	}
	if q := ev.find("outbox.quarantined"); len(q) != 1 || !strings.Contains(q[0].attrs["outbox.reason"], "changed on disk") {
		t.Fatalf("%v", q)
	}
}

func TestRunDeliversAndStops(t *testing.T) {
	d := &script{answers: []error{&smtpErr{421}}}
	o, ev := open(t, Config{Deliverer: d, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, PollInterval: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- o.Run(ctx) }()
	for i := range 5 {
		enqueue(t, o, "", message(i))
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(mustList(t, o)) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	if len(d.got) != 5 || len(ev.find("outbox.deferred")) != 1 {
		t.Fatalf("delivered %d, deferred %d: %v", len(d.got), len(ev.find("outbox.deferred")), ev.find("outbox.deferred"))
	}
	if _, err := Open(Config{}); err == nil {
		t.Fatal("Open without a directory")
	}
	if _, err := o.RunOnce(context.Background()); !errors.Is(err, context.Canceled) && err != nil {
		t.Fatal(err)
	}
	o.Close()
	if _, err := o.Enqueue(context.Background(), Envelope{To: []string{"x@example.org"}}, body("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// TestRunSurvivesLostSpool: the spool directory disappears under a running
// worker (a failed mount): it reports once, keeps going, and delivers once
// the directory is back. No crash loop.
func TestRunSurvivesLostSpool(t *testing.T) {
	d := &script{}
	o, ev := open(t, Config{Deliverer: d, PollInterval: 2 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- o.Run(ctx) }()
	// Once the worker holds its lock (it creates worker.lock; a removal
	// racing with that would leave the directory in place).
	waitFor(t, func() bool { b, _ := os.ReadFile(filepath.Join(o.Dir(), lockName)); return len(b) > 0 })
	os.RemoveAll(o.Dir())
	waitFor(t, func() bool { return len(ev.find("outbox.error")) > 0 })
	time.Sleep(20 * time.Millisecond) // several more polls fail the same way
	if err := os.MkdirAll(o.Dir(), 0o700); err != nil {
		t.Fatal(err)
	}
	enqueue(t, o, "back@example.com", "x\r\n")
	waitFor(t, func() bool { return len(ev.find("outbox.delivered")) == 1 })
	cancel()
	<-done
	if n := len(ev.find("outbox.error")); n != 1 {
		t.Fatalf("%d outbox.error records for one lasting failure: %v", n, ev.find("outbox.error"))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
