package transport_test

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

var relayEnv = transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}

func TestRelayReusesSessions(t *testing.T) {
	checkGoroutines(t)
	s := smtptest.Start(t, smtptest.Options{})
	r, err := transport.NewRelay(transport.RelayConfig{Servers: []transport.Address{serverAddr(t, s, transport.TLSNone)}, Session: testConfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 10*time.Second)
	for i := 0; i < 5; i++ {
		if _, err := r.Send(ctx, relayEnv, transport.BytesMessage([]byte(testBody))); err != nil {
			t.Fatal(err)
		}
	}
	if s.Count() != 5 || s.Sessions() != 1 {
		t.Errorf("%d messages over %d sessions", s.Count(), s.Sessions())
	}
	// Concurrent use.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Send(ctx, relayEnv, transport.BytesMessage([]byte(testBody))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if s.Count() != 13 {
		t.Errorf("%d messages", s.Count())
	}
	r.Close()
	if _, err := r.Send(ctx, relayEnv, transport.BytesMessage([]byte(testBody))); !errors.Is(err, transport.ErrClientClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// TestRelayReconnects: a 421 or a closed connection on a reused session
// is retried on a fresh session, transparently.
func TestRelayReconnects(t *testing.T) {
	checkGoroutines(t)
	for _, kind := range []string{"421", "closed"} {
		var conns atomic.Int32
		var delivered atomic.Int32
		hp := smtptest.Hostile(t, func(c *smtptest.Conn) {
			n := conns.Add(1)
			msgs := 0
			c.Send("220 x ESMTP\r\n")
			for {
				l, ok := c.Line()
				if !ok {
					return
				}
				switch strings.ToUpper(strings.SplitN(l, " ", 2)[0]) {
				case "EHLO":
					c.Send("250-x\r\n250 PIPELINING\r\n")
				case "MAIL":
					if n == 1 && msgs == 1 {
						if kind == "421" {
							c.Send("421 4.4.2 Idle timeout, closing\r\n")
						}
						return
					}
					c.Send("250 ok\r\n")
				case "RCPT":
					c.Send("250 ok\r\n")
				case "DATA":
					c.Send("354 go\r\n")
					readBody(c)
					msgs++
					delivered.Add(1)
					c.Send("250 ok queued as Q\r\n")
				case "QUIT":
					c.Send("221 bye\r\n")
					return
				default:
					c.Send("250 ok\r\n")
				}
			}
		})
		r, err := transport.NewRelay(transport.RelayConfig{Servers: []transport.Address{hostileAddr(t, hp, transport.TLSNone)}, Session: testConfig(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxT(t, 10*time.Second)
		for i := 0; i < 3; i++ {
			if _, err := r.Send(ctx, relayEnv, transport.BytesMessage([]byte(testBody))); err != nil {
				t.Fatalf("%s: message %d: %v", kind, i, err)
			}
		}
		r.Close()
		if conns.Load() != 2 || delivered.Load() != 3 {
			t.Errorf("%s: %d connections, %d delivered", kind, conns.Load(), delivered.Load())
		}
	}
}

func TestRelayFailover(t *testing.T) {
	checkGoroutines(t)
	ctx := ctxT(t, 20*time.Second)
	// A dead server, a server that says 451, a good one.
	dead := smtptest.Hostile(t, func(c *smtptest.Conn) { c.Close() })
	busy := smtptest.Start(t, smtptest.Options{Mail: func(string, *smtp.MailOptions) error {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}})
	good := smtptest.Start(t, smtptest.Options{})
	servers := []transport.Address{hostileAddr(t, dead, transport.TLSNone), serverAddr(t, busy, transport.TLSNone), serverAddr(t, good, transport.TLSNone)}
	r, err := transport.NewRelay(transport.RelayConfig{Servers: servers, Session: testConfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Send(ctx, relayEnv, transport.BytesMessage([]byte(testBody)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Server != good.Addr || res.Attempts != 3 || good.Count() != 1 {
		t.Errorf("result %+v, good got %d", res, good.Count())
	}

	// A 5xx refusal of the message is final: no failover.
	reject := smtptest.Start(t, smtptest.Options{Rcpt: func(string, *smtp.RcptOptions) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}})
	good2 := smtptest.Start(t, smtptest.Options{})
	r2, _ := transport.NewRelay(transport.RelayConfig{Servers: []transport.Address{serverAddr(t, reject, transport.TLSNone), serverAddr(t, good2, transport.TLSNone)}, Session: testConfig(t)})
	defer r2.Close()
	_, err = r2.Send(ctx, relayEnv, transport.BytesMessage([]byte(testBody)))
	if transport.Classify(err) != transport.ClassRejected || good2.Count() != 0 || good2.Sessions() != 0 {
		t.Errorf("5xx: err %v, second server got %d messages", err, good2.Count())
	}

	// Round robin spreads messages.
	a, b := smtptest.Start(t, smtptest.Options{}), smtptest.Start(t, smtptest.Options{})
	r3, _ := transport.NewRelay(transport.RelayConfig{Servers: []transport.Address{serverAddr(t, a, transport.TLSNone), serverAddr(t, b, transport.TLSNone)}, Strategy: transport.RoundRobin, Session: testConfig(t)})
	defer r3.Close()
	for i := 0; i < 4; i++ {
		if _, err := r3.Send(ctx, relayEnv, transport.BytesMessage([]byte(testBody))); err != nil {
			t.Fatal(err)
		}
	}
	if a.Count() != 2 || b.Count() != 2 {
		t.Errorf("round robin: %d and %d", a.Count(), b.Count())
	}

	// All fail: the last error, temporary.
	r4, _ := transport.NewRelay(transport.RelayConfig{Servers: servers[:2], Session: testConfig(t)})
	defer r4.Close()
	_, err = r4.Send(ctx, relayEnv, transport.BytesMessage([]byte(testBody)))
	if transport.Classify(err) != transport.ClassTemporary {
		t.Errorf("all failing: %v", err)
	}
}

func TestRelayConfigErrors(t *testing.T) {
	if _, err := transport.NewRelay(transport.RelayConfig{}); !errors.Is(err, transport.ErrBadConfig) {
		t.Errorf("no servers: %v", err)
	}
	cfg := testConfig(t)
	cfg.Auth = &plainClient{"a", "b"}
	if _, err := transport.NewRelay(transport.RelayConfig{Servers: []transport.Address{{Host: "x"}}, Session: cfg}); !errors.Is(err, transport.ErrBadConfig) {
		t.Errorf("Auth without NewAuth: %v", err)
	}
}
