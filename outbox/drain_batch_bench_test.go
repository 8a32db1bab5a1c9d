//go:build unix

package outbox

import (
	"context"
	"testing"
)

// drainSinkBatch is drainSink as a BatchDeliverer.
type drainSinkBatch struct{ DelivererFunc }

func (s drainSinkBatch) DeliverBatch(ctx context.Context, entries []BatchEntry) []BatchOutcome {
	return deliverEach(ctx, s, entries)
}

// BenchmarkDrainBatch is BenchmarkDrain's sink and SMTP drains in batches
// of DefaultMaxBatch (`outbox run --max-batch 50`).
func BenchmarkDrainBatch(b *testing.B) {
	b.Run("sink/max-batch=50", func(b *testing.B) {
		drainBench(b, Config{Deliverer: drainSinkBatch{drainSink()}, MaxBatch: DefaultMaxBatch}, true)
	})
	b.Run("smtp-data/max-batch=50", func(b *testing.B) {
		drainBench(b, Config{Deliverer: relayBatch{drainRelay(b)}, MaxBatch: DefaultMaxBatch}, true)
	})
}

func init() {
	drainSyncs = func(b *testing.B, o *Outbox) {
		o.dsync.mu.Lock()
		b.ReportMetric(float64(o.dsync.rounds)/float64(b.N), "dirsyncs/msg")
		o.dsync.mu.Unlock()
	}
}
