package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"mailwarden/outbox"
)

// claimed is an entry this node holds a lease on.
type claimed struct {
	id       int64
	token    int64
	attempts int
	env      outbox.Envelope
	sum      []byte
	created  time.Time
	retried  *time.Time
	// An entry the relay accepted whose record is pending.
	state, queueID, lastError string
	recordTries               int
}

// Run delivers entries as they fall due until ctx is done, then waits for
// the deliveries under way and returns ctx's error. Any number of nodes may
// run it on one database: each entry is delivered by one node at a time.
// Database errors are reported to the Logger (once per distinct error) and
// retried; Run does not give up.
func (s *Store) Run(ctx context.Context) error {
	if s.cfg.Deliverer == nil {
		return &outbox.Error{Op: "run", Err: outbox.ErrNoDeliverer}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, s.cfg.Concurrency)
	kick := make(chan struct{}, 1)
	wg.Go(func() { s.listen(ctx, kick) })
	lastErr := ""
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		n := 1
		for n < s.cfg.Concurrency {
			select {
			case slots <- struct{}{}:
				n++
				continue
			default:
			}
			break
		}
		got, err := s.claim(ctx, n)
		switch {
		case err != nil && ctx.Err() == nil && err.Error() != lastErr:
			lastErr = err.Error()
			s.log.LogAttrs(ctx, slog.LevelError, "outbox.error", slog.Group("outbox", slog.String("error", err.Error())))
		case err == nil:
			lastErr = ""
		}
		for range n - len(got) {
			<-slots
		}
		for _, c := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.attempt(ctx, c)
				<-slots
			}()
		}
		if len(got) < n {
			t := time.NewTimer(s.cfg.PollInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-kick:
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// listen holds one connection of the pool LISTENing for new entries
// (Enqueue and Retry notify at commit) and wakes Run through kick, so an
// entry is attempted at once rather than at the next poll; after a failure
// it connects again after PollInterval (Run polls meanwhile).
func (s *Store) listen(ctx context.Context, kick chan<- struct{}) {
	for ctx.Err() == nil {
		conn, err := s.pool.Acquire(ctx)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+notifyChannel)
			for err == nil {
				if _, err = conn.Conn().WaitForNotification(ctx); err == nil {
					select {
					case kick <- struct{}{}:
					default:
					}
				}
			}
			// Never back to the pool still listening.
			conn.Conn().Close(context.WithoutCancel(ctx))
			conn.Release()
		}
		if s.cfg.Sleep(ctx, s.cfg.PollInterval) != nil {
			return
		}
	}
}

// RunOnce claims what is due now (Concurrency entries at a time) and
// attempts each once, until nothing due is left that this pass has not
// tried, and returns what happened.
func (s *Store) RunOnce(ctx context.Context) (outbox.Stats, error) {
	if s.cfg.Deliverer == nil {
		return outbox.Stats{}, &outbox.Error{Op: "run", Err: outbox.ErrNoDeliverer}
	}
	var st outbox.Stats
	seen := map[int64]bool{}
	for ctx.Err() == nil {
		got, err := s.claim(ctx, s.cfg.Concurrency)
		if err != nil {
			return st, &outbox.Error{Op: "run", Err: err}
		}
		fresh := 0
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, c := range got {
			if seen[c.id] {
				s.release(ctx, c) // deferred by this pass and due again already
				continue
			}
			seen[c.id] = true
			fresh++
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := s.attempt(ctx, c)
				mu.Lock()
				st.Delivered += r.Delivered
				st.Deferred += r.Deferred
				st.Dead += r.Dead
				mu.Unlock()
			}()
		}
		wg.Wait()
		if fresh == 0 {
			break
		}
	}
	return st, ctx.Err()
}

