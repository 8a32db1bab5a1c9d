package main

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tcpCollector is a syslog collector on a real TCP socket (octet-counted
// frames, RFC 6587) that can be killed (listener and connections closed
// with a reset) and started again on the same port.
type tcpCollector struct {
	addr  string
	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	recs  []string
}

func startCollector(t *testing.T) *tcpCollector {
	t.Helper()
	c := &tcpCollector{addr: "127.0.0.1:0"}
	c.start(t)
	t.Cleanup(c.kill)
	return c
}

func (c *tcpCollector) start(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", c.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.ln, c.addr = ln, ln.Addr().String()
	c.mu.Unlock()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
			go c.read(conn)
		}
	}()
}

func (c *tcpCollector) read(conn net.Conn) {
	br := bufio.NewReader(conn)
	for {
		n, err := br.ReadString(' ')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil {
			return
		}
		msg := make([]byte, size)
		if _, err := io.ReadFull(br, msg); err != nil {
			return
		}
		c.mu.Lock()
		c.recs = append(c.recs, string(msg))
		c.mu.Unlock()
	}
}

// kill closes the listener and resets every connection, as a collector
// that dies does.
func (c *tcpCollector) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	for _, conn := range c.conns {
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		conn.Close()
	}
	c.conns = nil
}

func (c *tcpCollector) count(substr string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.recs {
		if strings.Contains(r, substr) {
			n++
		}
	}
	return n
}

// TestOutboxRunNoResendWhenCollectorDiesAfter250: the TCP syslog collector
// of a fail-closed trail dies while the relay is accepting a message, so
// the relay's 250 is followed by records that cannot be written. The real
// 'outbox run' process must not send that message again: it keeps it as
// delivered (outbox.record_pending) and retries only the record, which
// reaches the collector once it is back. Messages after it are refused
// before the send while the collector is down. Every acknowledged message
// arrives exactly once.
func TestOutboxRunNoResendWhenCollectorDiesAfter250(t *testing.T) {
	spool := filepath.Join(t.TempDir(), "spool")
	relay := startFaultRelay(t)
	col := startCollector(t)
	const n = 10
	acked := enqueueN(t, spool, relay.addr, n)
	var once sync.Once
	killedAt := make(chan string, 1)
	relay.set(nil, func(_ int, mid string) error {
		if _, seen, _ := relay.counts(); seen == 3 { // the 4th message: the collector dies before the 250
			once.Do(func() {
				col.kill()
				time.Sleep(50 * time.Millisecond) // the reset reaches the sender
				killedAt <- mid
			})
		}
		return nil
	})
	cmd, out := smtpcheckProc(t, "outbox", "run", "--spool", spool, "--server", relay.addr, "--tls", "none", "--timeout", "5s",
		"--syslog", "tcp://"+col.addr, "--min-backoff", "200ms", "--max-backoff", "400ms")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mid string
	select {
	case mid = <-killedAt:
	case <-time.After(20 * time.Second):
		t.Fatalf("the collector was never killed:\n%s", out)
	}
	time.Sleep(1500 * time.Millisecond) // the worker goes on against a dead collector
	_, during, _ := relay.counts()
	col.start(t)
	relay.requireExactlyOnce(t, cmd, out, spool, n, acked, during, "while the collector was down")
	if !strings.Contains(out.String(), "outbox.record_pending") {
		t.Errorf("the accepted message was not kept as delivered (no outbox.record_pending):\n%s", out)
	}
	if col.count(`"record_retried":true`) != 1 || col.count(mid) == 0 {
		t.Errorf("the retried record of %s did not reach the collector", mid)
	}
}
