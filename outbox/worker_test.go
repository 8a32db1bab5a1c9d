package outbox

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestManyRecipientsNotQuarantined: an entry whose header line (the
// envelope) is longer than the reader's buffer is still a valid entry:
// it must be delivered, not quarantined as corrupt.
func TestManyRecipientsNotQuarantined(t *testing.T) {
	d := &script{}
	o, ev := open(t, Config{Deliverer: d})
	var to []string
	for i := range 4000 {
		to = append(to, fmt.Sprintf("recipient-%05d@example.org", i))
	}
	if _, err := o.Enqueue(context.Background(), Envelope{From: "a@example.com", To: to, MessageID: "many@example.com"}, body(message(1))); err != nil {
		t.Fatal(err)
	}
	st, err := o.RunOnce(context.Background())
	if err != nil || st.Delivered != 1 || st.Quarantined != 0 {
		t.Fatalf("%+v %v; quarantined events %v", st, err, ev.find("outbox.quarantined"))
	}
	if len(d.got) != 1 || d.got[0] != message(1) {
		t.Fatalf("delivered %d", len(d.got))
	}
	// An envelope too large to store is refused by Enqueue, not accepted
	// and quarantined later.
	huge := append([]string(nil), to...)
	for len(strings.Join(huge, ",")) <= maxHeader {
		huge = append(huge, huge...)
	}
	if _, err := o.Enqueue(context.Background(), Envelope{From: "a@example.com", To: huge}, body("x\r\n")); err == nil {
		t.Fatal("an envelope over the header limit was accepted")
	}
	if l := mustList(t, o); len(l) != 0 {
		t.Fatalf("%d entries left", len(l))
	}
	if q, _ := o.Quarantined(); len(q) != 0 {
		t.Fatalf("quarantined %v", q)
	}
}

// TestRateLimitCountsWhenSent: the rate limit holds for the times messages
// are actually handed to the relay. A send slot that is only free after a
// slow delivery must not be paced (and its send recorded) before it is
// free: the send would happen later than recorded, and the window would
// let more than RateLimit through.
func TestRateLimitCountsWhenSent(t *testing.T) {
	clk := newClock()
	var nows atomic.Int64
	now := func() time.Time { nows.Add(1); return clk.Now() }
	var mu sync.Mutex
	var starts []time.Time
	d := DelivererFunc(func(ctx context.Context, env Envelope, open Opener) (string, error) {
		mu.Lock()
		starts = append(starts, clk.Now())
		first := len(starts) == 1
		mu.Unlock()
		if first {
			// A slow first delivery (50s). Give the worker the chance
			// to look at the clock for the next message meanwhile, as it
			// would in real time.
			c0 := nows.Load()
			for deadline := time.Now().Add(500 * time.Millisecond); nows.Load() == c0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			clk.Advance(50 * time.Second)
		} else {
			clk.Advance(time.Second)
		}
		return "", nil
	})
	o, _ := open(t, Config{Deliverer: d, Now: now, Sleep: clk.Sleep, RateLimit: 3, RatePeriod: time.Minute})
	for i := range 6 {
		enqueue(t, o, "", message(i))
	}
	st, err := o.RunOnce(context.Background())
	if err != nil || st.Delivered != 6 {
		t.Fatalf("%+v %v", st, err)
	}
	for i := 3; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-3]); gap < time.Minute {
			t.Fatalf("4 sends within %v (limit 3 a minute): %v", gap, starts)
		}
	}
}

// TestCancelledPassKeepsNoSlot: a pass whose context is already done
// takes no delivery slot with it; later passes still deliver (with
// Concurrency 1 a lost slot would block every later pass).
func TestCancelledPassKeepsNoSlot(t *testing.T) {
	d := &script{}
	o, _ := open(t, Config{Deliverer: d, RateLimit: 1000})
	enqueue(t, o, "s@example.com", message(1))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for range 50 {
		if st, _ := o.RunOnce(cancelled); st.Delivered != 0 {
			t.Fatalf("delivered with a cancelled context: %+v", st)
		}
	}
	ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	if st, err := o.RunOnce(ctx); err != nil || st.Delivered != 1 {
		t.Fatalf("%+v %v (a delivery slot was lost)", st, err)
	}
}

