package outbox

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"
)

// Stats count what one pass of the worker did.
type Stats struct {
	Delivered, Deferred, Dead, Quarantined int
}

func (s *Stats) add(t Stats) {
	s.Delivered += t.Delivered
	s.Deferred += t.Deferred
	s.Dead += t.Dead
	s.Quarantined += t.Quarantined
}

// Run delivers entries as they fall due until ctx is done, then waits for
// the deliveries under way and returns ctx's error. Errors reading the
// spool are reported to the Logger and retried; Run does not give up. Only
// one worker delivers a spool: when another process (or another Outbox on
// the same directory) runs one, Run returns at once an *Error wrapping
// ErrBusy. Enqueue, List, Retry and Purge work beside a worker.
func (o *Outbox) Run(ctx context.Context) error {
	if o.cfg.Deliverer == nil {
		return &Error{Op: "run", Err: ErrNoDeliverer}
	}
	unlock, err := o.waitLock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	lastErr := ""
	for {
		_, next, err := o.pass(ctx, &wg)
		switch {
		case err != nil && ctx.Err() == nil && rootCause(err) != lastErr:
			// Once per distinct failure, not once per poll. The root
			// cause decides: a directory that vanished fails in open or,
			// mid-listing, in readdirent, and that is one failure.
			lastErr = rootCause(err)
			o.log.LogAttrs(ctx, slog.LevelError, "outbox.error", slog.Group("outbox", slog.String("error", err.Error())))
		case err == nil:
			lastErr = ""
		}
		wait := o.cfg.PollInterval
		if !next.IsZero() {
			if d := next.Sub(o.cfg.Now()); d < wait {
				wait = max(d, 0)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-o.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// waitLock takes the worker lock for Run. Another worker is final
// (ErrBusy); a spool that cannot be reached (a directory gone with a
// failed mount) is reported once and tried again, as Run does.
func (o *Outbox) waitLock(ctx context.Context) (func(), error) {
	reported := false
	for {
		unlock, err := o.lockWorker()
		if err == nil || errors.Is(err, ErrBusy) {
			return unlock, err
		}
		if !reported {
			reported = true
			o.log.LogAttrs(ctx, slog.LevelError, "outbox.error", slog.Group("outbox", slog.String("error", err.Error())))
		}
		t := time.NewTimer(o.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// rootCause returns the text of the innermost error of err's chain.
func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// RunOnce attempts every entry due now, once, and returns what happened.
// The error is a spool error (wrapping ErrBusy when another worker
// delivers the spool, see Run) or ctx's.
func (o *Outbox) RunOnce(ctx context.Context) (Stats, error) {
	if o.cfg.Deliverer == nil {
		return Stats{}, &Error{Op: "run", Err: ErrNoDeliverer}
	}
	unlock, err := o.lockWorker()
	if err != nil {
		return Stats{}, err
	}
	defer unlock()
	var wg sync.WaitGroup
	st, _, err := o.pass(ctx, &wg)
	wg.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return *st, err
}

// pass starts delivering the entries due now (and not already under
// way), at most Concurrency at a time and paced by the rate limit, each in
// a goroutine counted in wg. It returns once all are started, with the time
// the next entry falls due (zero if none). The Stats are complete once wg
// is done. A finished delivery wakes Run.
func (o *Outbox) pass(ctx context.Context, wg *sync.WaitGroup) (*Stats, time.Time, error) {
	m, err := o.scan(ctx)
	if err != nil {
		return &Stats{}, time.Time{}, err
	}
	now := o.cfg.Now()
	var due []string
	var next time.Time
	o.mu.Lock()
	for id, s := range m {
		if o.sent[id] || o.inflight[id] || s.st.Dead {
			continue
		}
		at := o.dueAt(s.st, now)
		if h, ok := o.hold[id]; ok && h.After(at) {
			at = h
		}
		if !at.After(now) {
			due = append(due, id)
		} else if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	o.mu.Unlock()
	sort.Strings(due) // oldest first
	var (
		smu   sync.Mutex
		stats = &Stats{}
	)
	one := due // delivered one by one
	if bd, ok := o.cfg.Deliverer.(BatchDeliverer); ok && o.cfg.MaxBatch > 1 && len(due) > 1 {
		o.passBatches(ctx, wg, bd, due, m, func(r Stats) {
			smu.Lock()
			stats.add(r)
			smu.Unlock()
		})
		one = nil
	}
	for _, id := range one {
		// A slot first, then the rate: the send is counted when it
		// starts, not before a slow delivery frees the slot.
		if !o.takeSlot(ctx) {
			break
		}
		if !o.claim(id) {
			<-o.slots
			continue
		}
		if err := o.pace(ctx); err != nil {
			o.unclaim(id)
			<-o.slots
			break
		}
		wg.Add(1)
		go func(id string, s scanned) {
			defer wg.Done()
			// The slot is freed once the relay is done with the entry
			// (a removal frees it before its directory fsync, see remove).
			release := sync.OnceFunc(func() { <-o.slots })
			r := o.attempt(ctx, id, s, release)
			o.mu.Lock()
			delete(o.inflight, id)
			o.mu.Unlock()
			release()
			smu.Lock()
			stats.add(r)
			smu.Unlock()
			o.wake()
		}(id, m[id])
	}
	if len(due) > 0 {
		next = o.cfg.Now() // look again at once: new entries may be due
	}
	return stats, next, nil
}

// dueAt returns when an entry whose state is st is due, given the time
// now. A never-tried entry is due at once. A time further ahead than
// MaxBackoff, the longest delay the worker sets, can only have been written
// before the clock was set back (an NTP correction, a restored snapshot):
// the entry is due now rather than stranded until the clock catches up.
func (o *Outbox) dueAt(st state, now time.Time) time.Time {
	if st.Next.IsZero() || st.Next.After(now.Add(o.cfg.MaxBackoff)) {
		return now
	}
	return st.Next
}

// pace waits until one more send stays within RateLimit per RatePeriod.
func (o *Outbox) pace(ctx context.Context) error {
	if o.cfg.RateLimit <= 0 {
		return ctx.Err()
	}
	var waited time.Duration
	for {
		o.mu.Lock()
		now := o.cfg.Now()
		cut := 0
		for cut < len(o.sends) && !o.sends[cut].After(now.Add(-o.cfg.RatePeriod)) {
			cut++
		}
		o.sends = o.sends[cut:]
		if len(o.sends) < o.cfg.RateLimit {
			o.sends = append(o.sends, now)
			o.mu.Unlock()
			if waited > 0 {
				o.m.RateWait(ctx, waited)
			}
			return ctx.Err()
		}
		d := o.sends[0].Add(o.cfg.RatePeriod).Sub(now)
		o.mu.Unlock()
		o.log.LogAttrs(ctx, slog.LevelDebug, "outbox.paced", slog.Group("outbox", slog.Int64("wait_ms", d.Milliseconds())))
		waited += d
		if err := o.cfg.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// backoff is the delay after the n-th failed attempt (n >= 1), jittered.
func (o *Outbox) backoff(n int) time.Duration {
	d := o.cfg.MinBackoff
	for i := 1; i < n && d < o.cfg.MaxBackoff; i++ {
		if d > o.cfg.MaxBackoff/2 {
			d = o.cfg.MaxBackoff // doubling would pass it (or overflow)
			break
		}
		d *= 2
	}
	d = min(d, o.cfg.MaxBackoff)
	return d/2 + time.Duration(o.cfg.Rand()*float64(d/2))
}

// attempt delivers one entry and records the outcome.
func (o *Outbox) attempt(ctx context.Context, id string, s scanned, release func()) Stats {
	// The scan that found the entry may predate the end of an earlier
	// attempt (or a purge or retry by another process): look again now
	// that it is marked in flight.
	if _, err := os.Stat(o.msgPath(id)); err != nil {
		return Stats{}
	}
	st, err := o.readState(ctx, id)
	if now := o.cfg.Now(); err != nil || st.Dead || o.dueAt(st, now).After(now) {
		return Stats{}
	}
	hdr := s.l.hdr
	if st.Removing {
		// Sent and recorded; only its files are left.
		return o.retryRemoval(ctx, id, hdr, st)
	}
	if st.Delivered {
		// The relay accepted it; only its record is missing.
		return o.accepted(ctx, id, hdr, st, "", nil)
	}
	st.Attempts++
	env := Envelope{From: hdr.From, To: hdr.To, SMTPUTF8: hdr.SMTPUTF8, MessageID: hdr.MessageID, Size: s.l.bodySize}
	ids := func(extra ...slog.Attr) []slog.Attr { return entryAttrs(hdr, id, st.Attempts, extra...) }
	o.log.LogAttrs(ctx, slog.LevelInfo, "outbox.attempt", ids()...)
	o.m.Attempt(ctx)
	actx, cancel := context.WithTimeout(ctx, o.cfg.AttemptTimeout)
	var qid string
	start := time.Now()
	qid, err = o.cfg.Deliverer.Deliver(actx, env, func() (io.Reader, error) { return openBody(o.msgPath(id), s.l) })
	took := time.Since(start)
	cancel()
	return o.outcome(ctx, id, hdr, st, qid, err, took, release)
}

// deliveredAttrs are the attributes of entry id's outbox.delivered record.
func deliveredAttrs(hdr header, id string, st state, qid string, now time.Time) []slog.Attr {
	attrs := []slog.Attr{slog.String("queue_id", qid)}
	return append(attrs, entryAttrs(hdr, id, st.Attempts, slog.Int64("age_ms", now.Sub(hdr.Created).Milliseconds()))...)
}

// removedDelivered reports the delivery of entry id, whose outbox.delivered
// record is stored, which was counted (before its files went, so a
// metrics scrape never finds it neither spooled nor delivered), and whose
// files were removed (rerr nil) or could not be (then it is kept as sent,
// never sent again, and an outbox.error says so).
func (o *Outbox) removedDelivered(ctx context.Context, id string, hdr header, st state, qid string, rerr error) Stats {
	if rerr != nil {
		st.QueueID = qid
		o.log.LogAttrs(ctx, slog.LevelError, "outbox.error", entryAttrs(hdr, id, st.Attempts, slog.String("error", o.unremoved(id, st, rerr)))...)
	}
	return Stats{Delivered: 1}
}

// outcome records the result of an attempt to deliver entry id (state st,
// its Attempts already counted): removed when delivered, kept as
// delivered when only its record failed, quarantined, deferred or dead.
// took is the attempt's send time, for the send latency metric.
func (o *Outbox) outcome(ctx context.Context, id string, hdr header, st state, qid string, err error, took time.Duration, release func()) Stats {
	ids := func(extra ...slog.Attr) []slog.Attr { return entryAttrs(hdr, id, st.Attempts, extra...) }
	now := o.cfg.Now().UTC()
	if err == nil || Accepted(err) {
		o.m.Sent(ctx, took, "delivered")
	} else {
		o.m.Sent(ctx, took, "failed")
	}
	if err == nil {
		// The relay is done with the entry: the next delivery may start
		// while its record is stored.
		release()
		// The entry stays in the spool until its outbox.delivered record
		// is stored: removed first, a record the trail then failed to
		// take (a collector killed meanwhile) would be lost for good,
		// with nothing left to retry it from. A record that fails makes
		// the entry one the relay accepted whose record is missing:
		// kept as delivered, never sent again, only its record retried.
		// The relay accepted it: a shutdown does not abandon its record.
		if rerr := o.recordDelivered(context.WithoutCancel(ctx), deliveredAttrs(hdr, id, st, qid, now)); rerr != nil {
			return o.accepted(ctx, id, hdr, st, qid, rerr)
		}
		o.m.Delivered(ctx) // counted before its files go
		return o.removedDelivered(ctx, id, hdr, st, qid, o.remove(id, st.onDisk))
	}
	if Accepted(err) {
		return o.accepted(ctx, id, hdr, st, qid, err)
	}
	if errors.Is(err, ErrCorrupt) {
		o.quarantine(ctx, id, err, true)
		o.m.Dead(ctx, "corrupt")
		return Stats{Quarantined: 1}
	}
	if _, serr := os.Stat(o.msgPath(id)); errors.Is(serr, os.ErrNotExist) {
		return Stats{} // purged meanwhile
	}
	if ctx.Err() != nil {
		// Shutting down: not the relay's fault, not counted.
		o.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "outbox.deferred", ids(slog.String("reason", "interrupted"), slog.String("error", err.Error()))...)
		return Stats{Deferred: 1}
	}
	st.LastError = err.Error()
	begun := hdr.Created
	if st.Retried.After(begun) {
		begun = st.Retried
	}
	deadline := begun.Add(o.cfg.MaxAge)
	var out Stats
	switch {
	case Temporary(err) && now.Before(deadline):
		st.Next = now.Add(o.backoff(st.Attempts))
		if st.Next.After(deadline) {
			st.Next = deadline // one last try at the end of its life
		}
		out.Deferred = 1
	case Temporary(err):
		st.Dead, st.Reason, st.Next = true, "expired", time.Time{}
		out.Dead = 1
	default:
		st.Dead, st.Reason, st.Next = true, "permanent", time.Time{}
		out.Dead = 1
	}
	if werr := writeAtomic(o.dir, id+stateExt, marshalState(st)); werr != nil {
		// The outcome could not be saved: hold the entry in memory for
		// the backoff so it is not hammered, and say so.
		o.mu.Lock()
		o.hold[id] = now.Add(o.backoff(st.Attempts))
		o.mu.Unlock()
		o.log.LogAttrs(ctx, slog.LevelError, "outbox.error", ids(slog.String("error", "cannot save the entry's state: "+werr.Error()))...)
	}
	if st.Dead {
		o.m.Dead(ctx, st.Reason)
		o.log.LogAttrs(ctx, slog.LevelError, "outbox.dead", ids(slog.String("reason", st.Reason), slog.String("error", st.LastError))...)
	} else {
		o.m.Deferred(ctx, "temporary")
		o.log.LogAttrs(ctx, slog.LevelWarn, "outbox.deferred", ids(slog.String("reason", "temporary failure"),
			slog.String("error", st.LastError), slog.Time("next_attempt", st.Next))...)
	}
	return out
}

// takeSlot waits for a free delivery slot (Config.Concurrency in all) and
// reports whether it took one; false when ctx is done first. When both are
// ready select picks either: only a slot taken is given back, and a slot
// is never kept when ctx is done.
func (o *Outbox) takeSlot(ctx context.Context) bool {
	select {
	case o.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// claim marks id in flight and reports whether it could: another pass (a
// RunOnce next to Run) may have listed it too and started it meanwhile, or
// it was sent already; check and mark are one step.
func (o *Outbox) claim(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.inflight[id] || o.sent[id] {
		return false
	}
	o.inflight[id] = true
	return true
}

// unclaim undoes claim for an entry that was not started.
func (o *Outbox) unclaim(id string) {
	o.mu.Lock()
	delete(o.inflight, id)
	o.mu.Unlock()
}
