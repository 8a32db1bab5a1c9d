package mailwarden_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailwarden"
	"mailwarden/headers"
	"mailwarden/internal/peers"
	"mailwarden/internal/pgtest"
	"mailwarden/outbox"
)

// The cluster test runs this test binary again as worker nodes (only
// TestPostgresOutboxNode, with these variables set).
const (
	nodeEnvURL  = "MAILWARDEN_PG_NODE_URL"
	nodeEnvID   = "MAILWARDEN_PG_NODE_ID"
	nodeEnvLog  = "MAILWARDEN_PG_NODE_LOG"
	nodeEnvRate = "MAILWARDEN_PG_NODE_RATE" // "N/period"
)

// pgSchema makes a fresh schema on the test database (dropped at the end)
// and returns a connection string whose sessions use it.
func pgSchema(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	url := pgtest.Schema(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return url, pool
}

// TestPostgresOutboxNode is one worker node of the cluster tests: it
// delivers the PostgreSQL outbox to the real Postfix until killed, logging
// its events as JSON lines.
func TestPostgresOutboxNode(t *testing.T) {
	url := os.Getenv(nodeEnvURL)
	if url == "" {
		t.Skip("a worker node of TestPostgresOutboxCluster*")
	}
	ctx := context.Background()
	s, err := mailwarden.NewSender(ctx, mailwarden.Profile{Name: "pg-cluster",
		Servers: []string{os.Getenv("MW_POSTFIX_PLAIN")}, TLS: "none", Timeout: 10 * time.Second}, &mailwarden.Options{MaxIdle: 4})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	lf, err := os.OpenFile(os.Getenv(nodeEnvLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mailwarden.PostgresConfig{Config: outbox.Config{Concurrency: 4, PollInterval: 50 * time.Millisecond,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, Logger: slog.New(slog.NewJSONHandler(lf, nil))},
		NodeID: os.Getenv(nodeEnvID), Lease: 2 * time.Second, RateKey: "cluster-test"}
	if r := os.Getenv(nodeEnvRate); r != "" {
		n, p, _ := strings.Cut(r, "/")
		cfg.RateLimit, _ = strconv.Atoi(n)
		cfg.RatePeriod, _ = time.ParseDuration(p)
		cfg.Concurrency = 2
	}
	o, err := s.OpenPostgresOutbox(ctx, pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	o.Run(ctx) // until killed
}

// nodeEvent is one outbox event a node logged.
type nodeEvent struct {
	Msg       string `json:"msg"`
	MessageID string `json:"message_id"`
	Outbox    struct {
		Node  string `json:"node"`
		Error string `json:"error"`
	} `json:"outbox"`
}

// node is a running worker process.
type node struct {
	cmd  *exec.Cmd
	done chan error
}

func startNode(t *testing.T, url, id, logPath, rate string) *node {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresOutboxNode$", "-test.count=1")
	cmd.Env = append(os.Environ(), nodeEnvURL+"="+url, nodeEnvID+"="+id, nodeEnvLog+"="+logPath, nodeEnvRate+"="+rate)
	out, err := os.Create(logPath + ".out")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{cmd: cmd, done: make(chan error, 1)}
	go func() { n.done <- cmd.Wait(); out.Close() }()
	return n
}

func (n *node) kill() {
	n.cmd.Process.Kill() // SIGKILL on Unix
	<-n.done
}

// sinkCounts counts the messages in the Postfix sink whose Message-ID
// starts with prefix.
func sinkCounts(t *testing.T, dir, prefix string) map[string]int {
	t.Helper()
	re := regexp.MustCompile(`(?m)^Message-I[Dd]: <(` + regexp.QuoteMeta(prefix) + `[^>]*)>`)
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			continue
		}
		if m := re.FindSubmatch(b); m != nil {
			got[string(m[1])]++
		}
	}
	return got
}

// readEvents reads the JSON event lines a node incarnation logged (a
// killed one's last line may be cut).
func readEvents(path string) []nodeEvent {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []nodeEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e nodeEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

func pgClusterMessages() int {
	if n, err := strconv.Atoi(os.Getenv("MAILWARDEN_PG_CLUSTER_MESSAGES")); err == nil && n > 0 {
		return n
	}
	return 3000
}

// TestPostgresOutboxClusterSurvivesSIGKILL: three worker processes on one
// database deliver 3,000 messages (MAILWARDEN_PG_CLUSTER_MESSAGES) to the
// real Postfix while one of them is SIGKILLed several times and restarted.
// Every message arrives (0 lost). A message that arrives twice must be
// explained: one of its attempts was made by a node incarnation that was
// killed before it logged the delivery (the window between the relay's 250
// and the commit that removes the entry), and the attempts of live nodes
// never overlap (each entry is delivered by one node at a time).
func TestPostgresOutboxClusterSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("three worker processes, one killed repeatedly (about a minute)")
	}
	if os.Getenv(nodeEnvURL) != "" {
		t.Skip("in a node")
	}
	// The bulk transport: the 3,000 messages neither hold up the other
	// tests' deliveries nor slow their lookups in MW_POSTFIX_MAILDIR.
	vals := peers.Need(t, "MW_POSTFIX_PLAIN", "MW_POSTFIX_BULK_MAILDIR")
	maildir := vals[1]
	bulkTo, err := headers.ParseAddressList("ops@bulk.mailwarden.test")
	if err != nil {
		t.Fatal(err)
	}
	url, pool := pgSchema(t)
	ctx := context.Background()
	total := pgClusterMessages()
	tag := "pgc-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"

	s, err := mailwarden.NewSender(ctx, mailwarden.Profile{Name: "pg-enqueue", Servers: []string{vals[0]}, TLS: "none"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ob, err := s.OpenPostgresOutbox(ctx, pool, mailwarden.PostgresConfig{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < total; i += 4 {
				m := alert(t, fmt.Sprintf("cluster %d", i))
				m.To = bulkTo
				m.MessageID = fmt.Sprintf("%s%05d@outbox.test", tag, i)
				if _, err := ob.Enqueue(ctx, m); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("enqueued %d in %v", total, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	dir := t.TempDir()
	logOf := func(node string, inc int) string { return filepath.Join(dir, fmt.Sprintf("%s-%d.log", node, inc)) }
	nodes := map[string]*node{}
	for _, id := range []string{"a", "b", "c"} {
		nodes[id] = startNode(t, url, id+"-0", logOf(id, 0), "")
	}
	defer func() {
		for _, n := range nodes {
			n.kill()
		}
	}()
	seed := uint64(time.Now().UnixNano())
	rng := mrand.New(mrand.NewPCG(seed, 0))
	killedIncs := map[string]bool{}
	const kills = 5
	deadline := time.Now().Add(5 * time.Minute)
	remaining := func() int {
		var n int
		pool.QueryRow(ctx, `SELECT count(*) FROM mailwarden_outbox`).Scan(&n)
		return n
	}
	for k := 1; k <= kills; k++ {
		time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
		if remaining() == 0 {
			break
		}
		nodes["a"].kill()
		killedIncs[fmt.Sprintf("a-%d", k-1)] = true
		nodes["a"] = startNode(t, url, fmt.Sprintf("a-%d", k), logOf("a", k), "")
	}
	t.Logf("killed node a %d times (seed %d)", len(killedIncs), seed)
	for remaining() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries still queued after 5 minutes", remaining())
		}
		time.Sleep(200 * time.Millisecond)
	}
	var dead int
	pool.QueryRow(ctx, `SELECT count(*) FROM mailwarden_outbox WHERE state = 'dead'`).Scan(&dead)
	took := time.Since(start)

	// Postfix hands each message to the sink asynchronously: wait for all.
	// Its pipe to the sink is slower than its acceptance: wait while the
	// sink grows (up to 5 minutes).
	var got map[string]int
	for last, w, limit := -1, time.Now(), time.Now().Add(5*time.Minute); ; {
		got = sinkCounts(t, maildir, tag)
		if len(got) != last {
			last, w = len(got), time.Now()
		}
		if len(got) >= total || time.Since(w) > 30*time.Second || time.Now().After(limit) {
			break
		}
		time.Sleep(time.Second)
	}
	lost, dups := 0, 0
	for i := range total {
		mid := fmt.Sprintf("%s%05d@outbox.test", tag, i)
		switch c := got[mid]; {
		case c == 0:
			lost++
			if lost <= 5 {
				t.Errorf("lost: %s", mid)
			}
		case c > 1:
			dups += c - 1
		}
	}
	// Explain the duplicates from the nodes' events.
	attempts := map[string][]string{}  // message -> incarnations that attempted it
	delivered := map[string][]string{} // message -> incarnations that logged it delivered
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".log")
		for _, e := range readEvents(f) {
			switch e.Msg {
			case "outbox.attempt":
				attempts[e.MessageID] = append(attempts[e.MessageID], name)
			case "outbox.delivered":
				delivered[e.MessageID] = append(delivered[e.MessageID], name)
			case "outbox.error":
				t.Logf("%s: %s: %s", name, e.MessageID, e.Outbox.Error)
			}
		}
	}
	unexplained := 0
	for mid, c := range got {
		if c < 2 {
			continue
		}
		live := 0
		for _, inc := range delivered[mid] {
			if !killedIncs[inc] {
				live++
			}
		}
		if live > 1 {
			unexplained++
			t.Errorf("%s arrived %d times and %d live nodes logged it delivered: %v", mid, c, live, delivered[mid])
			continue
		}
		// A node killed after the relay's 250 and before its DELETE
		// explains a second copy: it may have stored the outbox.delivered
		// record already (the record goes before the row).
		explained := false
		for _, inc := range attempts[mid] {
			if killedIncs[inc] {
				explained = true
			}
		}
		if !explained {
			unexplained++
			t.Errorf("%s arrived %d times; attempts %v, delivered by %v: no killed node explains it", mid, c, attempts[mid], delivered[mid])
		}
	}
	t.Logf("%d messages, 3 nodes, node a killed %d times: drained in %v (%.0f msgs/s), %d lost, %d duplicates (each by a killed node between the relay's 250 and its commit), %d dead",
		total, len(killedIncs), took.Round(time.Millisecond), float64(total)/took.Seconds(), lost, dups, dead)
	if dead > 0 {
		t.Errorf("%d entries dead-lettered", dead)
	}
}
