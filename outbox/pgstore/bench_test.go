package pgstore

import (
	"context"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"mailwarden/outbox"
)

var benchBody = "From: alerts@example.com\r\nTo: ops@example.org\r\nSubject: disk full\r\n\r\n" + strings.Repeat("the disk is full on host db-01\r\n", 64) // ~2 KiB

// sink reads and discards each message.
var sink = outbox.DelivererFunc(func(ctx context.Context, env outbox.Envelope, open outbox.Opener) (string, error) {
	r, err := open()
	if err != nil {
		return "", err
	}
	defer r.(io.Closer).Close()
	_, err = io.Copy(io.Discard, r)
	return "", err
})

// BenchmarkStores compares the spool directory and PostgreSQL (the test
// environment's, on this machine) in one run: durable enqueue one at a time
// (msgs/s and p99 latency), enqueue from 4 goroutines, and draining into an
// in-process sink with 4 deliveries at once on 1 node and on 3 nodes.
func BenchmarkStores(b *testing.B) {
	open := map[string]func(b *testing.B, d outbox.Deliverer) outbox.Store{
		"spool": func(b *testing.B, d outbox.Deliverer) outbox.Store {
			o, err := outbox.Open(outbox.Config{Dir: b.TempDir(), Deliverer: d, Concurrency: 4})
			if err != nil {
				b.Fatal(err)
			}
			return o
		},
		"postgres": func(b *testing.B, d outbox.Deliverer) outbox.Store {
			pool := testPool(b)
			s, err := Open(context.Background(), pool, Config{Config: outbox.Config{Deliverer: d, Concurrency: 4, PollInterval: 10 * time.Millisecond}})
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	}
	env := outbox.Envelope{From: "alerts@example.com", To: []string{"ops@example.org"}, MessageID: "bench@example.com"}
	write := func(w io.Writer) error { _, err := io.WriteString(w, benchBody); return err }
	for _, name := range []string{"spool", "postgres"} {
		b.Run("enqueue/"+name, func(b *testing.B) {
			st := open[name](b, nil)
			lat := make([]time.Duration, 0, b.N)
			b.SetBytes(int64(len(benchBody)))
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				if _, err := st.Enqueue(context.Background(), env, write); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
		b.Run("enqueue-4goroutines/"+name, func(b *testing.B) {
			st := open[name](b, nil)
			b.SetParallelism(2) // 2 x GOMAXPROCS(2) = 4
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := st.Enqueue(context.Background(), env, write); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
		b.Run("drain-1node/"+name, func(b *testing.B) {
			st := open[name](b, sink)
			for range b.N {
				if _, err := st.Enqueue(context.Background(), env, write); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			s, err := st.RunOnce(context.Background())
			b.StopTimer()
			if err != nil || s.Delivered != b.N {
				b.Fatalf("%+v %v", s, err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
	b.Run("drain-3nodes/postgres", func(b *testing.B) {
		pool := testPool(b)
		ctx := context.Background()
		var nodes []*Store
		for range 3 {
			s, err := Open(ctx, pool, Config{Config: outbox.Config{Deliverer: sink, Concurrency: 4, PollInterval: 10 * time.Millisecond}})
			if err != nil {
				b.Fatal(err)
			}
			nodes = append(nodes, s)
		}
		for range b.N {
			if _, err := nodes[0].Enqueue(ctx, env, write); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		rctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(func() { n.Run(rctx) })
		}
		for {
			var left int
			pool.QueryRow(ctx, `SELECT count(*) FROM mailwarden_outbox`).Scan(&left)
			if left == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		cancel()
		wg.Wait()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}
