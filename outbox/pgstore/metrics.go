package pgstore

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/metric"

	"mailwarden/outbox"
)

// Metrics are the outbox's OpenTelemetry instruments, the same as the
// spool's: see outbox.Metrics for their names. The gauges are read from
// the database when the reader collects (they are the cluster's, the same
// on every node); the counters are this node's.
type Metrics = outbox.Metrics

// NewMetrics creates the instruments on mp (nil: no metrics) with the
// gauges reading the queue through s (nil: no gauges).
func NewMetrics(mp metric.MeterProvider, s *Store) (*Metrics, error) {
	if s == nil {
		return outbox.NewMetrics(mp, nil)
	}
	return outbox.NewMetrics(mp, s.Depth)
}

// A Depth is the queue's size at one moment (see outbox.Depth).
type Depth = outbox.Depth

// Depth counts the entries by state, from the database.
func (s *Store) Depth(ctx context.Context) (Depth, error) {
	d := Depth{ByState: map[string]int64{}}
	var q, df, dead, delivered, leased int64
	var age float64
	err := s.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'deferred'),
			count(*) FILTER (WHERE state = 'dead'), count(*) FILTER (WHERE state = 'delivered'),
			count(*) FILTER (WHERE lease_until > now()),
			coalesce(extract(epoch FROM now() - min(created) FILTER (WHERE state IN ('queued', 'deferred'))), 0)::float8
		FROM mailwarden_outbox`).Scan(&q, &df, &dead, &delivered, &leased, &age)
	if err != nil {
		return d, err
	}
	d.ByState["queued"], d.ByState["deferred"], d.ByState["dead"], d.ByState["delivered"], d.ByState["leased"] = q, df, dead, delivered, leased
	d.OldestAge = time.Duration(age * float64(time.Second))
	return d, nil
}
