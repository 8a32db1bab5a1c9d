package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailwarden"
	"mailwarden/internal/peers"
	"mailwarden/internal/pgtest"
	"mailwarden/outbox"
)

// storeURL makes a fresh schema on the test database (dropped at the end)
// and returns a connection string whose sessions use it.
func storeURL(t *testing.T) string {
	t.Helper()
	return pgtest.Schema(t)
}

func enqueueRaw(t *testing.T, url string, n int, tag string) []string {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	st, err := mailwarden.OpenPostgresStore(ctx, pool, mailwarden.PostgresConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		mid := fmt.Sprintf("%s-%03d@outbox.test", tag, i)
		e, err := st.Enqueue(ctx, outbox.Envelope{From: "alerts@example.com", To: []string{"ops@example.org"}, MessageID: mid},
			func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "From: alerts@example.com\r\nTo: ops@example.org\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\nbody\r\n", mid, mid)
				return err
			})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	return ids
}

// TestOutboxStoreCommands: migrate, list, retry and purge on the
// PostgreSQL store; a literal URL with a password and an unverified
// remote database are refused.
func TestOutboxStoreCommands(t *testing.T) {
	url := storeURL(t)
	env := map[string]string{"PGURL": url}
	out, stderr, code := runWith(t, env, "", "outbox", "migrate", "--store", "env:PGURL")
	if code != exitOK || !regexp.MustCompile(`^schema version 0 -> [1-9]\d*\n$`).MatchString(out) {
		t.Fatalf("migrate: exit %d %q %s", code, out, stderr)
	}
	if out, _, code = runWith(t, env, "", "outbox", "migrate", "--store", "env:PGURL"); code != exitOK || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate again: exit %d %q", code, out)
	}
	ids := enqueueRaw(t, url, 2, "cli")
	out, stderr, code = runWith(t, env, "", "outbox", "list", "--store", "env:PGURL")
	if code != exitOK || !strings.Contains(out, "cli-000@outbox.test") || !strings.Contains(out, "2 queued") {
		t.Fatalf("list: exit %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code = runWith(t, env, "", "outbox", "purge", ids[0], "--store", "env:PGURL"); code != exitOK {
		t.Fatalf("purge: exit %d %s", code, stderr)
	}
	if _, _, code = runWith(t, env, "", "outbox", "purge", ids[0], "--store", "env:PGURL"); code != exitUsage {
		t.Fatalf("purge of a purged entry: exit %d, want %d", code, exitUsage)
	}
	if _, stderr, code = runWith(t, env, "", "outbox", "retry", ids[1], "--store", "env:PGURL"); code != exitOK {
		t.Fatalf("retry: exit %d %s", code, stderr)
	}
	_, stderr, code = runWith(t, nil, "", "outbox", "list", "--store", "postgres://u:hunter2-secret@127.0.0.1/db")
	if code != exitUsage || strings.Contains(stderr, "hunter2") || !strings.Contains(stderr, "password") {
		t.Fatalf("inline password: exit %d %s", code, stderr)
	}
	_, stderr, code = runWith(t, nil, "", "outbox", "list", "--store", "postgres://u@db.example.net/db?sslmode=require")
	if code != exitCheck || !strings.Contains(stderr, "verify-full") {
		t.Fatalf("unverified remote database: exit %d %s", code, stderr)
	}
}

