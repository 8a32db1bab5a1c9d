package outbox

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// hookMeters is a MeterProvider whose outbox.delivered counter calls
// onDelivered on every Add; every other instrument does nothing.
type hookMeters struct {
	noop.MeterProvider
	onDelivered func()
}

func (p hookMeters) Meter(string, ...metric.MeterOption) metric.Meter {
	return hookMeter{onDelivered: p.onDelivered}
}

type hookMeter struct {
	noop.Meter
	onDelivered func()
}

func (m hookMeter) Int64Counter(name string, _ ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	if name == "outbox.delivered" {
		return hookCounter{f: m.onDelivered}, nil
	}
	return noop.Int64Counter{}, nil
}

type hookCounter struct {
	noop.Int64Counter
	f func()
}

func (c hookCounter) Add(context.Context, int64, ...metric.AddOption) { c.f() }

// TestDeliveredCountedBeforeRemoval: a delivery is counted before its
// entry's files go, so the delivered counter plus the entries in the spool
// never falls below what was queued (a metrics scrape in between would
// find a message neither spooled nor delivered). One at a time and in a
// batch.
func TestDeliveredCountedBeforeRemoval(t *testing.T) {
	for _, maxBatch := range []int{0, 10} {
		t.Run(fmt.Sprint("max-batch=", maxBatch), func(t *testing.T) {
			const n = 4
			dir := t.TempDir()
			var mu sync.Mutex
			delivered, low := 0, n
			count := func() {
				msgs, _ := filepath.Glob(filepath.Join(dir, "*"+msgExt))
				mu.Lock()
				defer mu.Unlock()
				// This delivery is not counted yet: its entry must still
				// be there.
				low = min(low, delivered+len(msgs))
				delivered++
			}
			td := &recordingDeliverer{sends: map[string]int{}, healed: true}
			var d Deliverer = td
			if maxBatch > 1 {
				d = recordingBatchDeliverer{td}
			}
			o, _ := open(t, Config{Dir: dir, Deliverer: d, MaxBatch: maxBatch, MeterProvider: hookMeters{onDelivered: count}})
			for i := range n {
				enqueue(t, o, fmt.Sprintf("m%d@example.com", i), message(i))
			}
			st, err := o.RunOnce(context.Background())
			if err != nil || st.Delivered != n {
				t.Fatalf("pass: %+v, %v; want %d delivered", st, err, n)
			}
			if msgs, _ := filepath.Glob(filepath.Join(dir, "*"+msgExt)); len(msgs) != 0 {
				t.Fatalf("%d entries left", len(msgs))
			}
			if delivered != n || low < n {
				t.Errorf("%d deliveries counted; delivered + spooled fell to %d, want %d", delivered, low, n)
			}
		})
	}
}
