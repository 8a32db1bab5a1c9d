package main

// The outbox's PostgreSQL store (package outbox/pgstore: its own tables,
// claimed with SELECT ... FOR UPDATE SKIP LOCKED) against River
// (github.com/riverqueue/river, a job queue on PostgreSQL), in one run on
// the test environment's PostgreSQL, each in a fresh schema of its own:
//
//   - enqueue: one message at a time, durable (a transaction of its own,
//     committed): pgstore.EnqueueTx vs River's InsertTx with the message
//     bytes as the job's argument (JSON, so base64). msgs/s, p99 latency,
//     and the growth of the tables (pg_total_relation_size, indexes and
//     TOAST included) per message held. The message is the module's test
//     text (Message), which TOAST compresses in both stores.
//   - drain: the queued messages delivered on one node, 4 at a time, each
//     over its own SMTP connection to the same in-process sink (FastSink)
//     with package transport: pgstore's Run vs River's workers, until
//     every entry is recorded as delivered in the database.
//
// It skips unless MW_POSTGRES_URL is set (testenv/up.sh):
//
//	cd bench && go test -run '^$' -bench 'River/.*/2KB/' -benchtime 200x
//	cd bench && go test -run '^$' -bench 'River/.*/1MB/' -benchtime 20x
//
// (a fixed count: a drain's start-up would otherwise make the benchmark
// framework pick a b.N of a few messages). RIVER_RESULTS.md has figures.
//
// The main module does not depend on River; only this module does.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"mailwarden/internal/peers"
	"mailwarden/outbox"
	"mailwarden/outbox/pgstore"
	"mailwarden/transport"
)

// mailArgs is the job a River-based outbox would insert: the envelope and
// the message itself ([]byte, so base64 in the job's JSON).
type mailArgs struct {
	From      string   `json:"from"`
	To        []string `json:"to"`
	MessageID string   `json:"message_id"`
	Msg       []byte   `json:"msg"`
}

func (mailArgs) Kind() string { return "mailwarden_mail" }

type mailWorker struct {
	river.WorkerDefaults[mailArgs]
	addr transport.Address
}

func (w *mailWorker) Work(ctx context.Context, job *river.Job[mailArgs]) error {
	return deliverSMTP(ctx, w.addr, outbox.Envelope{From: job.Args.From, To: job.Args.To, MessageID: job.Args.MessageID}, bytes.NewReader(job.Args.Msg))
}

// deliverSMTP sends one message over a connection of its own, as both
// stores' deliveries do here.
func deliverSMTP(ctx context.Context, addr transport.Address, env outbox.Envelope, r io.Reader) error {
	c, err := transport.Dial(ctx, addr, &transport.Config{HeloName: "bench.example.org"})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Send(ctx, transport.Envelope{From: env.From, To: env.To}, r); err != nil {
		return err
	}
	return c.Quit(ctx)
}

