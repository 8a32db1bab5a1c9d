package firewall

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// fakeResolver answers A and AAAA queries from a table, in process, so no
// test query leaves the machine. Unknown names get NXDOMAIN.
func fakeResolver(t testing.TB, hosts map[string][]string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		client, srv := net.Pipe()
		go func() {
			defer srv.Close()
			for {
				var l [2]byte
				if _, err := io.ReadFull(srv, l[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(srv, q); err != nil {
					return
				}
				resp, err := answer(q, hosts)
				if err != nil {
					t.Error(err)
					return
				}
				binary.BigEndian.PutUint16(l[:], uint16(len(resp)))
				if _, err := srv.Write(append(l[:], resp...)); err != nil {
					return
				}
			}
		}()
		return client, nil
	}}
}

func answer(q []byte, hosts map[string][]string) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, err
	}
	question, err := p.Question()
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(question.Name.String(), ".")
	addrs, known := hosts[name]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	b.StartQuestions()
	b.Question(question)
	b.StartAnswers()
	rr := dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 60}
	for _, a := range addrs {
		ip := netip.MustParseAddr(a)
		switch {
		case ip.Is4() && question.Type == dnsmessage.TypeA:
			b.AResource(rr, dnsmessage.AResource{A: ip.As4()})
		case ip.Is6() && question.Type == dnsmessage.TypeAAAA:
			b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: ip.As16()})
		}
	}
	return b.Finish()
}

func TestLocalResolution(t *testing.T) {
	dst := greeter(t)
	_, port := hostPort(t, dst)
	res := fakeResolver(t, map[string][]string{
		"v6only.test": {"::1"},
		// The first address refuses; the dialer tries the next one.
		"multi.test": {"::1", "127.0.0.1"},
	})
	s5 := &fakeSOCKS5{}
	s4 := &fakeSOCKS4{}
	h5, p5 := hostPort(t, s5.start(t))
	h4, p4 := hostPort(t, s4.start(t))

	t.Run("socks4 no IPv4 address", func(t *testing.T) {
		d := mustNew(t, Config{Type: TypeSOCKS4, Host: h4, Port: p4, Resolver: res})
		_, err := d.DialContext(context.Background(), "tcp", "v6only.test:25")
		var pe *ProxyError
		if !errors.As(err, &pe) || pe.Op != OpResolve || !strings.Contains(pe.Msg, "no IPv4 address (SOCKS4 carries IPv4 only; use socks4a or socks5)") {
			t.Fatalf("err = %v, want a resolve *ProxyError saying SOCKS4 carries IPv4 only", err)
		}
	})
	t.Run("resolution fails", func(t *testing.T) {
		d := mustNew(t, Config{Type: TypeSOCKS5, ResolveLocally: true, Host: h5, Port: p5, Resolver: res})
		_, err := d.DialContext(context.Background(), "tcp", "unknown.test:25")
		var pe *ProxyError
		var de *net.DNSError
		if !errors.As(err, &pe) || pe.Op != OpResolve || !errors.As(err, &de) || !de.IsNotFound {
			t.Fatalf("err = %v, want a resolve *ProxyError wrapping a not-found *net.DNSError", err)
		}
	})
	t.Run("socks5 local tries the next address", func(t *testing.T) {
		// The greeter listens on 127.0.0.1 only, so [::1] refuses.
		if c, err := net.Dial("tcp", net.JoinHostPort("::1", itoa(port))); err == nil {
			c.Close()
			t.Skip("[::1] accepts connections on the greeter's port")
		}
		d := mustNew(t, Config{Type: TypeSOCKS5, ResolveLocally: true, Host: h5, Port: p5, Resolver: res})
		c, err := d.DialContext(context.Background(), "tcp", net.JoinHostPort("multi.test", itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if g := readGreeting(t, c); g != "220 greeter ready\r\n" {
			t.Fatalf("greeting = %q", g)
		}
		s5.req.mu.Lock()
		defer s5.req.mu.Unlock()
		if n := len(s5.req.hosts); n < 2 || s5.req.hosts[n-2] != "::1" || s5.req.hosts[n-1] != "127.0.0.1" {
			t.Errorf("proxy was asked for %v, want ::1 then 127.0.0.1", s5.req.hosts)
		}
	})
	t.Run("socks5 remote sends the name", func(t *testing.T) {
		d := mustNew(t, Config{Type: TypeSOCKS5, Host: h5, Port: p5, Resolver: res})
		// The fake proxy cannot resolve multi.test, but the point is that
		// the name, not an address, reached it.
		d.DialContext(context.Background(), "tcp", "multi.test:25")
		if host, _ := s5.req.last(); host != "multi.test" {
			t.Errorf("proxy was asked for %q, want the name", host)
		}
	})
}

// TestConcurrentDials: a dialer is safe for concurrent use.
func TestConcurrentDials(t *testing.T) {
	dst := greeter(t)
	h, p := hostPort(t, (&fakeSOCKS5{user: "u", password: "p"}).start(t))
	d := mustNew(t, Config{Type: TypeSOCKS5, Host: h, Port: p, User: "u", Password: "p"})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			c, err := d.DialContext(context.Background(), "tcp", dst)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			buf := make([]byte, 5)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "220 g" {
				t.Errorf("read %q, %v", buf, err)
			}
		})
	}
	wg.Wait()
}

// TestFailureClosesConnection: after a failed handshake the dialer closes
// its connection to the proxy.
func TestFailureClosesConnection(t *testing.T) {
	for _, tt := range []struct {
		name   string
		typ    Type
		script func(net.Conn)
	}{
		{"socks5 refused", TypeSOCKS5, func(c net.Conn) { socks5NoAuth(c); read(c, 10); c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) }},
		{"socks4 rejected", TypeSOCKS4, func(c net.Conn) { read(c, 9); c.Write([]byte{0, 91, 0, 0, 0, 0, 0, 0}) }},
		{"http 403", TypeHTTP, func(c net.Conn) { readHead(c); io.WriteString(c, "HTTP/1.1 403 Forbidden\r\n\r\n") }},
		{"http garbage", TypeHTTP, func(c net.Conn) { readHead(c); io.WriteString(c, "garbage\r\n") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			closed := make(chan error, 1)
			host, port := hostPort(t, serve(t, nil, func(c net.Conn) {
				tt.script(c)
				// Wait for the client to close: Read ends with EOF.
				_, err := c.Read(make([]byte, 1))
				closed <- err
			}))
			d := mustNew(t, Config{Type: tt.typ, Host: host, Port: port})
			if _, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:25"); err == nil {
				t.Fatal("DialContext succeeded")
			}
			// EOF, or a reset when the client closed with part of the
			// failure reply unread.
			if err := <-closed; err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("proxy side read %v, want EOF or reset (client closed)", err)
			}
		})
	}
}
