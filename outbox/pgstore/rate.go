package pgstore

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// pace takes a send slot under the cluster-wide rate limit, waiting while
// RateLimit slots of RateKey are held within the last RatePeriod (by the
// database's clock). A slot is stamped one AttemptTimeout ahead while its
// send is under way, and with the send's end by unpace: it counts from the
// moment it is taken until at least the end of the send, so no window of
// the relay's log holds more than RateLimit messages. It returns the
// slot's row (0 when there is no limit).
func (s *Store) pace(ctx context.Context) (int64, error) {
	if s.cfg.RateLimit <= 0 {
		return 0, ctx.Err()
	}
	key := s.cfg.RateKey
	var waited time.Duration
	for {
		var slot int64
		var wait float64
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('mailwarden_outbox_rate:' || $1, 0))`, key); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM mailwarden_outbox_send WHERE key = $1 AND at < clock_timestamp() - make_interval(secs => $2)`,
				key, s.cfg.RatePeriod.Seconds()); err != nil {
				return err
			}
			var n int
			var oldest *time.Time
			var dbnow time.Time
			if err := tx.QueryRow(ctx, `SELECT count(*), min(at), clock_timestamp() FROM mailwarden_outbox_send WHERE key = $1`, key).Scan(&n, &oldest, &dbnow); err != nil {
				return err
			}
			if n < s.cfg.RateLimit {
				return tx.QueryRow(ctx, `INSERT INTO mailwarden_outbox_send (key, at) VALUES ($1, clock_timestamp() + make_interval(secs => $2)) RETURNING id`,
					key, s.cfg.AttemptTimeout.Seconds()).Scan(&slot)
			}
			wait = oldest.Add(s.cfg.RatePeriod).Sub(dbnow).Seconds()
			return nil
		})
		if err != nil {
			return 0, err
		}
		if slot != 0 {
			if waited > 0 {
				s.m.RateWait(ctx, waited)
			}
			return slot, nil
		}
		// The oldest slot may be a send under way, stamped ahead: look
		// again at least every PollInterval.
		d := min(max(time.Duration(wait*float64(time.Second)), time.Millisecond), s.cfg.PollInterval)
		waited += d
		s.log.LogAttrs(ctx, slog.LevelDebug, "outbox.paced", slog.Group("outbox", slog.Int64("wait_ms", d.Milliseconds())))
		if err := s.cfg.Sleep(ctx, d); err != nil {
			return 0, err
		}
	}
}

// unpace stamps a slot with the end of its send.
func (s *Store) unpace(ctx context.Context, slot int64) {
	if slot == 0 {
		return
	}
	s.pool.Exec(context.WithoutCancel(ctx), `UPDATE mailwarden_outbox_send SET at = clock_timestamp() WHERE id = $1`, slot)
}
