package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// The fault tests run smtpcheck as real processes: this test binary, run
// again with faultMainEnv set, is smtpcheck (TestMain calls run).
const faultMainEnv = "MAILWARDEN_SMTPCHECK_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(faultMainEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// smtpcheckProc returns a command running smtpcheck with args as a real
// process; its output goes to the returned buffer.
func smtpcheckProc(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), faultMainEnv+"=1")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}

// stopProc interrupts a running smtpcheck (SIGINT: a clean stop) and
// waits for it, killing it after a while.
func stopProc(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Error("smtpcheck did not stop on SIGINT")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// faultRelay is an SMTP relay on a real socket that counts deliveries per
// Message-ID and lets a test decide each transaction's fate: mail is
// called for MAIL FROM with the number of the connection (1-based), data
// after the message was read, before the reply (a nil error is 250).
type faultRelay struct {
	addr string
	mu   sync.Mutex
	got  map[string]int
	// conns counts connections, tx MAIL commands.
	conns, tx int
	mail      func(conn int) error
	data      func(conn int, mid string) error
}

var faultMID = regexp.MustCompile(`(?mi)^Message-Id: <([^>]+)>`)

func startFaultRelay(t *testing.T) *faultRelay {
	t.Helper()
	r := &faultRelay{got: map[string]int{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		r.mu.Lock()
		r.conns++
		n := r.conns
		r.mu.Unlock()
		return &faultSession{r: r, conn: n}, nil
	}))
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = true
	srv.ErrorLog = quietLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}
func (quietLogger) Println(...any)        {}

// set installs the hooks (nil leaves one as it is) under the lock.
func (r *faultRelay) set(mail func(conn int) error, data func(conn int, mid string) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if mail != nil {
		r.mail = mail
	}
	if data != nil {
		r.data = data
	}
}

// counts returns how many messages arrived, how many distinct ones, and
// the Message-IDs that arrived more than once.
func (r *faultRelay) counts() (total, unique int, dups []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for mid, n := range r.got {
		total += n
		unique++
		if n > 1 {
			dups = append(dups, fmt.Sprintf("%s x%d", mid, n))
		}
	}
	return
}

type faultSession struct {
	r    *faultRelay
	conn int
}

func (s *faultSession) Reset()        {}
func (s *faultSession) Logout() error { return nil }
func (s *faultSession) Mail(string, *smtp.MailOptions) error {
	s.r.mu.Lock()
	s.r.tx++
	f := s.r.mail
	s.r.mu.Unlock()
	if f != nil {
		return f(s.conn)
	}
	return nil
}
func (s *faultSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *faultSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	mid := ""
	if m := faultMID.FindSubmatch(b); m != nil {
		mid = string(m[1])
	}
	s.r.mu.Lock()
	f := s.r.data
	s.r.mu.Unlock()
	if f != nil {
		if err := f(s.conn, mid); err != nil {
			return err
		}
	}
	s.r.mu.Lock()
	s.r.got[mid]++
	s.r.mu.Unlock()
	return nil
}

// waitUntil polls cond until it holds or the time is up.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
