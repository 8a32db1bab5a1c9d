package report

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// benchTrail writes a trail of about n records with the real writer: a
// year of alerts, most through the outbox (queued, attempt, intent, send,
// delivered), every twentieth deferred once, every hundredth dead, rotated
// every 64 MB. It returns the files and the number of records.
func benchTrail(b *testing.B, dir string, n int) []string {
	clock := &fixedClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	w := newTrailWriter(b, dir, clock, 64<<20)
	step := time.Duration(int64(365*24*time.Hour) / int64(n/5+1))
	for i, recs := 0, 0; recs < n; i++ {
		m := msgInfo{profile: "alerts", id: fmt.Sprintf("bench%07d@alerts.example.com", i), from: "alerts@example.com",
			rcpts: []string{"oncall@example.com"}, server: "mail.example.com:587", smime: i%4 == 0}
		spool := fmt.Sprintf("%024x", i)
		w.queued(m, spool)
		w.outbox(slog.LevelInfo, "outbox.attempt", m, spool, 1)
		w.intent(m, true)
		recs += 3
		switch {
		case i%100 == 99:
			w.send(m, true, 550, "5.1.1", "Recipient address rejected", "")
			w.outbox(slog.LevelError, "outbox.dead", m, spool, 1, slog.String("reason", "permanent"), slog.String("error", "transport: data: 550 5.1.1"))
			recs += 2
		case i%20 == 19:
			w.send(m, true, 451, "4.3.0", "Try again later", "")
			w.outbox(slog.LevelWarn, "outbox.deferred", m, spool, 1, slog.String("reason", "temporary failure"), slog.String("error", "transport: data: 451 4.3.0"))
			clock.advance(time.Minute)
			w.outbox(slog.LevelInfo, "outbox.attempt", m, spool, 2)
			w.intent(m, true)
			w.send(m, true, 250, "2.0.0", "Ok", "Q"+spool[16:])
			w.outbox(slog.LevelInfo, "outbox.delivered", m, spool, 2, slog.Int64("age_ms", 61_000))
			recs += 6
		default:
			w.send(m, true, 250, "2.0.0", "Ok", "Q"+spool[16:])
			w.outbox(slog.LevelInfo, "outbox.delivered", m, spool, 1, slog.Int64("age_ms", 900))
			recs += 2
		}
		clock.advance(step)
	}
	w.close()
	return w.files()
}

var benchTrails sync.Map // n -> []string, kept for the process

// BenchmarkBuild measures Build plus WriteHTML (to io.Discard) on trails of
// 100,000 and 1,000,000 records: records per second and the peak Go heap
// while reporting (sampled every 5 ms). Run it alone, for instance
//
//	go test ./audit/report -run '^$' -bench Build -benchtime 1x
func BenchmarkBuild(outer *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		outer.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			v, ok := benchTrails.Load(n)
			if !ok {
				dir, err := os.MkdirTemp("", "mailwarden-bench-trail-*")
				if err != nil {
					b.Fatal(err)
				}
				// The trail outlives this run (run again with a larger
				// b.N): it goes when the whole benchmark ends.
				outer.Cleanup(func() {
					benchTrails.Delete(n)
					os.RemoveAll(dir)
				})
				v = benchTrail(b, dir, n)
				benchTrails.Store(n, v)
			}
			files := v.([]string)
			var size int64
			for _, f := range files {
				if st, err := os.Stat(f); err == nil {
					size += st.Size()
				}
			}
			runtime.GC()
			base := heapBytes()
			var peak uint64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				t := time.NewTicker(5 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						peak = max(peak, heapBytes())
					}
				}
			}()
			b.ResetTimer()
			records := 0
			for range b.N {
				rep, err := Build(Options{Key: testKey, TempDir: filepath.Dir(files[0])}, files...)
				if err != nil {
					b.Fatal(err)
				}
				if rep.Verdict.Status != StatusIntact {
					b.Fatalf("verdict %s", rep.Verdict.Summary)
				}
				if err := rep.WriteHTML(io.Discard); err != nil {
					b.Fatal(err)
				}
				records += rep.Verdict.Records
				rep.Close()
			}
			b.StopTimer()
			close(stop)
			<-done
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(peak-min(base, peak))/(1<<20), "peak-heap-growth-MB")
			b.ReportMetric(float64(size)/(1<<20), "trail-MB")
		})
	}
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
