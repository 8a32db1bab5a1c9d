package mailwarden_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden"
	"mailwarden/outbox"
)

// The kill test runs this test binary again as a child process (only
// TestOutboxChild, with these variables set), and kills it.
const (
	childEnvDir   = "MAILWARDEN_OUTBOX_CHILD_DIR"
	childEnvAddr  = "MAILWARDEN_OUTBOX_CHILD_ADDR"
	childEnvTotal = "MAILWARDEN_OUTBOX_CHILD_TOTAL"
)

// TestOutboxChild is the child of TestOutboxSurvivesSIGKILL: it enqueues
// messages kill-0000 ... up to the total (resuming after the last one it
// had acknowledged), delivers them, and exits once the spool is empty.
func TestOutboxChild(t *testing.T) {
	dir := os.Getenv(childEnvDir)
	if dir == "" {
		t.Skip("the child process of TestOutboxSurvivesSIGKILL")
	}
	total, _ := strconv.Atoi(os.Getenv(childEnvTotal))
	s, err := mailwarden.NewSender(context.Background(), mailwarden.Profile{Name: "kill-test",
		Servers: []string{os.Getenv(childEnvAddr)}, TLS: "none", Timeout: 3 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := s.OpenOutbox(outbox.Config{Dir: filepath.Join(dir, "spool"), Concurrency: 2,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ob.Run(ctx)

	progress := filepath.Join(dir, "progress")
	next := 0
	if b, err := os.ReadFile(progress); err == nil {
		next, _ = strconv.Atoi(string(b))
	}
	for i := next; i < total; i++ {
		m := alert(t, fmt.Sprintf("kill %d", i))
		m.MessageID = fmt.Sprintf("kill-%04d@outbox.test", i)
		if _, err := ob.Enqueue(ctx, m); err != nil {
			t.Fatalf("enqueue %d: %v", i, err)
		}
		// Acknowledged: remember it (a kill before this line enqueues it
		// again on restart: a duplicate, never a loss).
		tmp := progress + ".tmp"
		os.WriteFile(tmp, []byte(strconv.Itoa(i+1)), 0o600)
		os.Rename(tmp, progress)
		time.Sleep(3 * time.Millisecond) // alerts trickle in: spread the work over the kills
	}
	for {
		l, err := ob.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(l) == 0 {
			break
		}
		for _, e := range l {
			if e.State == outbox.StateDead {
				t.Fatalf("dead entry %s (%s): %s", e.ID, e.Envelope.MessageID, e.LastError)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Println("CHILD DONE")
}

// killSink is the parent's SMTP server: it counts deliveries per
// Message-ID across restarts on the same port.
type killSink struct {
	addr  string
	mu    sync.Mutex
	got   map[string]int
	ln    net.Listener
	conns []net.Conn
}

// trackListener records accepted connections so that stop can cut them
// like a crashing server does. (go-smtp's own Server.Close races with a
// BDAT chunk in flight: its Conn.Close clears a field handleBdat reads
// without the lock, which -race reports.)
type trackListener struct {
	net.Listener
	k *killSink
}

func (l trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.k.mu.Lock()
		l.k.conns = append(l.k.conns, c)
		l.k.mu.Unlock()
	}
	return c, err
}

var midRe = regexp.MustCompile(`(?m)^Message-I[Dd]: <([^>]+)>`)

func (k *killSink) start() error {
	k.mu.Lock()
	addr := k.addr
	k.mu.Unlock()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger for a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &killSession{k: k}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = quietLog{}
	k.mu.Lock()
	k.ln, k.addr = ln, ln.Addr().String()
	k.mu.Unlock()
	go srv.Serve(trackListener{ln, k})
	return nil
}

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}

func (k *killSink) stop() {
	k.mu.Lock()
	ln, conns := k.ln, k.conns
	k.conns = nil
	k.mu.Unlock()
	ln.Close()
	for _, c := range conns {
		c.Close()
	}
}

type killSession struct{ k *killSink }

func (s *killSession) Reset()                               {}
func (s *killSession) Logout() error                        { return nil }
func (s *killSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *killSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *killSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := midRe.FindSubmatch(b)
	if m == nil {
		return &smtp.SMTPError{Code: 550, Message: "no Message-ID"}
	}
	s.k.mu.Lock()
	s.k.got[string(m[1])]++
	s.k.mu.Unlock()
	return nil
}

// TestOutboxSurvivesSIGKILL: a child process enqueues and delivers 1,000
// messages; it is killed with SIGKILL at random points several times and
// restarted, and the SMTP server is restarted on the same port mid-way.
// In the end every message was delivered at least once; duplicates are
// counted and reported.
func TestOutboxSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a child process (about 20 s)")
	}
	if os.Getenv(childEnvDir) != "" {
		t.Skip("in the child")
	}
	const total, kills = 1000, 8
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	sink := &killSink{addr: "127.0.0.1:0", got: map[string]int{}}
	if err := sink.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sink.stop)
	addr := sink.addr
	dir := t.TempDir()

	var childOut bytes.Buffer
	run := func(killAfter time.Duration) error {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOutboxChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), childEnvDir+"="+dir, childEnvAddr+"="+addr, childEnvTotal+"="+strconv.Itoa(total))
		childOut.Reset()
		cmd.Stdout, cmd.Stderr = &childOut, &childOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		limit := 60 * time.Second
		if killAfter > 0 {
			limit = killAfter
		}
		select {
		case err := <-done:
			return err
		case <-time.After(limit):
			cmd.Process.Kill() // SIGKILL on Unix
			<-done
			if killAfter > 0 {
				return errKilled
			}
			return errors.New("the child did not finish in time")
		}
	}
	killed, restarted := 0, false
	restartErr := make(chan error, 1)
	for i := 0; i < kills; i++ {
		after := time.Duration(300+rng.IntN(700)) * time.Millisecond
		if i == kills/2 {
			// Restart the server while the child is delivering.
			go func() {
				time.Sleep(after / 3)
				sink.stop()
				time.Sleep(200 * time.Millisecond)
				restartErr <- sink.start()
			}()
			restarted = true
		}
		err := run(after)
		if i == kills/2 {
			if err := <-restartErr; err != nil {
				t.Fatalf("restarting the server: %v", err)
			}
		}
		if errors.Is(err, errKilled) {
			killed++
			ack, _ := os.ReadFile(filepath.Join(dir, "progress"))
			sink.mu.Lock()
			n := len(sink.got)
			sink.mu.Unlock()
			fmt.Printf("outbox kill test: SIGKILL %d after %v: %s acknowledged, %d distinct delivered\n", killed, after, ack, n)
		} else if err != nil {
			t.Fatalf("child run %d: %v\n%s", i, err, childOut.String())
		}
	}
	if err := run(0); err != nil {
		t.Fatalf("final child run: %v\n%s", err, childOut.String())
	}
	if !strings.Contains(childOut.String(), "CHILD DONE") {
		t.Fatalf("the child did not finish:\n%s", childOut.String())
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	missing, dups, deliveries := 0, 0, 0
	for i := 0; i < total; i++ {
		n := sink.got[fmt.Sprintf("kill-%04d@outbox.test", i)]
		deliveries += n
		if n == 0 {
			missing++
			t.Errorf("kill-%04d was never delivered", i)
		}
		if n > 1 {
			dups += n - 1
		}
	}
	if len(sink.got) != total {
		t.Errorf("the server saw %d distinct Message-IDs, want %d", len(sink.got), total)
	}
	q, _ := os.ReadDir(filepath.Join(dir, "spool", "quarantine"))
	if len(q) != 0 {
		t.Errorf("%d quarantined files", len(q))
	}
	fmt.Printf("outbox kill test: %d messages, %d SIGKILLs, server restarted: %v, deliveries %d, distinct %d, missing %d, duplicates %d\n",
		total, killed, restarted, deliveries, len(sink.got), missing, dups)
	if killed < kills/2 {
		t.Errorf("the child was killed only %d times (it finished too fast): too little proved", killed)
	}
}

var errKilled = errors.New("killed")
