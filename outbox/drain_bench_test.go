//go:build unix

package outbox

import (
	"context"
	"io"
	"syscall"
	"testing"
	"time"

	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// BenchmarkDrain drains b.N queued 2 KiB entries with one RunOnce and
// reports msgs/s, the process's CPU and system time per entry (getrusage
// around the drain) and directory fsyncs per entry: into an in-process
// sink with the defaults `outbox run` uses (Concurrency 1, MaxBatch 1) and
// with Concurrency 4, over SMTP (go-smtp, over DATA, one session) with the
// defaults, and both in batches of DefaultMaxBatch. Run it with a fixed
// count (-benchtime 3000x): b.N is the spool's length.
//
// This file also compiles against the outbox of before issue 17 (commit
// 1b1c642), for a before/after run (bench/API_RESULTS.md);
// drain_batch_bench_test.go adds the batch drains and the fsync count.
func BenchmarkDrain(b *testing.B) {
	b.Run("enqueue-only", func(b *testing.B) { drainBench(b, Config{Deliverer: drainSink()}, false) })
	b.Run("sink/default", func(b *testing.B) { drainBench(b, Config{Deliverer: drainSink()}, true) })
	b.Run("sink/conc=4", func(b *testing.B) { drainBench(b, Config{Deliverer: drainSink(), Concurrency: 4}, true) })
	b.Run("smtp-data/default", func(b *testing.B) {
		r := drainRelay(b)
		d := DelivererFunc(func(ctx context.Context, env Envelope, open Opener) (string, error) {
			res, err := r.Send(ctx, transport.Envelope{From: env.From, To: env.To, Size: env.Size, MessageID: env.MessageID}, transport.Opener(open))
			if err != nil {
				return "", err
			}
			return res.QueueID, nil
		})
		drainBench(b, Config{Deliverer: d}, true)
	})
}

// drainSyncs reports the directory fsyncs per entry where the outbox
// counts them (drain_batch_bench_test.go).
var drainSyncs func(*testing.B, *Outbox)

// drainSink reads and discards each message.
func drainSink() DelivererFunc {
	return DelivererFunc(func(ctx context.Context, env Envelope, open Opener) (string, error) {
		r, err := open()
		if err != nil {
			return "", err
		}
		defer r.(io.Closer).Close()
		_, err = io.Copy(io.Discard, r)
		return "", err
	})
}

// drainBench queues b.N entries in a new spool with cfg and, if drain is
// set, times one RunOnce delivering them all.
func drainBench(b *testing.B, cfg Config, drain bool) {
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
	if !drain {
		return
	}
	c0, s0 := drainCPU()
	st, err := o.RunOnce(context.Background())
	b.StopTimer()
	c1, s1 := drainCPU()
	if err != nil || st.Delivered != b.N {
		b.Fatalf("%+v %v", st, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(c1-c0)/1e3/float64(b.N), "cpu-us/msg")
	b.ReportMetric(float64(s1-s0)/1e3/float64(b.N), "sys-us/msg")
	if drainSyncs != nil {
		drainSyncs(b, o)
	}
}

// drainRelay is a Relay to an in-process go-smtp server without CHUNKING.
func drainRelay(b *testing.B) *transport.Relay {
	srv := smtptest.Start(b, smtptest.Options{Discard: true, NoChunking: true})
	addr, err := transport.ParseAddress(srv.Addr)
	if err != nil {
		b.Fatal(err)
	}
	r, err := transport.NewRelay(transport.RelayConfig{Servers: []transport.Address{addr},
		Session: &transport.Config{TLS: transport.TLSNone, HeloName: "localhost"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

// drainCPU is the process's CPU time so far, and the system part of it.
func drainCPU() (all, sys time.Duration) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Stime.Nano())
}
