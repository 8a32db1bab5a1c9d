package firewall

import (
	"context"
	"crypto/tls"
	"testing"

	"mailwarden/internal/peers"
	"mailwarden/internal/testcert"
)

// benchDial dials addr through d b.N times, reading the greeting each
// time: the cost of reaching the mail server through the proxy.
func benchDial(b *testing.B, d Dialer, addr string) {
	b.ReportAllocs()
	buf := make([]byte, 64)
	for b.Loop() {
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkDial measures a connection plus handshake through in-process
// fake proxies on loopback, per dialer type.
func BenchmarkDial(b *testing.B) {
	dst := greeter(b)
	lo, err := testcert.NewLoopback()
	if err != nil {
		b.Fatal(err)
	}
	proxyTLS := &tls.Config{Certificates: []tls.Certificate{lo.Server.TLS()}}
	cases := []struct {
		name string
		addr string
		cfg  Config
	}{
		{"direct", "", Config{}},
		{"socks5h", (&fakeSOCKS5{}).start(b), Config{Type: TypeSOCKS5}},
		{"socks5-auth", (&fakeSOCKS5{user: "u", password: "p"}).start(b), Config{Type: TypeSOCKS5, User: "u", Password: "p"}},
		{"socks4", (&fakeSOCKS4{}).start(b), Config{Type: TypeSOCKS4}},
		{"socks4a", (&fakeSOCKS4{}).start(b), Config{Type: TypeSOCKS4A}},
		{"http", (&fakeHTTP{}).start(b, nil), Config{Type: TypeHTTP}},
		{"http-auth", (&fakeHTTP{user: "u", password: "p"}).start(b, nil), Config{Type: TypeHTTP, User: "u", Password: "p"}},
		{"https", (&fakeHTTP{}).start(b, proxyTLS), Config{Type: TypeHTTPS, TLSConfig: &tls.Config{RootCAs: lo.CA.Pool()}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cfg := c.cfg
			if c.addr != "" {
				cfg.Host, cfg.Port = hostPort(b, c.addr)
			}
			benchDial(b, mustNew(b, cfg), dst)
		})
	}
}

// BenchmarkRealProxies measures the same through the real proxies of the
// test environment to Postfix (skipped without it).
func BenchmarkRealProxies(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		benchDial(b, mustNew(b, Config{}), peers.Get(b, "MW_POSTFIX_PLAIN"))
	})
	for _, p := range realProxies {
		if p.cfg.ResolveLocally {
			continue
		}
		b.Run(p.name, func(b *testing.B) {
			cfg := p.cfg
			cfg.Host, cfg.Port = hostPort(b, peers.Get(b, p.env))
			if p.auth {
				v := peers.Need(b, "MW_PROXY_USER", "MW_PROXY_PASSWORD")
				cfg.User, cfg.Password = v[0], Secret(v[1])
			}
			benchDial(b, mustNew(b, cfg), peers.Get(b, "MW_POSTFIX_PLAIN"))
		})
	}
}