// TestQuarantineThatCannotMoveDoesNotLoop: when a corrupt file cannot be
// moved to the quarantine (the quarantine directory is gone, the disk is
// read-only), it is reported once, not again at every scan (every poll of
// a running worker), and the worker still delivers the good entries.
func TestQuarantineThatCannotMoveDoesNotLoop(t *testing.T) {
	dir := t.TempDir()
	o, ev := open(t, Config{Dir: dir, Deliverer: &script{}})
	enqueue(t, o, "good@example.com", message(1))
	badMsg := enqueue(t, o, "bad@example.com", message(2))
	badState := enqueue(t, o, "state@example.com", message(3))
	b, _ := os.ReadFile(filepath.Join(dir, badMsg.ID+msgExt))
	b[len(b)-3] ^= 0x20
	os.WriteFile(filepath.Join(dir, badMsg.ID+msgExt), b, 0o600)
	os.WriteFile(filepath.Join(dir, badState.ID+stateExt), []byte("{\"attempts\":2}\nbad\n"), 0o600)
	// The quarantine cannot take anything.
	if err := os.Remove(filepath.Join(dir, quarantine)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, quarantine), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		mustList(t, o)
	}
	q := ev.find("outbox.quarantined")
	if len(q) != 2 {
		t.Fatalf("%d quarantined events for 2 corrupt files: %v", len(q), q)
	}
	for _, r := range q {
		if r.attrs["outbox.error"] == "" {
			t.Errorf("the failed move is not reported: %v", r.attrs)
		}
	}
	st, err := o.RunOnce(context.Background())
	if err != nil || st.Delivered != 2 || st.Quarantined != 0 {
		t.Fatalf("%+v %v", st, err)
	}
	if n := len(ev.find("outbox.quarantined")); n != 2 {
		t.Fatalf("%d quarantined events after a pass", n)
	}
}

// TestClockSetBackDoesNotStrandEntries: the clock is set back (an NTP
// correction after a boot with a wrong clock, a restored VM snapshot).
// Times written with the old clock lie in the future: an entry queued
// then, and one deferred then, must still be delivered now, not when the
// clock catches up hours later.
func TestClockSetBackDoesNotStrandEntries(t *testing.T) {
	clk := newClock()
	d := &script{answers: []error{&smtpErr{451}}}
	o, _ := open(t, Config{Deliverer: d, Now: clk.Now, Sleep: clk.Sleep, Rand: func() float64 { return 0 },
		MinBackoff: time.Minute, MaxBackoff: 4 * time.Minute})
	deferred := enqueue(t, o, "deferred@example.com", message(1))
	if st, _ := o.RunOnce(context.Background()); st.Deferred != 1 {
		t.Fatalf("%+v", st)
	}
	queued := enqueue(t, o, "queued@example.com", message(2))
	clk.Advance(-2 * time.Hour)
	st, err := o.RunOnce(context.Background())
	if err != nil || st.Delivered != 2 {
		t.Fatalf("%+v %v after the clock went back (entries %s, %s)", st, err, deferred.ID, queued.ID)
	}
	// A delay the worker set itself is still honoured.
	d.answers = []error{&smtpErr{451}}
	enqueue(t, o, "again@example.com", message(3))
	if st, _ := o.RunOnce(context.Background()); st.Deferred != 1 {
		t.Fatalf("%+v", st)
	}
	if st, _ := o.RunOnce(context.Background()); st != (Stats{}) {
		t.Fatalf("retried before its backoff: %+v", st)
	}
}

// TestBackoffDoesNotOverflow: with a very large MaxBackoff (a caller's
// "no cap") the doubling must not overflow into zero or a negative delay
// (an entry retried in a hot loop) after many attempts.
func TestBackoffDoesNotOverflow(t *testing.T) {
	for _, maxB := range []time.Duration{time.Duration(math.MaxInt64), 100 * 365 * 24 * time.Hour, 15 * time.Minute} {
		o, _ := open(t, Config{MinBackoff: 30 * time.Second, MaxBackoff: maxB, Rand: func() float64 { return 0.999 }})
		prev := time.Duration(0)
		for n := 1; n <= 200; n++ {
			d := o.backoff(n)
			if d < 15*time.Second || d > maxB || d < prev {
				t.Fatalf("MaxBackoff %v: backoff(%d) = %v after %v", maxB, n, d, prev)
			}
			prev = d
		}
	}
}

