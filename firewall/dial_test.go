package firewall

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/testcert"
)

// readGreeting reads the first line from c, with a deadline so a lost
// greeting fails the test instead of hanging it.
func readGreeting(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading greeting through the tunnel: %v (got %q)", err, line)
	}
	return line
}

func mustNew(t testing.TB, c Config) ProxyDialer {
	t.Helper()
	d, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func hostPort(t testing.TB, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := net.LookupPort("tcp", p)
	return h, n
}

func TestDialThroughProxies(t *testing.T) {
	dst := greeter(t)
	_, dstPort := hostPort(t, dst)
	lo, err := testcert.NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	proxyTLS := &tls.Config{Certificates: []tls.Certificate{lo.Server.TLS()}}

	s5 := &fakeSOCKS5{}
	s5auth := &fakeSOCKS5{user: "alice", password: "s3cret pass"}
	s5dom := &fakeSOCKS5{boundDomain: true}
	s4 := &fakeSOCKS4{}
	h := &fakeHTTP{}
	hauth := &fakeHTTP{user: "bob", password: "hunter2:x"}
	hco := &fakeHTTP{coalesce: true, extraHeader: "Content-Length: 12\r\n"}
	hs := &fakeHTTP{}

	tests := []struct {
		name     string
		cfg      Config
		target   string // destination host given to DialContext
		rec      *request
		wantHost string // destination as the proxy must see it
		wantUser string
		scheme   string
	}{
		{"socks5h", Config{Type: TypeSOCKS5}, "localhost", &s5.req, "localhost", "", "socks5h"},
		{"socks5 local", Config{Type: TypeSOCKS5, ResolveLocally: true}, "localhost", &s5.req, "", "", "socks5"},
		{"socks5 ip", Config{Type: TypeSOCKS5}, "127.0.0.1", &s5.req, "127.0.0.1", "", "socks5h"},
		{"socks5 auth", Config{Type: TypeSOCKS5, User: "alice", Password: "s3cret pass"}, "127.0.0.1", &s5auth.req, "127.0.0.1", "alice", "socks5h"},
		{"socks5 bound domain", Config{Type: TypeSOCKS5}, "127.0.0.1", &s5dom.req, "127.0.0.1", "", "socks5h"},
		{"socks4", Config{Type: TypeSOCKS4, User: "mailwarden"}, "localhost", &s4.req, "127.0.0.1", "mailwarden", "socks4"},
		{"socks4a", Config{Type: TypeSOCKS4A, User: "mw"}, "localhost", &s4.req, "localhost", "mw", "socks4a"},
		{"socks4a ip", Config{Type: TypeSOCKS4A}, "127.0.0.1", &s4.req, "127.0.0.1", "", "socks4a"},
		{"http", Config{Type: TypeHTTP}, "localhost", &h.req, "localhost:" + itoa(dstPort), "", "http"},
		{"http auth", Config{Type: TypeHTTP, User: "bob", Password: "hunter2:x"}, "127.0.0.1", &hauth.req, "127.0.0.1:" + itoa(dstPort), "bob", "http"},
		{"http greeting with 200", Config{Type: TypeHTTP}, "127.0.0.1", &hco.req, "127.0.0.1:" + itoa(dstPort), "", "http"},
		{"https", Config{Type: TypeHTTPS, TLSConfig: &tls.Config{RootCAs: lo.CA.Pool()}}, "127.0.0.1", &hs.req, "127.0.0.1:" + itoa(dstPort), "", "https"},
	}
	addrs := map[*request]string{
		&s5.req: s5.start(t), &s5auth.req: s5auth.start(t), &s5dom.req: s5dom.start(t),
		&s4.req: s4.start(t), &h.req: h.start(t, nil), &hauth.req: hauth.start(t, nil),
		&hco.req: hco.start(t, nil), &hs.req: hs.start(t, proxyTLS),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Host, cfg.Port = hostPort(t, addrs[tt.rec])
			if tt.cfg.Type == TypeHTTPS {
				cfg.Host = "localhost" // the proxy certificate is checked against this name
			}
			d := mustNew(t, cfg)
			if got, want := d.Proxy(), tt.scheme+"://"+net.JoinHostPort(cfg.Host, itoa(cfg.Port)); got != want {
				t.Errorf("Proxy() = %q, want %q", got, want)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(tt.target, itoa(dstPort)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if g := readGreeting(t, c); g != "220 greeter ready\r\n" {
				t.Fatalf("greeting = %q", g)
			}
			// The tunnel carries data both ways.
			io.WriteString(c, "EHLO x\r\n")
			if g := readGreeting(t, c); g != "EHLO x\r\n" {
				t.Fatalf("echo = %q", g)
			}
			host, user := tt.rec.last()
			if tt.wantHost == "" { // resolved on this host: an address, not the name
				if net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
					t.Errorf("proxy was asked for %q, want a loopback address resolved locally", host)
				}
			} else if host != tt.wantHost {
				t.Errorf("proxy was asked for %q, want %q", host, tt.wantHost)
			}
			if user != tt.wantUser {
				t.Errorf("proxy saw user %q, want %q", user, tt.wantUser)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestDirect(t *testing.T) {
	dst := greeter(t)
	d := mustNew(t, Config{})
	if d.Proxy() != "" {
		t.Errorf("direct Proxy() = %q, want empty", d.Proxy())
	}
	c, err := d.DialContext(context.Background(), "tcp", dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if g := readGreeting(t, c); g != "220 greeter ready\r\n" {
		t.Fatalf("greeting = %q", g)
	}
}

// TestProxyChain checks that dialers compose: SOCKS5 reached through an
// HTTP CONNECT tunnel.
func TestProxyChain(t *testing.T) {
	dst := greeter(t)
	h := &fakeHTTP{}
	s5 := &fakeSOCKS5{}
	hh, hp := hostPort(t, h.start(t, nil))
	sh, sp := hostPort(t, s5.start(t))
	outer := mustNew(t, Config{Type: TypeHTTP, Host: hh, Port: hp})
	inner, err := New(Config{Type: TypeSOCKS5, Host: sh, Port: sp}, outer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := inner.DialContext(context.Background(), "tcp", dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if g := readGreeting(t, c); g != "220 greeter ready\r\n" {
		t.Fatalf("greeting = %q", g)
	}
	if host, _ := h.req.last(); host != net.JoinHostPort(sh, itoa(sp)) {
		t.Errorf("HTTP proxy was asked for %q, want the SOCKS proxy", host)
	}
}

func TestDialErrorsBeforeProxy(t *testing.T) {
	d := mustNew(t, Config{Type: TypeSOCKS4, Host: "127.0.0.1", Port: 9})
	for _, tt := range []struct{ network, addr, want string }{
		{"udp", "127.0.0.1:25", "network"},
		{"tcp", "127.0.0.1", "missing port"},
		{"tcp", "bad\r\nhost:25", "control character"},
		{"tcp", "evil.example\r\nX-Injected\r\n:25", "control character"},
		{"tcp", "a/b:25", "not allowed"},
		{"tcp", "a b:25", "not allowed"},
		{"tcp", "127.0.0.1:0", "out of range"},
		{"tcp", "127.0.0.1:nosuchservice", "unknown port"},
		{"tcp", "[::1]:25", "IPv6"},
		{"tcp6", "localhost:25", "IPv6"},
	} {
		_, err := d.DialContext(context.Background(), tt.network, tt.addr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DialContext(%q, %q) = %v, want error containing %q", tt.network, tt.addr, err, tt.want)
		}
	}
}

func TestHTTPSProxyCertificate(t *testing.T) {
	lo, err := testcert.NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcert.NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHTTP{}
	_, port := hostPort(t, h.start(t, &tls.Config{Certificates: []tls.Certificate{lo.WrongHost.TLS()}}))
	for _, tt := range []struct {
		name string
		cfg  *tls.Config
	}{
		{"wrong host", &tls.Config{RootCAs: lo.CA.Pool()}},
		{"unknown CA", &tls.Config{RootCAs: other.CA.Pool()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := mustNew(t, Config{Type: TypeHTTPS, Host: "localhost", Port: port, TLSConfig: tt.cfg})
			_, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:25")
			var pe *ProxyError
			if !errors.As(err, &pe) || pe.Op != OpTLS {
				t.Fatalf("err = %v, want *ProxyError at stage tls", err)
			}
			var ce *tls.CertificateVerificationError
			if !errors.As(err, &ce) {
				t.Errorf("err = %v, want it to wrap *tls.CertificateVerificationError", err)
			}
		})
	}
}
