package pgstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"mailwarden/outbox"
)

type tempErr struct{ msg string }

func (e tempErr) Error() string   { return e.msg }
func (e tempErr) Temporary() bool { return true }

// recorder is a Deliverer that keeps what it was given.
type recorder struct {
	mu   sync.Mutex
	got  map[string][]byte
	fail func(env outbox.Envelope) error
}

func (r *recorder) Deliver(ctx context.Context, env outbox.Envelope, open outbox.Opener) (string, error) {
	if r.fail != nil {
		if err := r.fail(env); err != nil {
			return "", err
		}
	}
	rd, err := open()
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(rd)
	rd.(io.Closer).Close()
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	if r.got == nil {
		r.got = map[string][]byte{}
	}
	r.got[env.MessageID] = b
	r.mu.Unlock()
	return "Q1", nil
}

func text(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

func env(mid string) outbox.Envelope {
	return outbox.Envelope{From: "a@example.com", To: []string{"b@example.org"}, MessageID: mid}
}

func open(t *testing.T, cfg Config) *Store {
	t.Helper()
	pool := testPool(t)
	s, err := Open(context.Background(), pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMigrateNodesStartingAtOnce: eight nodes migrating a fresh database
// at once all succeed and the migration is applied exactly once; a second
// run changes nothing.
func TestMigrateNodesStartingAtOnce(t *testing.T) {
	pool := testPool(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var applied atomic.Int32
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			from, to, err := Migrate(ctx, pool)
			if err != nil {
				errs <- err
				return
			}
			if from == 0 && to == SchemaVersion {
				applied.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if applied.Load() != 1 {
		t.Errorf("%d nodes applied the migrations, want exactly 1", applied.Load())
	}
	var rows int
	pool.QueryRow(ctx, `SELECT count(*) FROM mailwarden_outbox_schema`).Scan(&rows)
	if rows != SchemaVersion {
		t.Errorf("schema table has %d rows, want %d", rows, SchemaVersion)
	}
	from, to, err := Migrate(ctx, pool)
	if err != nil || from != SchemaVersion || to != SchemaVersion {
		t.Errorf("second Migrate = %d, %d, %v; want %d, %d, nil", from, to, err, SchemaVersion, SchemaVersion)
	}
}

// TestMessageStoredInChunksAndStreamedBack: a message larger than several
// chunks is stored as ceil(size/ChunkSize) rows and delivered byte for byte.
func TestMessageStoredInChunksAndStreamedBack(t *testing.T) {
	rec := &recorder{}
	s := open(t, Config{Config: outbox.Config{Deliverer: rec}, ChunkSize: 1000})
	ctx := context.Background()
	msg := strings.Repeat("0123456789abcdef", 640) + "tail" // 10,244 bytes
	e, err := s.Enqueue(ctx, env("big@x"), text(msg))
	if err != nil {
		t.Fatal(err)
	}
	if e.Envelope.Size != int64(len(msg)) {
		t.Errorf("size %d, want %d", e.Envelope.Size, len(msg))
	}
	var chunks int
	s.pool.QueryRow(ctx, `SELECT count(*) FROM mailwarden_outbox_chunk`).Scan(&chunks)
	if chunks != 11 {
		t.Errorf("%d chunk rows, want 11", chunks)
	}
	st, err := s.RunOnce(ctx)
	if err != nil || st.Delivered != 1 {
		t.Fatalf("RunOnce = %+v, %v", st, err)
	}
	if !bytes.Equal(rec.got["big@x"], []byte(msg)) {
		t.Errorf("delivered %d bytes, not the message queued", len(rec.got["big@x"]))
	}
	l, _ := s.List(ctx)
	s.pool.QueryRow(ctx, `SELECT count(*) FROM mailwarden_outbox_chunk`).Scan(&chunks)
	if len(l) != 0 || chunks != 0 {
		t.Errorf("after delivery: %d entries, %d chunks left", len(l), chunks)
	}
}

// TestRolledBackEnqueueTxLeavesNothing: an entry queued in a transaction
// that rolls back (pgx and database/sql) leaves no row and is never sent;
// one whose transaction commits is delivered.
func TestRolledBackEnqueueTxLeavesNothing(t *testing.T) {
	rec := &recorder{}
	s := open(t, Config{Config: outbox.Config{Deliverer: rec}})
	ctx := context.Background()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnqueueTx(ctx, tx, env("rolled-back@x"), text("no\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	stx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnqueueSQLTx(ctx, stx, env("sql-rolled-back@x"), text("no\r\n")); err != nil {
		t.Fatal(err)
	}
	stx.Rollback()
	var rows, chunks int
	s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM mailwarden_outbox), (SELECT count(*) FROM mailwarden_outbox_chunk)`).Scan(&rows, &chunks)
	if rows != 0 || chunks != 0 {
		t.Fatalf("after rollback: %d entries, %d chunks", rows, chunks)
	}
	if st, err := s.RunOnce(ctx); err != nil || st != (outbox.Stats{}) || len(rec.got) != 0 {
		t.Fatalf("RunOnce after rollback = %+v, %v; sent %d", st, err, len(rec.got))
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := s.EnqueueTx(ctx, tx, env("committed@x"), text("yes\r\n"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	stx, _ = db.BeginTx(ctx, &sql.TxOptions{})
	if _, err := s.EnqueueSQLTx(ctx, stx, env("sql-committed@x"), text("yes\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := stx.Commit(); err != nil {
		t.Fatal(err)
	}
	if st, err := s.RunOnce(ctx); err != nil || st.Delivered != 2 {
		t.Fatalf("RunOnce after commit = %+v, %v", st, err)
	}
	if string(rec.got["committed@x"]) != "yes\r\n" || string(rec.got["sql-committed@x"]) != "yes\r\n" {
		t.Errorf("delivered %q", rec.got)
	}
}

// TestClassification: a temporary failure defers with backoff, a
// permanent one dead-letters, a temporary one past MaxAge expires; Retry
// makes a dead entry due again and Purge deletes one.
func TestClassification(t *testing.T) {
	rec := &recorder{fail: func(e outbox.Envelope) error {
		switch e.MessageID {
		case "temp@x":
			return tempErr{"451 try later"}
		case "perm@x":
			return errors.New("550 no such user")
		}
		return nil
	}}
	s := open(t, Config{Config: outbox.Config{Deliverer: rec, MinBackoff: time.Hour, MaxBackoff: 2 * time.Hour}})
	ctx := context.Background()
	for _, m := range []string{"temp@x", "perm@x"} {
		if _, err := s.Enqueue(ctx, env(m), text("x\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.RunOnce(ctx)
	if err != nil || st.Deferred != 1 || st.Dead != 1 {
		t.Fatalf("RunOnce = %+v, %v; want 1 deferred, 1 dead", st, err)
	}
	l, _ := s.List(ctx)
	by := map[string]outbox.Entry{}
	for _, e := range l {
		by[e.Envelope.MessageID] = e
	}
	if e := by["temp@x"]; e.State != outbox.StateDeferred || e.Attempts != 1 || e.LastError != "451 try later" ||
		time.Until(e.NextAttempt) < 29*time.Minute {
		t.Errorf("temporary: %+v", e)
	}
	if e := by["perm@x"]; e.State != outbox.StateDead || e.Reason != "permanent" || e.LastError != "550 no such user" {
		t.Errorf("permanent: %+v", e)
	}
	if err := s.Retry(ctx, by["perm@x"].ID); err != nil {
		t.Fatal(err)
	}
	rec.fail = nil
	if st, err := s.RunOnce(ctx); err != nil || st.Delivered != 1 {
		t.Errorf("RunOnce after Retry = %+v, %v", st, err)
	}
	if err := s.Purge(ctx, by["temp@x"].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, by["temp@x"].ID); !errors.Is(err, outbox.ErrNotFound) {
		t.Errorf("second Purge: %v, want ErrNotFound", err)
	}
	if err := s.Retry(ctx, "not-a-number"); !errors.Is(err, outbox.ErrNotFound) {
		t.Errorf("Retry of a bad id: %v", err)
	}
	// Expired: a temporary failure after MaxAge dead-letters.
	s2 := open(t, Config{Config: outbox.Config{Deliverer: &recorder{fail: func(outbox.Envelope) error { return tempErr{"421 busy"} }},
		MaxAge: time.Nanosecond}})
	s2.Enqueue(ctx, env("old@x"), text("x\r\n"))
	if st, err := s2.RunOnce(ctx); err != nil || st.Dead != 1 {
		t.Fatalf("expired: RunOnce = %+v, %v", st, err)
	}
	l, _ = s2.List(ctx)
	if len(l) != 1 || l[0].Reason != "expired" {
		t.Errorf("expired: %+v", l)
	}
}

// TestExpiredLeaseCannotComplete: node A claims an entry and stalls past
// its lease; node B takes it over (a new fencing token). A's outcome, a
// delivery or a failure, is no longer written, and B's is.
func TestExpiredLeaseCannotComplete(t *testing.T) {
	pool := testPool(t)
	ctx := context.Background()
	a, err := Open(ctx, pool, Config{NodeID: "a", Lease: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Open(ctx, pool, Config{NodeID: "b", Lease: time.Minute})
	if _, err := a.Enqueue(ctx, env("lease@x"), text("x\r\n")); err != nil {
		t.Fatal(err)
	}
	ca, err := a.claim(ctx, 1)
	if err != nil || len(ca) != 1 {
		t.Fatalf("a claims: %v, %v", ca, err)
	}
	if cb, _ := b.claim(ctx, 1); len(cb) != 0 {
		t.Fatal("b claimed an entry under a's live lease")
	}
	time.Sleep(300 * time.Millisecond)
	cb, err := b.claim(ctx, 1)
	if err != nil || len(cb) != 1 || cb[0].token <= ca[0].token {
		t.Fatalf("b after expiry: %+v, %v", cb, err)
	}
	if st := a.finish(ctx, ca[0], "dead", "permanent", errors.New("550"), 0); st.Dead != 0 {
		t.Error("a dead-lettered an entry whose lease b holds")
	}
	tag, _ := a.pool.Exec(ctx, `DELETE FROM mailwarden_outbox WHERE id = $1 AND lease_token = $2`, ca[0].id, ca[0].token)
	if tag.RowsAffected() != 0 {
		t.Error("a completed an entry whose lease b holds")
	}
	if st := b.finish(ctx, cb[0], "deferred", "temporary", tempErr{"451"}, 0); st.Deferred != 1 {
		t.Error("b could not record its outcome")
	}
}

// TestCorruptChunkNeverSent: a chunk altered in the database fails the
// delivery with ErrCorrupt at the end of the stream (the deliverer never
// completes it) and the entry is dead-lettered as corrupt.
func TestCorruptChunkNeverSent(t *testing.T) {
	rec := &recorder{}
	s := open(t, Config{Config: outbox.Config{Deliverer: rec}, ChunkSize: 4})
	ctx := context.Background()
	s.Enqueue(ctx, env("c@x"), text("abcdefgh"))
	s.pool.Exec(ctx, `UPDATE mailwarden_outbox_chunk SET data = 'EFGH'::bytea WHERE seq = 1`)
	st, err := s.RunOnce(ctx)
	if err != nil || st.Dead != 1 || len(rec.got) != 0 {
		t.Fatalf("RunOnce = %+v, %v, sent %d", st, err, len(rec.got))
	}
	l, _ := s.List(ctx)
	if len(l) != 1 || l[0].Reason != "corrupt" || !strings.Contains(l[0].LastError, "corrupt") {
		t.Errorf("%+v", l)
	}
}

// TestRateLimitSharedByNodes: three nodes with a limit of 4 per 1.5 s send
// 12 messages; no 1.5 s window of the deliverer's start..end times holds
// more than 4 sends.
func TestRateLimitSharedByNodes(t *testing.T) {
	pool := testPool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var stamps []time.Time
	d := outbox.DelivererFunc(func(ctx context.Context, env outbox.Envelope, open outbox.Opener) (string, error) {
		mu.Lock()
		stamps = append(stamps, time.Now())
		mu.Unlock()
		return "", nil
	})
	period := 1500 * time.Millisecond
	var nodes []*Store
	for i := range 3 {
		n, err := Open(ctx, pool, Config{Config: outbox.Config{Deliverer: d, RateLimit: 4, RatePeriod: period, Concurrency: 2,
			PollInterval: 20 * time.Millisecond}, NodeID: fmt.Sprint("n", i), RateKey: "rate-test"})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	for i := range 12 {
		nodes[0].Enqueue(ctx, env(fmt.Sprint("r", i, "@x")), text("x\r\n"))
	}
	rctx, rcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { n.Run(rctx) })
	}
	for {
		mu.Lock()
		k := len(stamps)
		mu.Unlock()
		if k >= 12 || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	rcancel()
	wg.Wait()
	if len(stamps) != 12 {
		t.Fatalf("%d sends, want 12", len(stamps))
	}
	worst := maxInWindow(stamps, period)
	if worst > 4 {
		t.Errorf("a %v window holds %d sends, limit 4", period, worst)
	}
	t.Logf("12 sends over %v, at most %d in any %v window", stamps[len(stamps)-1].Sub(stamps[0]).Round(time.Millisecond), worst, period)
}

// maxInWindow is the most times within any half-open window of length w.
func maxInWindow(ts []time.Time, w time.Duration) int {
	s := append([]time.Time(nil), ts...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].Before(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	best, lo := 0, 0
	for hi := range s {
		for s[hi].Sub(s[lo]) >= w {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// acceptedErr is a delivery error after the relay's 250 (the audit record
// failed).
type acceptedErr struct{}

func (acceptedErr) Error() string  { return "audit: record after the relay's reply failed" }
func (acceptedErr) Accepted() bool { return true }

// trackingRecorder fails the delivered record until ok is set. Its
// sends return err: acceptedErr (the send's own record failed after the
// relay's 250) or nil (only the outbox.delivered record fails).
type trackingRecorder struct {
	sends atomic.Int32
	ok    atomic.Bool
	err   error
}

func (r *trackingRecorder) Deliver(ctx context.Context, env outbox.Envelope, open outbox.Opener) (string, error) {
	r.sends.Add(1)
	return "Q9", r.err
}

func (r *trackingRecorder) TrackRecords(ctx context.Context) (context.Context, func(context.Context) error) {
	return ctx, func(context.Context) error {
		if r.ok.Load() {
			return nil
		}
		return errors.New("syslog collector down")
	}
}

// TestAcceptedEntryNeverSentAgain: the relay accepted a message but its
// record failed (the send's own, or only the outbox.delivered record
// after a clean send): the entry stays as delivered (Retry included),
// only its record is retried, and it is removed once the record is
// stored; the message was sent once.
func TestAcceptedEntryNeverSentAgain(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{{"send-record", acceptedErr{}}, {"delivered-record", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &trackingRecorder{err: tc.err}
			s := open(t, Config{Config: outbox.Config{Deliverer: rec, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}})
			ctx := context.Background()
			s.Enqueue(ctx, env("acc@x"), text("x\r\n"))
			if st, err := s.RunOnce(ctx); err != nil || st.Delivered != 1 {
				t.Fatalf("RunOnce = %+v, %v", st, err)
			}
			l, _ := s.List(ctx)
			if len(l) != 1 || l[0].State != outbox.StateDelivered || !strings.Contains(l[0].LastError, "pending") {
				t.Fatalf("after a failed record: %+v", l)
			}
			if err := s.Retry(ctx, l[0].ID); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
			if st, _ := s.RunOnce(ctx); st.Delivered != 0 {
				t.Errorf("the record's retry counted a second delivery: %+v", st)
			}
			if l, _ = s.List(ctx); len(l) != 1 || l[0].State != outbox.StateDelivered {
				t.Fatalf("after Retry and a second failed record: %+v", l)
			}
			rec.ok.Store(true)
			time.Sleep(5 * time.Millisecond)
			s.RunOnce(ctx)
			if l, _ = s.List(ctx); len(l) != 0 {
				t.Errorf("after the record was stored: %+v", l)
			}
			if n := rec.sends.Load(); n != 1 {
				t.Errorf("sent %d times, want 1", n)
			}
		})
	}
}

// TestEnqueueWakesRunningWorkers: with a poll interval of a minute, an
// entry committed by another node is attempted at once (the worker
// LISTENs; Enqueue notifies at commit).
func TestEnqueueWakesRunningWorkers(t *testing.T) {
	pool := testPool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan string, 1)
	d := outbox.DelivererFunc(func(ctx context.Context, env outbox.Envelope, open outbox.Opener) (string, error) {
		got <- env.MessageID
		return "", nil
	})
	w, err := Open(ctx, pool, Config{Config: outbox.Config{Deliverer: d, PollInterval: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Open(ctx, pool, Config{})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(rctx) }()
	time.Sleep(300 * time.Millisecond) // its first poll found nothing; it now waits a minute
	start := time.Now()
	if _, err := other.Enqueue(ctx, env("wake@x"), text("x\r\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
		t.Logf("attempted %v after the commit", time.Since(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Error("the worker was not woken by the commit")
	}
	stop()
	<-done
}