// benchSchema returns a pool on the test environment's PostgreSQL whose
// search_path is a fresh schema (dropped at the end), and an admin pool.
func benchSchema(b *testing.B) *pgxpool.Pool {
	b.Helper()
	url := peers.Get(b, "MW_POSTGRES_URL")
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(admin.Close)
	var r [6]byte
	rand.Read(r[:])
	schema := "b_" + hex.EncodeToString(r[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	pc.ConnConfig.RuntimeParams["search_path"] = schema
	pc.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// queue is one of the two stores under the same workload.
type queue struct {
	enqueue func(ctx context.Context, env outbox.Envelope, msg []byte) error
	// drain delivers everything queued and returns when the database
	// records every entry as delivered.
	drain func(ctx context.Context) error
	// tables are the store's tables, for the size per message.
	tables []string
	// queued counts the rows that hold one message each.
	queued string
}

func openPgstore(b *testing.B, pool *pgxpool.Pool, addr transport.Address) queue {
	d := outbox.DelivererFunc(func(ctx context.Context, env outbox.Envelope, open outbox.Opener) (string, error) {
		r, err := open()
		if err != nil {
			return "", err
		}
		defer r.(io.Closer).Close()
		return "", deliverSMTP(ctx, addr, env, r)
	})
	ctx := context.Background()
	s, err := pgstore.Open(ctx, pool, pgstore.Config{Config: outbox.Config{Deliverer: d, Concurrency: 4, PollInterval: 10 * time.Millisecond}})
	if err != nil {
		b.Fatal(err)
	}
	return queue{
		enqueue: func(ctx context.Context, env outbox.Envelope, msg []byte) error {
			tx, err := pool.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			if _, err := s.EnqueueTx(ctx, tx, env, func(w io.Writer) error { _, err := w.Write(msg); return err }); err != nil {
				return err
			}
			return tx.Commit(ctx)
		},
		drain: func(ctx context.Context) error {
			rctx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() { s.Run(rctx) })
			defer func() { cancel(); wg.Wait() }()
			return waitZero(ctx, pool, `SELECT count(*) FROM mailwarden_outbox WHERE state <> 'delivered'`)
		},
		tables: []string{"mailwarden_outbox", "mailwarden_outbox_chunk"},
		queued: `SELECT count(*) FROM mailwarden_outbox`,
	}
}

func openRiver(b *testing.B, pool *pgxpool.Pool, addr transport.Address) queue {
	ctx := context.Background()
	drv := riverpgxv5.New(pool)
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		b.Fatal(err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &mailWorker{addr: addr})
	c, err := river.NewClient(drv, &river.Config{
		Logger:            slog.New(slog.DiscardHandler),
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers:           workers,
		FetchCooldown:     river.FetchCooldownMin, // the default, 100 ms, would cap a drain at 40 jobs/s here
		FetchPollInterval: 10 * time.Millisecond,  // as pgstore's PollInterval
	})
	if err != nil {
		b.Fatal(err)
	}
	return queue{
		enqueue: func(ctx context.Context, env outbox.Envelope, msg []byte) error {
			tx, err := pool.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			if _, err := c.InsertTx(ctx, tx, mailArgs{From: env.From, To: env.To, MessageID: env.MessageID, Msg: msg}, nil); err != nil {
				return err
			}
			return tx.Commit(ctx)
		},
		drain: func(ctx context.Context) error {
			if err := c.Start(ctx); err != nil {
				return err
			}
			defer c.Stop(context.WithoutCancel(ctx))
			return waitZero(ctx, pool, `SELECT count(*) FROM river_job WHERE state <> 'completed'`)
		},
		tables: []string{"river_job"},
		queued: `SELECT count(*) FROM river_job`,
	}
}

// waitZero polls q every 5 ms until it counts 0.
func waitZero(ctx context.Context, pool *pgxpool.Pool, q string) error {
	for {
		var left int
		if err := pool.QueryRow(ctx, q).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tableBytes is the size of the store's tables, indexes and TOAST
// included.
func tableBytes(b *testing.B, pool *pgxpool.Pool, q queue) int64 {
	var total int64
	for _, t := range q.tables {
		var n int64
		if err := pool.QueryRow(context.Background(), `SELECT pg_total_relation_size($1::regclass)`, t).Scan(&n); err != nil {
			b.Fatal(err)
		}
		total += n
	}
	return total
}

// bytesPerMsg is the growth of the store's tables since empty over the
// messages they hold.
func bytesPerMsg(b *testing.B, pool *pgxpool.Pool, q queue, empty int64) float64 {
	var rows int64
	if err := pool.QueryRow(context.Background(), q.queued).Scan(&rows); err != nil {
		b.Fatal(err)
	}
	if rows == 0 {
		return 0
	}
	return float64(tableBytes(b, pool, q)-empty) / float64(rows)
}

// BenchmarkRiver compares pgstore and River under the same workload; see
// the top of this file.
func BenchmarkRiver(b *testing.B) {
	peers.Get(b, "MW_POSTGRES_URL") // skips (or fails with MAILWARDEN_REQUIRE_PEERS=1) without it
	sink, err := StartFastSink(nil, true)
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	host, port, _ := net.SplitHostPort(sink.Addr())
	p, _ := strconv.Atoi(port)
	addr := transport.Address{Host: host, Port: p, TLS: transport.TLSNone}
	open := map[string]func(*testing.B, *pgxpool.Pool, transport.Address) queue{"pgstore": openPgstore, "river": openRiver}
	env := outbox.Envelope{From: "alerts@example.com", To: []string{"ops@example.org"}, MessageID: "bench@example.com"}
	ctx := context.Background()
	for _, size := range []int{2 << 10, 1 << 20} {
		msg := Message(size)
		sz := "2KB"
		if size >= 1<<20 {
			sz = "1MB"
		}
		for _, name := range []string{"pgstore", "river"} {
			b.Run("enqueue/"+sz+"/"+name, func(b *testing.B) {
				pool := benchSchema(b)
				q := open[name](b, pool, addr)
				empty := tableBytes(b, pool, q)
				lat := make([]time.Duration, 0, b.N)
				b.SetBytes(int64(len(msg)))
				b.ResetTimer()
				for range b.N {
					t0 := time.Now()
					if err := q.enqueue(ctx, env, msg); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(bytesPerMsg(b, pool, q, empty), "table-B/msg")
			})
		}
		for _, name := range []string{"pgstore", "river"} {
			b.Run("drain-1node/"+sz+"/"+name, func(b *testing.B) {
				pool := benchSchema(b)
				q := open[name](b, pool, addr)
				for range b.N {
					if err := q.enqueue(ctx, env, msg); err != nil {
						b.Fatal(err)
					}
				}
				before := sink.Count()
				b.SetBytes(int64(len(msg)))
				b.ResetTimer()
				if err := q.drain(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if got := sink.Count() - before; got < b.N {
					b.Fatalf("%d of %d messages reached the sink", got, b.N)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}