// claim leases up to n due entries to this node, bumping each one's
// fencing token and attempt count.
func (s *Store) claim(ctx context.Context, n int) ([]claimed, error) {
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT id FROM mailwarden_outbox
			WHERE state <> 'dead' AND next_attempt <= now() AND (lease_until IS NULL OR lease_until < now())
			ORDER BY next_attempt, id LIMIT $1 FOR UPDATE SKIP LOCKED)
		UPDATE mailwarden_outbox e SET lease_owner = $2, lease_until = now() + make_interval(secs => $3),
			lease_token = e.lease_token + 1, attempts = e.attempts + CASE WHEN e.state = 'delivered' THEN 0 ELSE 1 END
		FROM due WHERE e.id = due.id
		RETURNING e.id, e.lease_token, e.attempts, e.message_id, e.mail_from, e.rcpt_to, e.smtputf8, e.size,
			e.sha256, e.created, e.retried, e.state, e.queue_id, e.last_error, e.record_tries`, n, s.cfg.NodeID, s.cfg.Lease.Seconds())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []claimed
	for rows.Next() {
		var c claimed
		var rcpts string
		if err := rows.Scan(&c.id, &c.token, &c.attempts, &c.env.MessageID, &c.env.From, &rcpts, &c.env.SMTPUTF8,
			&c.env.Size, &c.sum, &c.created, &c.retried, &c.state, &c.queueID, &c.lastError, &c.recordTries); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(rcpts), &c.env.To); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// release gives a claimed entry back untried (its attempt not counted).
func (s *Store) release(ctx context.Context, c claimed) {
	s.pool.Exec(context.WithoutCancel(ctx), `UPDATE mailwarden_outbox SET lease_owner = NULL, lease_until = NULL,
		attempts = attempts - 1 WHERE id = $1 AND lease_token = $2`, c.id, c.token)
}

// errLeaseLost cancels a delivery whose lease another node took over.
var errLeaseLost = errors.New("outbox: the entry's lease was lost (another node took it over)")

// hold renews c's lease every third of Config.Lease until stop is called;
// when a renewal finds the lease taken over it cancels the delivery.
func (s *Store) hold(ctx context.Context, c claimed, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(s.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			tag, err := s.pool.Exec(ctx, `UPDATE mailwarden_outbox SET lease_until = now() + make_interval(secs => $3)
				WHERE id = $1 AND lease_token = $2`, c.id, c.token, s.cfg.Lease.Seconds())
			if err == nil && tag.RowsAffected() == 0 {
				cancel(errLeaseLost)
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// backoff is the delay after the n-th failed attempt (n >= 1), jittered
// as the spool's.
func (s *Store) backoff(n int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		if d > s.cfg.MaxBackoff/2 {
			d = s.cfg.MaxBackoff
			break
		}
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d/2 + time.Duration(s.cfg.Rand()*float64(d/2))
}

func (s *Store) attrs(c claimed, extra ...slog.Attr) []slog.Attr {
	g := append([]slog.Attr{slog.String("spool_id", strconv.FormatInt(c.id, 10)), slog.Int("attempt", c.attempts),
		slog.String("node", s.cfg.NodeID)}, extra...)
	return []slog.Attr{slog.String("message_id", c.env.MessageID), {Key: "outbox", Value: slog.GroupValue(g...)}}
}

// attempt delivers one claimed entry and records the outcome where the
// lease is still this node's.
func (s *Store) attempt(ctx context.Context, c claimed) outbox.Stats {
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := s.hold(lctx, c, cancel)
	defer stop()
	if c.state == "delivered" {
		// The relay accepted it; only its record is missing.
		return s.accepted(context.WithoutCancel(ctx), c, "", nil)
	}
	slot, err := s.pace(lctx)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(context.Cause(lctx), errLeaseLost) {
			s.log.LogAttrs(ctx, slog.LevelError, "outbox.error", s.attrs(c, slog.String("error", "rate limit: "+err.Error()))...)
		}
		s.release(ctx, c)
		return outbox.Stats{}
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "outbox.attempt", s.attrs(c)...)
	s.m.Attempt(ctx)
	actx, acancel := context.WithTimeout(lctx, s.cfg.AttemptTimeout)
	start := time.Now()
	qid, err := s.cfg.Deliverer.Deliver(actx, c.env, func() (io.Reader, error) { return s.openBody(actx, c.id, c.env.Size, c.sum) })
	took := time.Since(start)
	acancel()
	s.unpace(ctx, slot)
	bg := context.WithoutCancel(ctx)
	if outbox.Accepted(err) {
		s.m.Sent(ctx, took, "delivered")
		return s.accepted(bg, c, qid, err)
	}
	if err == nil {
		s.m.Sent(ctx, took, "delivered")
		// The row stays until its outbox.delivered record is stored:
		// deleted first, a record the trail then failed to take (a
		// collector killed meanwhile) would be lost for good, with
		// nothing left to retry it from. A record that fails makes the
		// entry one the relay accepted whose record is missing: kept as
		// delivered, never sent again, only its record retried.
		attrs := s.attrs(c, slog.Int64("age_ms", time.Since(c.created).Milliseconds()), slog.Int64("send_ms", took.Milliseconds()))
		attrs = append([]slog.Attr{slog.String("queue_id", qid)}, attrs...)
		if rerr := s.recordDelivered(bg, attrs); rerr != nil {
			return s.accepted(bg, c, qid, rerr)
		}
		s.m.Delivered(ctx)
		tag, derr := s.pool.Exec(bg, `DELETE FROM mailwarden_outbox WHERE id = $1 AND lease_token = $2`, c.id, c.token)
		problem := ""
		switch {
		case derr != nil:
			problem = "the entry could not be removed (it will be sent again after its lease expires): " + derr.Error()
		case tag.RowsAffected() == 0:
			problem = "the lease had been taken over or the entry purged (it may be sent twice)"
		}
		if problem != "" {
			s.log.LogAttrs(bg, slog.LevelError, "outbox.error", s.attrs(c, slog.String("error", "delivered, but "+problem))...)
		}
		return outbox.Stats{Delivered: 1}
	}
	s.m.Sent(ctx, took, "failed")
	if errors.Is(err, outbox.ErrCorrupt) {
		return s.finish(bg, c, "dead", "corrupt", err, 0)
	}
	if cause := context.Cause(lctx); errors.Is(cause, errLeaseLost) {
		s.log.LogAttrs(bg, slog.LevelWarn, "outbox.deferred", s.attrs(c, slog.String("reason", "lease lost"), slog.String("error", err.Error()))...)
		return outbox.Stats{}
	}
	if ctx.Err() != nil {
		// Shutting down: give it back untried, not the relay's fault.
		s.release(bg, c)
		s.log.LogAttrs(bg, slog.LevelInfo, "outbox.deferred", s.attrs(c, slog.String("reason", "interrupted"), slog.String("error", err.Error()))...)
		return outbox.Stats{Deferred: 1}
	}
	start2 := c.created
	if c.retried != nil && c.retried.After(start2) {
		start2 = *c.retried
	}
	now := s.cfg.Now()
	deadline := start2.Add(s.cfg.MaxAge)
	switch {
	case outbox.Temporary(err) && now.Before(deadline):
		wait := s.backoff(c.attempts)
		if now.Add(wait).After(deadline) {
			wait = deadline.Sub(now)
		}
		return s.finish(bg, c, "deferred", "temporary", err, wait)
	case outbox.Temporary(err):
		return s.finish(bg, c, "dead", "expired", err, 0)
	default:
		return s.finish(bg, c, "dead", "permanent", err, 0)
	}
}

// finish records a failed attempt's outcome, fenced by the lease token.
func (s *Store) finish(ctx context.Context, c claimed, state, reason string, cause error, wait time.Duration) outbox.Stats {
	dbReason := reason
	if state == "deferred" {
		dbReason = ""
	}
	var next time.Time
	err := s.pool.QueryRow(ctx, `UPDATE mailwarden_outbox SET state = $3, reason = $4, last_error = $5,
			next_attempt = now() + make_interval(secs => $6), lease_owner = NULL, lease_until = NULL
		WHERE id = $1 AND lease_token = $2 RETURNING next_attempt`, c.id, c.token, state, dbReason, cause.Error(), wait.Seconds()).Scan(&next)
	if err != nil {
		msg := err.Error()
		if err.Error() == "no rows in result set" {
			msg = "the lease had been taken over or the entry purged"
		}
		s.log.LogAttrs(ctx, slog.LevelError, "outbox.error", s.attrs(c, slog.String("error", "cannot save the entry's state: "+msg))...)
		return outbox.Stats{}
	}
	if state == "dead" {
		s.m.Dead(ctx, reason)
		s.log.LogAttrs(ctx, slog.LevelError, "outbox.dead", s.attrs(c, slog.String("reason", reason), slog.String("error", cause.Error()))...)
		return outbox.Stats{Dead: 1}
	}
	s.m.Deferred(ctx, reason)
	s.log.LogAttrs(ctx, slog.LevelWarn, "outbox.deferred", s.attrs(c, slog.String("reason", "temporary failure"),
		slog.String("error", cause.Error()), slog.Time("next_attempt", next))...)
	return outbox.Stats{Deferred: 1}
}