// TestOutboxRunMetricsWhileMessagesFlow: 'outbox run --store
// --metrics-addr' delivers 30 messages to the real Postfix, paced to 10 a
// second; the endpoint is scraped while they flow (delivered plus waiting
// always accounts for all of them) and at the end its counters match what
// was sent.
func TestOutboxRunMetricsWhileMessagesFlow(t *testing.T) {
	relay := peers.Get(t, "MW_POSTFIX_PLAIN")
	url := storeURL(t)
	const total = 30
	enqueueRaw(t, url, total, "metrics")
	var out, stderr syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &stderr, getenv: func(k string) string {
		return map[string]string{"PGURL": url}[k]
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, e, []string{"outbox", "run", "--store", "env:PGURL", "--server", relay, "--tls", "none",
			"--concurrency", "2", "--rate", "10", "--rate-period", "1s", "--metrics-addr", "127.0.0.1:0"})
	}()
	base := metricsEndpoint(t, &stderr, done)
	const (
		delivered = "outbox_delivered_total"
		queued    = `outbox_entries{state="queued"}`
		deferred  = `outbox_entries{state="deferred"}`
	)
	midway := 0
	var m map[string]float64
	for {
		m = scrape(t, base+"/metrics")
		waiting := m[queued] + m[deferred]
		// The gauges are read from the database and the counters from
		// memory, not at the same instant: a delivery finishing between
		// the two reads is in both or neither, at most --concurrency (2).
		if sum := m[delivered] + waiting; sum < total-2 || sum > total+2 {
			t.Errorf("delivered %v + waiting %v = %v, want %d within the 2 deliveries under way", m[delivered], waiting, sum, total)
		}
		if m[delivered] > 0 && waiting > 0 {
			midway++
		}
		if m[delivered] == total || ctx.Err() != nil {
			break
		}
		time.Sleep(150 * time.Millisecond)
	}
	m = scrape(t, base+"/metrics")
	cancel()
	<-done
	if midway == 0 {
		t.Error("no scrape saw messages flowing")
	}
	for name, want := range map[string]float64{
		delivered: total,
		queued:    0,
		deferred:  0,
		`outbox_send_duration_seconds_count{outcome="delivered"}`: total,
		"outbox_attempts_total":                                   total,
	} {
		if m[name] != want {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
	if m["outbox_rate_limit_waits_total"] < 1 || m["outbox_rate_limit_wait_seconds_total"] <= 0 {
		t.Errorf("30 messages at 10 a second never waited: %v, %v", m["outbox_rate_limit_waits_total"], m["outbox_rate_limit_wait_seconds_total"])
	}
	t.Logf("%d scrapes saw messages in flight; final: delivered %v, attempts %v, rate-limit waits %v (%.2f s)", midway,
		m[delivered], m["outbox_attempts_total"], m["outbox_rate_limit_waits_total"], m["outbox_rate_limit_wait_seconds_total"])
}

// TestOutboxEnqueueStoreThenRunToPostfix: 'outbox enqueue --store' builds
// the message from the send flags as the spool's enqueue does and queues it
// in PostgreSQL; 'outbox run --store --once' delivers it to the real
// Postfix, which holds what was built.
func TestOutboxEnqueueStoreThenRunToPostfix(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_PLAIN", "MW_POSTFIX_MAILDIR")
	url := storeURL(t)
	env := map[string]string{"PGURL": url}
	tag := "pg-enqueue-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	out, stderr, code := runWith(t, env, "", "outbox", "enqueue", "--store", "env:PGURL", "--server", v[0], "--tls", "none",
		"--from", "Alerts <alerts@example.com>", "--to", "ops@example.org", "--subject", tag, "--body", "queued in PostgreSQL "+tag,
		"--priority", "urgent", "--json")
	if code != exitOK {
		t.Fatalf("enqueue --store: exit %d: %s", code, stderr)
	}
	var q struct {
		ID        string `json:"id"`
		MessageID string `json:"message_id"`
		Size      int64  `json:"size"`
	}
	if err := json.Unmarshal([]byte(out), &q); err != nil || q.ID == "" || q.MessageID == "" || q.Size <= 0 {
		t.Fatalf("enqueue --store --json: %q (%v)", out, err)
	}
	out, _, code = runWith(t, env, "", "outbox", "list", "--store", "env:PGURL")
	if code != exitOK || !strings.Contains(out, q.MessageID) || !strings.Contains(out, "1 queued") {
		t.Fatalf("list after enqueue: exit %d\n%s", code, out)
	}
	// Both stores at once is a usage error, and so is neither.
	if _, stderr, code = runWith(t, env, "", "outbox", "enqueue", "--store", "env:PGURL", "--spool", t.TempDir(), "--server", v[0],
		"--from", "a@example.com", "--to", "b@example.com"); code != exitUsage || !strings.Contains(stderr, "exclude") {
		t.Errorf("--spool with --store: exit %d %s", code, stderr)
	}
	out, stderr, code = runWith(t, env, "", "outbox", "run", "--store", "env:PGURL", "--once", "--server", v[0], "--tls", "none")
	if code != exitOK || !strings.Contains(stderr, "delivered 1, deferred 0, dead 0") {
		t.Fatalf("run --store --once: exit %d\n%s%s", code, out, stderr)
	}
	qid := regexp.MustCompile(`outbox\.delivered\s+queue_id=(\S+)`).FindStringSubmatch(out)
	if qid == nil {
		t.Fatalf("no outbox.delivered line with a queue id:\n%s", out)
	}
	got := waitDelivered(t, v[1], qid[1])
	for _, want := range []string{"Subject: " + tag + "\r\n", "Priority: urgent\r\n", "Message-ID: <" + q.MessageID + ">\r\n", "queued in PostgreSQL " + tag} {
		if !strings.Contains(string(got), want) {
			t.Errorf("the delivered message lacks %q:\n%s", want, got)
		}
	}
	if out, _, code = runWith(t, env, "", "outbox", "list", "--store", "env:PGURL"); code != exitOK || strings.Contains(out, q.MessageID) {
		t.Errorf("the delivered entry is still listed:\n%s", out)
	}
}

// TestOutboxRunHelpListsStoreFlags: 'outbox run --help' (and enqueue's)
// without --store shows the flags that only apply with it, and a store-only
// flag without --store is a usage error rather than ignored.
func TestOutboxRunHelpListsStoreFlags(t *testing.T) {
	out, _, code := runWith(t, nil, "", "outbox", "run", "--help")
	for _, f := range []string{"-store REF", "-node-id NAME", "-lease duration", "-rate-key KEY", "-metrics-addr ADDR", "-allow-unverified-tls", "-spool DIR"} {
		if code != exitOK || !strings.Contains(out, "  "+f) {
			t.Errorf("outbox run --help lacks %s (exit %d)", f, code)
		}
	}
	out, _, code = runWith(t, nil, "", "outbox", "enqueue", "--help")
	if code != exitOK || !strings.Contains(out, "  -store REF") || !strings.Contains(out, "  -spool DIR") {
		t.Errorf("outbox enqueue --help lacks --store or --spool (exit %d)", code)
	}
	_, stderr, code := runWith(t, nil, "", "outbox", "run", "--spool", t.TempDir(), "--server", "127.0.0.1:1", "--node-id", "a", "--once")
	if code != exitUsage || !strings.Contains(stderr, "--node-id: only with --store") {
		t.Errorf("--node-id without --store: exit %d %s", code, stderr)
	}
	_, stderr, code = runWith(t, nil, "", "outbox", "run", "--server", "127.0.0.1:1", "--once")
	if code != exitUsage || !strings.Contains(stderr, "--spool or --store is required") {
		t.Errorf("neither store: exit %d %s", code, stderr)
	}
}
