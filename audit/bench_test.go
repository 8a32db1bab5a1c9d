package audit

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BenchmarkFileSink measures records per second through a Handler into the
// File sink (keyed chain) with each fsync policy, using a realistic
// smtp.send summary.
func BenchmarkFileSink(b *testing.B) {
	for _, p := range []SyncPolicy{SyncEvery, SyncInterval, SyncNone} {
		b.Run(p.String(), func(b *testing.B) {
			f, err := OpenFile(FileConfig{Path: filepath.Join(b.TempDir(), "audit.log"), Key: testKey, Sync: p, MaxSize: 64 << 20})
			if err != nil {
				b.Fatal(err)
			}
			h := NewHandler(f, nil)
			log := slog.New(h).With("profile", "exchange-online")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				log.LogAttrs(ctx, slog.LevelInfo, "smtp.send",
					slog.String("server", "smtp.office365.com:587"),
					slog.String("addr", "52.97.1.2:587"),
					slog.Group("tls", slog.String("mode", "starttls"), slog.String("version", "TLS 1.3"),
						slog.String("cipher", "TLS_AES_256_GCM_SHA384"),
						slog.String("peer_sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")),
					slog.Group("auth", slog.String("mech", "XOAUTH2"), slog.String("user", "alerts@example.com")),
					slog.String("from", "alerts@example.com"),
					slog.Any("rcpts", []map[string]any{{"addr": "ops@example.com", "code": 250, "enhanced": "2.1.5"}}),
					slog.String("message_id", "<20261122183700.1234@example.com>"),
					slog.Int("size", 48213),
					slog.Group("reply", slog.Int("code", 250), slog.String("enhanced", "2.0.0"), slog.String("text", "OK <queued as ABC123>")),
					slog.String("queue_id", "ABC123"),
					slog.Int("duration_ms", 812),
				)
			}
			b.StopTimer()
			if err := h.Err(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
			h.Close()
		})
	}
}

// BenchmarkTrailSend is the audit trail's part of one Sender.Send, as New
// builds it (a File behind an Async queue): an intent record, a Wait, a
// recipient record and the summary, a Wait; under each fsync policy, from
// one sender and from 16 at once (whose records pile up and are written,
// and under every fsynced, together).
func BenchmarkTrailSend(b *testing.B) {
	send := func(b *testing.B, h *Handler, i int) {
		ctx := context.Background()
		tr := h.Track()
		log := slog.New(tr).With("profile", "bench")
		if err := tr.Record(ctx, slog.LevelInfo, "smtp.intent", slog.String("from", "a@example.org"), slog.Any("rcpts", []string{"b@example.net"}), slog.Int("i", i)); err != nil {
			b.Fatal(err)
		}
		if err := tr.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		log.LogAttrs(ctx, slog.LevelInfo, "smtp.rcpt", slog.String("server", "127.0.0.1:25"), slog.Group("rcpt", slog.String("addr", "b@example.net"), slog.Int("code", 250)))
		log.LogAttrs(ctx, slog.LevelInfo, "smtp.send", slog.String("server", "127.0.0.1:25"), slog.String("message_id", "<x@example.org>"), slog.Int("size", 2048),
			slog.Group("reply", slog.Int("code", 250), slog.String("text", "OK")))
		if err := tr.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range []SyncPolicy{SyncEvery, SyncNone} {
		for _, senders := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/senders-%d", p, senders), func(b *testing.B) {
				h, err := New(context.Background(), Config{File: &FileConfig{Path: filepath.Join(b.TempDir(), "audit.log"), Sync: p}})
				if err != nil {
					b.Fatal(err)
				}
				defer h.Close()
				b.ReportAllocs()
				if senders == 1 {
					for i := 0; b.Loop(); i++ {
						send(b, h, i)
					}
				} else {
					b.SetParallelism((senders + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
					b.RunParallel(func(pb *testing.PB) {
						for i := 0; pb.Next(); i++ {
							send(b, h, i)
						}
					})
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
			})
		}
	}
}
