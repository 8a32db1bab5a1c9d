package outbox

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

var benchBody = "From: alerts@example.com\r\nTo: ops@example.org\r\nSubject: disk full\r\n\r\n" + strings.Repeat("the disk is full on host db-01\r\n", 64) // ~2 KiB

func benchEnv() Envelope {
	return Envelope{From: "alerts@example.com", To: []string{"ops@example.org"}, MessageID: "bench@example.com"}
}

// BenchmarkEnqueue stores 2 KiB messages durably (file and directory
// fsync'd each time), one after another.
func BenchmarkEnqueue(b *testing.B) {
	o, err := Open(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchBody)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := o.Enqueue(context.Background(), benchEnv(), body(benchBody)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkEnqueueParallel is Enqueue from several goroutines at once.
func BenchmarkEnqueueParallel(b *testing.B) {
	o, err := Open(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchBody)))
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := o.Enqueue(context.Background(), benchEnv(), body(benchBody)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// benchDeliver queues b.N messages, then times RunOnce draining them
// through d.
func benchDeliver(b *testing.B, d Deliverer, conc int) {
	o := benchDrain(b, Config{Deliverer: d, Concurrency: conc})
	o.dsync.mu.Lock()
	b.ReportMetric(float64(o.dsync.rounds)/float64(b.N), "dirsyncs/msg")
	o.dsync.mu.Unlock()
}

// BenchmarkDeliverSink drains the spool into an in-process sink that reads
// and discards each message: the outbox's own cost per delivery (verify,
// read, remove; the directory fsyncs of removals made meanwhile are shared).
func BenchmarkDeliverSink(b *testing.B) {
	sink := DelivererFunc(func(ctx context.Context, env Envelope, open Opener) (string, error) {
		r, err := open()
		if err != nil {
			return "", err
		}
		defer r.(io.Closer).Close()
		_, err = io.Copy(io.Discard, r)
		return "", err
	})
	b.Run("conc=1", func(b *testing.B) { benchDeliver(b, sink, 1) })
	b.Run("conc=4", func(b *testing.B) { benchDeliver(b, sink, 4) })
}

// BenchmarkDeliverSMTP drains the spool over real SMTP sessions (reused,
// pipelined) to an in-process go-smtp server that discards the data.
func BenchmarkDeliverSMTP(b *testing.B) {
	srv := smtptest.Start(b, smtptest.Options{Discard: true})
	addr, err := transport.ParseAddress(srv.Addr)
	if err != nil {
		b.Fatal(err)
	}
	for _, conc := range []int{1, 4} {
		b.Run("conc="+string(rune('0'+conc)), func(b *testing.B) {
			r, err := transport.NewRelay(transport.RelayConfig{Servers: []transport.Address{addr}, MaxIdle: conc,
				Session: &transport.Config{TLS: transport.TLSNone, HeloName: "localhost"}})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			d := DelivererFunc(func(ctx context.Context, env Envelope, open Opener) (string, error) {
				res, err := r.Send(ctx, transport.Envelope{From: env.From, To: env.To, Size: env.Size, MessageID: env.MessageID}, transport.Opener(open))
				if err != nil {
					return "", err
				}
				return res.QueueID, nil
			})
			benchDeliver(b, d, conc)
		})
	}
}

// relayBatch delivers through a transport.Relay, one entry with Send or a
// group with SendBatch.
type relayBatch struct{ r *transport.Relay }

func (d relayBatch) Deliver(ctx context.Context, env Envelope, open Opener) (string, error) {
	res, err := d.r.Send(ctx, transport.Envelope{From: env.From, To: env.To, Size: env.Size, MessageID: env.MessageID}, transport.Opener(open))
	if err != nil {
		return "", err
	}
	return res.QueueID, nil
}

func (d relayBatch) DeliverBatch(ctx context.Context, entries []BatchEntry) []BatchOutcome {
	items := make([]transport.RelayBatchItem, len(entries))
	for i, e := range entries {
		env := e.Envelope
		items[i] = transport.RelayBatchItem{Envelope: transport.Envelope{From: env.From, To: env.To, Size: env.Size, MessageID: env.MessageID}, Open: transport.Opener(e.Open)}
	}
	res, err := d.r.SendBatch(ctx, items)
	out := make([]BatchOutcome, len(entries))
	for i, r := range res {
		switch {
		case r.State == transport.BatchAccepted:
			out[i].QueueID = r.Result.QueueID
		case r.Err != nil:
			out[i].Err = r.Err
		default:
			out[i].Err = err
		}
	}
	return out
}

// BenchmarkDeliverSMTPBatch drains the spool over one SMTP session to the
// in-process go-smtp server (no CHUNKING, so over DATA), entry by entry
// (MaxBatch 1) and in pipelined batches of up to 50, in the same run.
func BenchmarkDeliverSMTPBatch(b *testing.B) {
	srv := smtptest.Start(b, smtptest.Options{Discard: true, NoChunking: true})
	addr, err := transport.ParseAddress(srv.Addr)
	if err != nil {
		b.Fatal(err)
	}
	for _, max := range []int{1, DefaultMaxBatch} {
		b.Run("max-batch="+strconv.Itoa(max), func(b *testing.B) {
			r, err := transport.NewRelay(transport.RelayConfig{Servers: []transport.Address{addr},
				Session: &transport.Config{TLS: transport.TLSNone, HeloName: "localhost"}})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			benchDrain(b, Config{Deliverer: relayBatch{r}, MaxBatch: max})
		})
	}
}

// benchDrain opens a spool in a temporary directory with cfg, queues b.N
// messages, times RunOnce draining them and reports msgs/s; it returns
// the outbox for further metrics.
func benchDrain(b *testing.B, cfg Config) *Outbox {
	cfg.Dir = b.TempDir()
	o, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		if _, err := o.Enqueue(context.Background(), benchEnv(), body(benchBody)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(benchBody)))
	b.ResetTimer()
	st, err := o.RunOnce(context.Background())
	b.StopTimer()
	if err != nil || st.Delivered != b.N {
		b.Fatalf("%+v %v", st, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	return o
}
