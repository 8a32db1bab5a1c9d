package mailwarden_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailwarden"
	"mailwarden/internal/peers"
	"mailwarden/outbox"
)

// maillogTimes returns, for each message whose Message-ID starts with
// prefix, the second Postfix's cleanup logged it (it logs message-id= while
// it receives the message, before its 250).
func maillogTimes(t *testing.T, maillog, prefix string) []time.Time {
	t.Helper()
	f, err := os.Open(maillog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	re := regexp.MustCompile(`^(\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ postfix/cleanup\[\d+\]: \w+: message-id=<` + regexp.QuoteMeta(prefix))
	var out []time.Time
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			ts, err := time.ParseInLocation("Jan _2 15:04:05", m[1], time.Local)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ts)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// TestPostgresOutboxClusterRateLimit: three worker processes share a limit
// of 4 messages per 3 seconds; they deliver 16 messages to the real
// Postfix, and no 3-second window of Postfix's log holds more than 4. (The
// log has whole seconds: a slot counts from before the connection until
// after the 250, so N+1 acceptances span at least the period, and their
// truncated log times at least the period's whole seconds.)
func TestPostgresOutboxClusterRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("three worker processes paced over about 12 s")
	}
	if os.Getenv(nodeEnvURL) != "" {
		t.Skip("in a node")
	}
	vals := peers.Need(t, "MW_POSTFIX_PLAIN", "MW_POSTFIX_MAILDIR")
	maillog := filepath.Join(filepath.Dir(vals[1]), "maillog")
	url, pool := pgSchema(t)
	ctx := context.Background()
	const total, limit, period = 16, 4, 3 * time.Second
	tag := "pgr-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	s, err := mailwarden.NewSender(ctx, mailwarden.Profile{Name: "pg-enqueue", Servers: []string{vals[0]}, TLS: "none"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ob, err := s.OpenPostgresOutbox(ctx, pool, mailwarden.PostgresConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range total {
		m := alert(t, fmt.Sprintf("rate %d", i))
		m.MessageID = fmt.Sprintf("%s%02d@outbox.test", tag, i)
		if _, err := ob.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	var nodes []*node
	for _, id := range []string{"a", "b", "c"} {
		nodes = append(nodes, startNode(t, url, id, filepath.Join(dir, id+".log"), fmt.Sprintf("%d/%s", limit, period)))
	}
	defer func() {
		for _, n := range nodes {
			n.kill()
		}
	}()
	start := time.Now()
	for {
		var n int
		pool.QueryRow(ctx, `SELECT count(*) FROM mailwarden_outbox`).Scan(&n)
		if n == 0 {
			break
		}
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("%d entries left after 2 minutes", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	var times []time.Time
	for w := time.Now().Add(10 * time.Second); time.Now().Before(w); time.Sleep(200 * time.Millisecond) {
		if times = maillogTimes(t, maillog, tag); len(times) >= total {
			break
		}
	}
	if len(times) != total {
		t.Fatalf("Postfix logged %d of the %d messages", len(times), total)
	}
	worst, lo := 0, 0
	for hi := range times {
		for times[hi].Sub(times[lo]) >= period {
			lo++
		}
		worst = max(worst, hi-lo+1)
	}
	if worst > limit {
		t.Errorf("a %v window of Postfix's log holds %d messages; the limit is %d", period, worst, limit)
	}
	// The limit is also not much slower than it allows: 16 at 4 per 3 s
	// need at least 9 s.
	if took < 3*period {
		t.Errorf("16 messages in %v: faster than %d per %v allows", took, limit, period)
	}
	t.Logf("%d messages through 3 nodes in %v; at most %d in any %v window of the relay's log (limit %d)", total, took.Round(time.Millisecond), worst, period, limit)
}

// TestPostgresOutboxRolledBackEnqueueSendsNothing: with a worker running
// against the real Postfix, a message queued in a transaction that rolls
// back is never sent, and one queued in a transaction that commits is.
func TestPostgresOutboxRolledBackEnqueueSendsNothing(t *testing.T) {
	vals := peers.Need(t, "MW_POSTFIX_PLAIN", "MW_POSTFIX_MAILDIR")
	_, pool := pgSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := mailwarden.NewSender(ctx, mailwarden.Profile{Name: "pg-tx", Servers: []string{vals[0]}, TLS: "none"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ob, err := s.OpenPostgresOutbox(ctx, pool, mailwarden.PostgresConfig{Config: outbox.Config{PollInterval: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ob.Run(rctx) }()
	tag := "pgt-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"

	// The application's change and the alert, rolled back together.
	if _, err := pool.Exec(ctx, `CREATE TABLE app_change (n int)`); err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx.Exec(ctx, `INSERT INTO app_change VALUES (1)`)
	m := alert(t, "rolled back")
	m.MessageID = tag + "rolled-back@outbox.test"
	if _, err := ob.EnqueueTx(ctx, tx, m); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the worker polls meanwhile: it must not see it
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// Then one that commits.
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tx.Exec(ctx, `INSERT INTO app_change VALUES (2)`)
		m := alert(t, "committed")
		m.MessageID = tag + "committed@outbox.test"
		_, err := ob.EnqueueTx(ctx, tx, m)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	for {
		got = sinkCounts(t, vals[1], tag)
		if got[tag+"committed@outbox.test"] > 0 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	<-done
	var entries int
	pool.QueryRow(ctx, `SELECT count(*) FROM mailwarden_outbox`).Scan(&entries)
	if got[tag+"committed@outbox.test"] != 1 || got[tag+"rolled-back@outbox.test"] != 0 || entries != 0 {
		t.Fatalf("sink %v, %d entries left; want only the committed message, once", got, entries)
	}
}