// TestConcurrentPassesDoNotSendTwice: RunOnce called while another pass
// is under way (a "send now" button next to a running worker) must not
// deliver an entry the other pass has started meanwhile. Both passes may
// list the entry as due; only one may start it.
func TestConcurrentPassesDoNotSendTwice(t *testing.T) {
	var nows atomic.Int64
	var mu sync.Mutex
	calls := map[string]int{}
	in := make(chan string, 10)
	release := map[string]chan struct{}{"a@x": make(chan struct{}), "b@x": make(chan struct{}), "c@x": make(chan struct{})}
	d := DelivererFunc(func(ctx context.Context, env Envelope, open Opener) (string, error) {
		mu.Lock()
		calls[env.MessageID]++
		mu.Unlock()
		in <- env.MessageID
		<-release[env.MessageID]
		return "", nil
	})
	o, _ := open(t, Config{Deliverer: d, Concurrency: 2, Now: func() time.Time { nows.Add(1); return time.Now() }})
	for _, id := range []string{"a@x", "b@x", "c@x"} {
		enqueue(t, o, id, message(len(id)))
		time.Sleep(time.Millisecond) // distinct, ordered spool ids
	}
	done := make(chan Stats, 2)
	run := func() { st, _ := o.RunOnce(context.Background()); done <- st }
	go run()
	got := map[string]bool{<-in: true, <-in: true}
	if !got["a@x"] || !got["b@x"] {
		t.Fatalf("first pass started %v", got)
	}
	// The first pass now waits for a slot to start c. A second pass
	// lists c as due too.
	n0 := nows.Load()
	go run()
	for nows.Load() == n0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let it finish listing what is due
	close(release["a@x"])
	if id := <-in; id != "c@x" {
		t.Fatalf("started %s", id)
	}
	close(release["b@x"])
	// Either the other pass finishes (it skipped c), or c is started a
	// second time.
	var results []Stats
	select {
	case st := <-done:
		results = append(results, st)
	case <-in:
	}
	close(release["c@x"])
	for len(results) < 2 {
		results = append(results, <-done)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["c@x"] != 1 || results[0].Delivered+results[1].Delivered != 3 {
		t.Fatalf("deliveries %v, stats %+v", calls, results)
	}
}

// TestUnreadableEntryReportedOnce: an entry the worker cannot read (in
// production typically a file created by another user, e.g. an enqueue
// run as root into a service's spool; here a state path that is a
// directory, since the tests may run as root) is reported once, not as an
// error record at every scan (every poll of a running worker), and
// reported again only if the error changes.
func TestUnreadableEntryReportedOnce(t *testing.T) {
	dir := t.TempDir()
	o, ev := open(t, Config{Dir: dir, Deliverer: &script{}})
	e := enqueue(t, o, "x@example.com", message(1))
	if err := os.Mkdir(filepath.Join(dir, e.ID+stateExt), 0o700); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		mustList(t, o)
		o.RunOnce(context.Background())
	}
	if n := len(ev.find("outbox.error")); n != 1 {
		t.Fatalf("%d outbox.error records for one unreadable entry: %v", n, ev.find("outbox.error"))
	}
	// Readable again: delivered.
	if err := os.Remove(filepath.Join(dir, e.ID+stateExt)); err != nil {
		t.Fatal(err)
	}
	if st, err := o.RunOnce(context.Background()); err != nil || st.Delivered != 1 {
		t.Fatalf("%+v %v", st, err)
	}
}

// TestLocalResourceShortageIsTemporary: a delivery that fails because
// this process ran out of file descriptors (opening the spooled message
// with EMFILE under load) is not the message's fault: it is deferred, not
// dead-lettered.
func TestLocalResourceShortageIsTemporary(t *testing.T) {
	emfile := fmt.Errorf("transport: opening the message: %w", &os.PathError{Op: "open", Path: "x.msg", Err: syscall.EMFILE})
	type errCase struct {
		err  error
		want bool
	}
	cases := []errCase{
		{emfile, true},
		{&os.PathError{Op: "open", Path: "x", Err: syscall.ENOENT}, false},
		{&os.PathError{Op: "open", Path: "x", Err: syscall.EACCES}, false},
		{&os.PathError{Op: "open", Path: "x", Err: syscall.ENOSPC}, false},
	}
	for _, errno := range shortageErrnos {
		cases = append(cases, errCase{&os.PathError{Op: "open", Path: "x", Err: errno}, true})
	}
	for _, c := range cases {
		if got := Temporary(c.err); got != c.want {
			t.Errorf("Temporary(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	d := &script{answers: []error{emfile}}
	o, _ := open(t, Config{Deliverer: d})
	enqueue(t, o, "e@example.com", message(1))
	if st, _ := o.RunOnce(context.Background()); st.Deferred != 1 || st.Dead != 0 {
		t.Fatalf("%+v", st)
	}
}

// TestDeliveredEntryLeavesNoFiles: an entry delivered after a deferral
// (its state file written) leaves neither file; a state file written
// while the delivery ran (another process's retry) goes at the next scan.
func TestDeliveredEntryLeavesNoFiles(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	d := &script{answers: []error{&smtpErr{451}}}
	o, _ := open(t, Config{Dir: dir, Deliverer: d, Now: clk.Now, Sleep: clk.Sleep, Rand: func() float64 { return 0 }})
	enqueue(t, o, "deferred@example.com", message(1))
	if st, err := o.RunOnce(context.Background()); err != nil || st.Deferred != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	clk.Advance(time.Hour)
	if st, err := o.RunOnce(context.Background()); err != nil || st.Delivered != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	left := func() []string {
		var out []string
		des, _ := os.ReadDir(dir)
		for _, de := range des {
			if de.Name() != quarantine && de.Name() != lockName {
				out = append(out, de.Name())
			}
		}
		return out
	}
	if l := left(); len(l) != 0 {
		t.Fatalf("left in the spool after the delivery: %v", l)
	}

	e := enqueue(t, o, "retried@example.com", message(2))
	retry := DelivererFunc(func(ctx context.Context, env Envelope, open Opener) (string, error) {
		return "", os.WriteFile(filepath.Join(dir, e.ID+stateExt), marshalState(state{Attempts: 1}), 0o600)
	})
	o2, _ := open(t, Config{Dir: dir, Deliverer: retry})
	if st, err := o2.RunOnce(context.Background()); err != nil || st.Delivered != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	mustList(t, o2)
	if l := left(); len(l) != 0 {
		t.Fatalf("left in the spool after the next scan: %v", l)
	}
}
