package pgstore

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Metrics are the outbox's OpenTelemetry instruments (meter
// "mailwarden/outbox"):
//
//	outbox.entries            gauge, entries by state (queued, deferred, dead, delivered, leased)
//	outbox.oldest_age         gauge, seconds since the oldest undelivered entry was queued
//	outbox.enqueued           counter, entries queued by this node
//	outbox.attempts           counter, delivery attempts
//	outbox.delivered          counter, entries the relay accepted
//	outbox.deferred           counter, by class (temporary)
//	outbox.dead               counter, by class (permanent, expired, corrupt)
//	outbox.send.duration      histogram, seconds per delivery attempt, by outcome
//	outbox.rate_limit.waits   counter, sends that waited for the shared rate limit
//	outbox.rate_limit.wait    counter, seconds waited for it
//
// The gauges are read from the database when the reader collects (they are
// the cluster's, the same on every node); the counters are this node's.
type Metrics struct {
	enq, att, del, def, deadC, waits metric.Int64Counter
	waitSec                          metric.Float64Counter
	dur                              metric.Float64Histogram
}

// NewMetrics creates the instruments on mp (nil: no metrics) with the
// gauges reading the queue through s.
func NewMetrics(mp metric.MeterProvider, s *Store) (*Metrics, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter("mailwarden/outbox")
	out := &Metrics{}
	var err error
	c := func(name, desc, unit string) metric.Int64Counter {
		if err != nil {
			return nil
		}
		var x metric.Int64Counter
		x, err = m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		return x
	}
	out.enq = c("outbox.enqueued", "Entries queued by this node.", "{entry}")
	out.att = c("outbox.attempts", "Delivery attempts.", "{attempt}")
	out.del = c("outbox.delivered", "Entries the relay accepted.", "{entry}")
	out.def = c("outbox.deferred", "Attempts deferred after a temporary failure, by class.", "{attempt}")
	out.deadC = c("outbox.dead", "Entries dead-lettered, by class.", "{entry}")
	out.waits = c("outbox.rate_limit.waits", "Sends that waited for the shared rate limit.", "{send}")
	if err != nil {
		return nil, err
	}
	if out.waitSec, err = m.Float64Counter("outbox.rate_limit.wait", metric.WithDescription("Time waited for the shared rate limit."), metric.WithUnit("s")); err != nil {
		return nil, err
	}
	if out.dur, err = m.Float64Histogram("outbox.send.duration", metric.WithDescription("Duration of delivery attempts."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)); err != nil {
		return nil, err
	}
	entries, err := m.Int64ObservableGauge("outbox.entries", metric.WithDescription("Entries in the outbox by state."), metric.WithUnit("{entry}"))
	if err != nil {
		return nil, err
	}
	oldest, err := m.Float64ObservableGauge("outbox.oldest_age", metric.WithDescription("Age of the oldest entry not dead-lettered."), metric.WithUnit("s"))
	if err != nil {
		return nil, err
	}
	if s != nil {
		_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
			d, err := s.Depth(ctx)
			if err != nil {
				return err
			}
			for _, st := range []string{"queued", "deferred", "dead", "delivered", "leased"} {
				o.ObserveInt64(entries, d.ByState[st], metric.WithAttributes(attribute.String("state", st)))
			}
			o.ObserveFloat64(oldest, d.OldestAge.Seconds())
			return nil
		}, entries, oldest)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// A Depth is the queue's size at one moment.
type Depth struct {
	ByState   map[string]int64 // queued, deferred, dead, delivered (record pending); leased: being delivered (also counted in its state)
	OldestAge time.Duration    // of the oldest entry not dead; zero when none
}

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

func (m *Metrics) enqueued(ctx context.Context)  { m.enq.Add(ctx, 1) }
func (m *Metrics) attempt(ctx context.Context)   { m.att.Add(ctx, 1) }
func (m *Metrics) delivered(ctx context.Context) { m.del.Add(ctx, 1) }
func (m *Metrics) deferred(ctx context.Context, class string) {
	m.def.Add(ctx, 1, metric.WithAttributes(attribute.String("class", class)))
}
func (m *Metrics) dead(ctx context.Context, class string) {
	m.deadC.Add(ctx, 1, metric.WithAttributes(attribute.String("class", class)))
}
func (m *Metrics) sent(ctx context.Context, d time.Duration, outcome string) {
	m.dur.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("outcome", outcome)))
}
func (m *Metrics) rateWait(ctx context.Context, d time.Duration) {
	m.waits.Add(ctx, 1)
	m.waitSec.Add(ctx, d.Seconds())
}
