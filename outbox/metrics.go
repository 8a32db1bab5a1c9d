package outbox

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// MeterName is the OpenTelemetry meter both stores record on.
const MeterName = "mailwarden/outbox"

// Metrics are the outbox's OpenTelemetry instruments (meter MeterName),
// the same names for the spool directory and the PostgreSQL store:
//
//	outbox.entries            gauge, entries by state (queued, deferred, dead, delivered, leased)
//	outbox.oldest_age         gauge, seconds since the oldest entry waiting (queued or deferred) was queued
//	outbox.enqueued           counter, entries queued through this process
//	outbox.attempts           counter, delivery attempts
//	outbox.delivered          counter, entries the relay accepted
//	outbox.deferred           counter, by class (temporary)
//	outbox.dead               counter, by class (permanent, expired, corrupt)
//	outbox.send.duration      histogram, seconds per delivery attempt, by outcome (delivered, failed)
//	outbox.rate_limit.waits   counter, sends that waited for the rate limit
//	outbox.rate_limit.wait    counter, seconds waited for it
//
// "leased" counts the entries being delivered (also counted in their
// state). The gauges are read from the store when the reader collects; the
// counters are this process's.
type Metrics struct {
	enq, att, del, def, deadC, waits metric.Int64Counter
	waitSec                          metric.Float64Counter
	dur                              metric.Float64Histogram
}

// A Depth is the queue's size at one moment.
type Depth struct {
	ByState   map[string]int64 // queued, deferred, dead, delivered (record pending); leased: being delivered (also counted in its state)
	OldestAge time.Duration    // of the oldest entry queued or deferred; zero when none
}

// DepthStates are the states outbox.entries reports, in order.
var DepthStates = []string{"queued", "deferred", "dead", "delivered", "leased"}

// NewMetrics creates the instruments on mp (nil: no metrics) with the
// gauges reading the queue through depth (nil: no gauges).
func NewMetrics(mp metric.MeterProvider, depth func(context.Context) (Depth, error)) (*Metrics, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter(MeterName)
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
	out.enq = c("outbox.enqueued", "Entries queued through this process.", "{entry}")
	out.att = c("outbox.attempts", "Delivery attempts.", "{attempt}")
	out.del = c("outbox.delivered", "Entries the relay accepted.", "{entry}")
	out.def = c("outbox.deferred", "Attempts deferred after a temporary failure, by class.", "{attempt}")
	out.deadC = c("outbox.dead", "Entries dead-lettered, by class.", "{entry}")
	out.waits = c("outbox.rate_limit.waits", "Sends that waited for the rate limit.", "{send}")
	if err != nil {
		return nil, err
	}
	if out.waitSec, err = m.Float64Counter("outbox.rate_limit.wait", metric.WithDescription("Time waited for the rate limit."), metric.WithUnit("s")); err != nil {
		return nil, err
	}
	if out.dur, err = m.Float64Histogram("outbox.send.duration", metric.WithDescription("Duration of delivery attempts."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)); err != nil {
		return nil, err
	}
	if depth == nil {
		return out, nil
	}
	entries, err := m.Int64ObservableGauge("outbox.entries", metric.WithDescription("Entries in the outbox by state."), metric.WithUnit("{entry}"))
	if err != nil {
		return nil, err
	}
	oldest, err := m.Float64ObservableGauge("outbox.oldest_age", metric.WithDescription("Age of the oldest entry waiting for delivery (queued or deferred)."), metric.WithUnit("s"))
	if err != nil {
		return nil, err
	}
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		d, err := depth(ctx)
		if err != nil {
			return err
		}
		for _, st := range DepthStates {
			o.ObserveInt64(entries, d.ByState[st], metric.WithAttributes(attribute.String("state", st)))
		}
		o.ObserveFloat64(oldest, d.OldestAge.Seconds())
		return nil
	}, entries, oldest)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Enqueued counts an entry queued.
func (m *Metrics) Enqueued(ctx context.Context) { m.enq.Add(ctx, 1) }

// Attempt counts a delivery attempt.
func (m *Metrics) Attempt(ctx context.Context) { m.att.Add(ctx, 1) }

// Delivered counts an entry the relay accepted.
func (m *Metrics) Delivered(ctx context.Context) { m.del.Add(ctx, 1) }

// Deferred counts an attempt deferred, by class.
func (m *Metrics) Deferred(ctx context.Context, class string) {
	m.def.Add(ctx, 1, metric.WithAttributes(attribute.String("class", class)))
}

// Dead counts an entry dead-lettered, by class.
func (m *Metrics) Dead(ctx context.Context, class string) {
	m.deadC.Add(ctx, 1, metric.WithAttributes(attribute.String("class", class)))
}

// Sent records how long an attempt took and its outcome (delivered,
// failed).
func (m *Metrics) Sent(ctx context.Context, d time.Duration, outcome string) {
	m.dur.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("outcome", outcome)))
}

// RateWait counts a send that waited d for the rate limit.
func (m *Metrics) RateWait(ctx context.Context, d time.Duration) {
	m.waits.Add(ctx, 1)
	m.waitSec.Add(ctx, d.Seconds())
}

// Depth counts the spool's entries by state ("leased": being delivered by
// this Outbox) and the age of the oldest one queued or deferred.
func (o *Outbox) Depth(ctx context.Context) (Depth, error) {
	list, err := o.List(ctx)
	if err != nil {
		return Depth{}, err
	}
	d := Depth{ByState: map[string]int64{}}
	for _, st := range DepthStates {
		d.ByState[st] = 0
	}
	var oldest time.Time
	for _, e := range list {
		d.ByState[string(e.State)]++
		if (e.State == StateQueued || e.State == StateDeferred) && (oldest.IsZero() || e.Created.Before(oldest)) {
			oldest = e.Created
		}
	}
	o.mu.Lock()
	d.ByState["leased"] = int64(len(o.inflight))
	o.mu.Unlock()
	if !oldest.IsZero() {
		d.OldestAge = max(o.cfg.Now().Sub(oldest), 0)
	}
	return d, nil
}
