package transport_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"mailwarden/internal/smtptest"
	"mailwarden/internal/testcert"
	"mailwarden/transport"
)

var (
	certsOnce sync.Once
	certs     *testcert.Loopback
)

func loopback(t testing.TB) *testcert.Loopback {
	t.Helper()
	certsOnce.Do(func() {
		var err error
		certs, err = testcert.NewLoopback()
		if err != nil {
			panic(err)
		}
	})
	return certs
}

func serverTLS(t testing.TB) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{loopback(t).Server.TLS()}}
}

func clientTLS(t testing.TB) *tls.Config {
	return &tls.Config{RootCAs: loopback(t).CA.Pool()}
}

func addrOf(t testing.TB, hostport string, mode transport.TLSMode) transport.Address {
	t.Helper()
	a, err := transport.ParseAddress(hostport)
	if err != nil {
		t.Fatal(err)
	}
	a.TLS = mode
	return a
}

func serverAddr(t testing.TB, s *smtptest.Server, mode transport.TLSMode) transport.Address {
	return transport.Address{Host: s.Host, Port: s.Port, TLS: mode}
}

// logBuf collects slog records as JSON lines.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger() (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	return slog.New(slog.NewJSONHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

func testConfig(t testing.TB) *transport.Config {
	return &transport.Config{
		HeloName:       "client.example.org",
		TLSConfig:      clientTLS(t),
		CommandTimeout: 5 * time.Second,
		DialTimeout:    5 * time.Second,
		DataTimeout:    10 * time.Second,
	}
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// checkGoroutines fails the test if goroutines started during it are
// still running shortly after it ends (leaked reads, writers, timers).
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
