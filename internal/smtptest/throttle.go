package smtptest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Throttle runs a TCP proxy on 127.0.0.1 to target that passes the
// client's bytes on at about rate bytes per second (the server's replies go
// back unthrottled), for tests of a slow link. Its receive buffer is small
// (64 KiB), but the client's kernel still takes in up to its send buffer
// (on loopback easily a megabyte) at once: a client that wants its counts
// close to what left must shrink its send buffer, or send more than that.
// It returns the proxy's host:port; t.Cleanup closes it and waits for its
// goroutines.
func Throttle(t testing.TB, target string, rate int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetReadBuffer(64 << 10)
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(c, s); c.Close() }()
			go func() { defer wg.Done(); defer s.Close(); throttledCopy(s, c, rate) }()
		}
	}()
	return ln.Addr().String()
}

// throttledCopy copies src to dst in steps of 4 KiB, pausing after each so
// that about rate bytes pass per second.
func throttledCopy(dst io.Writer, src io.Reader, rate int) {
	const step = 4 << 10
	buf := make([]byte, step)
	start := time.Now()
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			total += int64(n)
			// Sleep until the bytes so far are due at rate.
			due := start.Add(time.Duration(total * int64(time.Second) / int64(rate)))
			time.Sleep(time.Until(due))
		}
		if err != nil {
			return
		}
	}
}
