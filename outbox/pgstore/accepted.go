package pgstore

import (
	"context"
	"log/slog"
	"time"

	"mailwarden/outbox"
)

// accepted settles an entry the relay accepted although the delivery
// reported an error (see outbox.Accepted), or whose record is pending from
// such a delivery, as the spool does: the entry is kept as 'delivered'
// (never sent again) until its outbox.delivered record is stored, then
// removed; a failed record is tried again after a backoff. Every write is
// fenced by the lease token. A delivery is counted once, when the relay
// accepted it.
func (s *Store) accepted(ctx context.Context, c claimed, qid string, cause error) outbox.Stats {
	first := c.state != "delivered"
	var out outbox.Stats
	if first {
		out.Delivered = 1
		s.m.Delivered(ctx)
		c.queueID, c.lastError = qid, cause.Error()
		// The outcome first: if the record fails and the node dies, the
		// entry must still never be sent again.
		tag, err := s.pool.Exec(ctx, `UPDATE mailwarden_outbox SET state = 'delivered', queue_id = $3, last_error = $4
			WHERE id = $1 AND lease_token = $2`, c.id, c.token, c.queueID, c.lastError)
		if err != nil || tag.RowsAffected() == 0 {
			msg := "the lease had been taken over or the entry purged"
			if err != nil {
				msg = err.Error()
			}
			s.log.LogAttrs(ctx, slog.LevelError, "outbox.error", s.attrs(c, slog.String("error",
				"delivered, but its state could not be saved (it may be sent again after its lease expires): "+msg))...)
		}
	}
	attrs := append([]slog.Attr{slog.String("queue_id", c.queueID)}, s.attrs(c,
		slog.Int64("age_ms", time.Since(c.created).Milliseconds()),
		slog.Bool("record_retried", c.recordTries > 0),
		slog.String("audit_error", c.lastError))...)
	if rerr := s.recordDelivered(ctx, attrs); rerr != nil {
		tries := c.recordTries + 1
		last := "delivered; its audit record is pending: " + rerr.Error()
		var next time.Time
		err := s.pool.QueryRow(ctx, `UPDATE mailwarden_outbox SET record_tries = $3, last_error = $4,
				next_attempt = now() + make_interval(secs => $5), lease_owner = NULL, lease_until = NULL
			WHERE id = $1 AND lease_token = $2 RETURNING next_attempt`, c.id, c.token, tries, last, s.backoff(tries).Seconds()).Scan(&next)
		if err != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "outbox.error", s.attrs(c, slog.String("error", "cannot save the entry's state: "+err.Error()))...)
		}
		s.log.LogAttrs(ctx, slog.LevelError, "outbox.record_pending", s.attrs(c, slog.String("queue_id", c.queueID),
			slog.String("error", last), slog.Time("next_attempt", next))...)
		return out
	}
	s.pool.Exec(ctx, `DELETE FROM mailwarden_outbox WHERE id = $1 AND lease_token = $2`, c.id, c.token)
	return out
}

// recordDelivered writes the outbox.delivered record and reports whether
// it was stored (see outbox.RecordTracker).
func (s *Store) recordDelivered(ctx context.Context, attrs []slog.Attr) error {
	rt, ok := s.cfg.Deliverer.(outbox.RecordTracker)
	if !ok {
		s.log.LogAttrs(ctx, slog.LevelInfo, "outbox.delivered", attrs...)
		return nil
	}
	rctx, wait := rt.TrackRecords(ctx)
	s.log.LogAttrs(rctx, slog.LevelInfo, "outbox.delivered", attrs...)
	return wait(rctx)
}
