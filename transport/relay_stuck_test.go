package transport_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// TestRelayDropsSessionAfterTemporaryFailure: a relay that answers 451 to
// every transaction on a connection (a stuck session) must not keep the
// sender on that connection: after a temporary failure the session is
// ended, and the next send opens a fresh one, which the recovered relay
// accepts. (Before, the idle session went back to the pool and every later
// attempt got the same 451.)
func TestRelayDropsSessionAfterTemporaryFailure(t *testing.T) {
	checkGoroutines(t)
	var conns, delivered, quits atomic.Int32
	hp := smtptest.Hostile(t, func(c *smtptest.Conn) {
		n := conns.Add(1)
		c.Send("220 x ESMTP\r\n")
		for {
			l, ok := c.Line()
			if !ok {
				return
			}
			switch strings.ToUpper(strings.SplitN(l, " ", 2)[0]) {
			case "EHLO":
				c.Send("250-x\r\n250 PIPELINING\r\n")
			case "MAIL", "RCPT", "DATA":
				if n == 1 {
					c.Send("451 4.3.0 stuck\r\n") // this session never recovers
					continue
				}
				if l[0] != 'D' && l[0] != 'd' {
					c.Send("250 ok\r\n")
					continue
				}
				c.Send("354 go\r\n")
				readBody(c)
				delivered.Add(1)
				c.Send("250 ok queued as Q\r\n")
			case "QUIT":
				quits.Add(1)
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
	if _, err := r.Send(ctx, relayEnv, transport.BytesMessage([]byte(testBody))); transport.Classify(err) != transport.ClassTemporary {
		t.Fatalf("first send: %v, want a temporary failure", err)
	}
	for i := 0; i < 3; i++ {
		if _, err := r.Send(ctx, relayEnv, transport.BytesMessage([]byte(testBody))); err != nil {
			t.Fatalf("send %d after the 451: %v (the stuck session was reused)", i, err)
		}
	}
	r.Close()
	if conns.Load() != 2 || delivered.Load() != 3 || quits.Load() != 2 {
		t.Errorf("%d connections, %d delivered, %d QUITs; want 2, 3, 2", conns.Load(), delivered.Load(), quits.Load())
	}
}
