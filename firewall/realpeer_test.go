package firewall

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
)

// realProxy is one real proxy of the test environment and how to use it.
type realProxy struct {
	name   string
	env    string // MW_* variable with the proxy's host:port
	auth   bool   // uses MW_PROXY_USER and MW_PROXY_PASSWORD
	cfg    Config
	byName bool // the destination can be given as "localhost"
}

var realProxies = []realProxy{
	{name: "dante-socks5h", env: "MW_SOCKS5", cfg: Config{Type: TypeSOCKS5}, byName: true},
	{name: "dante-socks5-local", env: "MW_SOCKS5", cfg: Config{Type: TypeSOCKS5, ResolveLocally: true}, byName: true},
	{name: "dante-socks4", env: "MW_SOCKS5", cfg: Config{Type: TypeSOCKS4, User: "mailwarden"}, byName: true},
	{name: "dante-auth-socks5h", env: "MW_SOCKS5_AUTH", auth: true, cfg: Config{Type: TypeSOCKS5}, byName: true},
	{name: "ssh-socks5h", env: "MW_SSH_SOCKS", cfg: Config{Type: TypeSOCKS5}, byName: true},
	{name: "ssh-socks4a", env: "MW_SSH_SOCKS", cfg: Config{Type: TypeSOCKS4A}, byName: true},
	{name: "ssh-socks4", env: "MW_SSH_SOCKS", cfg: Config{Type: TypeSOCKS4}, byName: true},
	{name: "squid-http", env: "MW_HTTP_PROXY", cfg: Config{Type: TypeHTTP}, byName: true},
	{name: "squid-http-auth", env: "MW_HTTP_PROXY_AUTH", auth: true, cfg: Config{Type: TypeHTTP}, byName: true},
}

func (p realProxy) dialer(t *testing.T) ProxyDialer {
	t.Helper()
	cfg := p.cfg
	cfg.Host, cfg.Port = hostPort(t, peers.Get(t, p.env))
	if p.auth {
		v := peers.Need(t, "MW_PROXY_USER", "MW_PROXY_PASSWORD")
		cfg.User, cfg.Password = v[0], Secret(v[1])
	}
	return mustNew(t, cfg)
}

func testCA(t *testing.T) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(peers.Get(t, "MW_TEST_CA"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("MW_TEST_CA holds no certificate")
	}
	return pool
}

// waitForMessage waits until a file under dir contains token.
func waitForMessage(t *testing.T, dir, token string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		found := false
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || found {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), token) {
				found = true
			}
			return nil
		})
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s did not arrive in the Postfix sink", token)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRealProxiesToPostfix sends a message through every real proxy to the
// real Postfix: plain SMTP, STARTTLS and implicit TLS, each verifying
// Postfix's certificate against "localhost", and checks it arrives.
func TestRealProxiesToPostfix(t *testing.T) {
	modes := []struct{ mode, env string }{
		{"plain", "MW_POSTFIX_PLAIN"},
		{"starttls", "MW_POSTFIX_STARTTLS"},
		{"implicit", "MW_POSTFIX_TLS"},
	}
	for _, p := range realProxies {
		for _, m := range modes {
			for _, byName := range []bool{false, true} {
				if byName && !p.byName {
					continue
				}
				name := p.name + "/" + m.mode
				if byName {
					name += "/by-name"
				}
				t.Run(name, func(t *testing.T) {
					d := p.dialer(t)
					v := peers.Need(t, m.env, "MW_POSTFIX_MAILDIR")
					addr := v[0]
					if byName {
						_, port := hostPort(t, addr)
						addr = net.JoinHostPort("localhost", itoa(port))
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					start := time.Now()
					conn, err := d.DialContext(ctx, "tcp", addr)
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("%s: tunnel to %s in %v", d.Proxy(), addr, time.Since(start))
					token := fmt.Sprintf("real-%s-%d", strings.ReplaceAll(name, "/", "-"), time.Now().UnixNano())
					sendThrough(t, conn, m.mode, testCA(t), token)
					waitForMessage(t, v[1], token)
				})
			}
		}
	}
}

// TestRealProxyCredentials: wrong or missing proxy credentials end in a
// *ProxyError that names the proxy and never shows the password.
func TestRealProxyCredentials(t *testing.T) {
	tests := []struct {
		name     string
		env      string
		typ      Type
		user     string
		password string // "" = none; "wrong" = a wrong one
		op       string
		code     int
		msg      string
	}{
		{"dante no credentials", "MW_SOCKS5_AUTH", TypeSOCKS5, "", "", OpNegotiate, 255, "SOCKS5: proxy requires authentication"},
		{"dante wrong password", "MW_SOCKS5_AUTH", TypeSOCKS5, "user", "wrong", OpAuth, -1, "SOCKS5: proxy rejected the user name or password"},
		{"dante unknown user", "MW_SOCKS5_AUTH", TypeSOCKS5, "nosuchuser", "wrong", OpAuth, -1, "SOCKS5: proxy rejected the user name or password"},
		{"squid no credentials", "MW_HTTP_PROXY_AUTH", TypeHTTP, "", "", OpAuth, 407, "HTTP CONNECT: proxy requires authentication"},
		{"squid wrong password", "MW_HTTP_PROXY_AUTH", TypeHTTP, "user", "wrong", OpAuth, 407, "HTTP CONNECT: proxy rejected the user name or password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := peers.Need(t, tt.env, "MW_PROXY_USER", "MW_PROXY_PASSWORD", "MW_POSTFIX_PLAIN")
			cfg := Config{Type: tt.typ}
			cfg.Host, cfg.Port = hostPort(t, v[0])
			wrong := "wrong-" + testPassword
			if tt.user == "user" {
				cfg.User = v[1]
			} else {
				cfg.User = tt.user
			}
			if tt.password == "wrong" {
				cfg.Password = Secret(wrong)
			}
			d := mustNew(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := d.DialContext(ctx, "tcp", v[3])
			if err == nil {
				c.Close()
				t.Fatal("DialContext succeeded with bad credentials")
			}
			var pe *ProxyError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *ProxyError", err)
			}
			t.Logf("%v", err)
			if pe.Op != tt.op || (tt.code >= 0 && pe.Code != tt.code) || (tt.code < 0 && pe.Code == 0) || !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("got Op %q Code %d Msg %q; want Op %q Code %d Msg containing %q", pe.Op, pe.Code, pe.Msg, tt.op, tt.code, tt.msg)
			}
			if !strings.Contains(err.Error(), d.Proxy()) {
				t.Errorf("error %q does not name the proxy %s", err, d.Proxy())
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%#v", pe), fmt.Sprintf("%+v", pe)} {
				if strings.Contains(s, wrong) || strings.Contains(s, v[2]) {
					t.Errorf("error leaks a password: %s", s)
				}
			}
		})
	}
}

// TestRealProxyRefusedDestination: a destination the proxy cannot reach
// (a closed loopback port) is a *ProxyError at the connect stage.
func TestRealProxyRefusedDestination(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, p := range realProxies {
		if p.cfg.ResolveLocally {
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			d := p.dialer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := d.DialContext(ctx, "tcp", closed)
			if err == nil {
				c.Close()
				t.Fatal("DialContext to a closed port succeeded")
			}
			var pe *ProxyError
			if !errors.As(err, &pe) || pe.Op != OpConnect {
				t.Fatalf("err = %v, want *ProxyError at stage connect", err)
			}
			// OpenSSH closes the connection without a reply; the others
			// answer with a reply code or status.
			if pe.Code == 0 && !(errors.Is(err, io.ErrUnexpectedEOF) && strings.Contains(pe.Msg, "destination may be unreachable")) {
				t.Errorf("err = %v, want a reply code or the closed-without-reply message", err)
			}
			t.Logf("%v", err)
		})
	}
}

// TestRealProxyWrongProtocol: speaking the wrong protocol to a real proxy,
// or a protocol corner it does not support, ends in a *ProxyError, never a
// hang past the deadline or an untyped error.
func TestRealProxyWrongProtocol(t *testing.T) {
	tests := []struct {
		name  string
		env   string
		typ   Type
		name4 bool // destination given by name
		check func(*ProxyError) bool
	}{
		// Squid waits for the rest of an HTTP request: the deadline ends it.
		{"socks5 to squid", "MW_HTTP_PROXY", TypeSOCKS5, false, func(pe *ProxyError) bool {
			return pe.Op == OpNegotiate && errors.Is(pe, context.DeadlineExceeded)
		}},
		// Dante closes on a request that is not SOCKS.
		{"http to dante", "MW_SOCKS5", TypeHTTP, false, func(pe *ProxyError) bool {
			return pe.Op == OpConnect && errors.Is(pe, io.ErrUnexpectedEOF)
		}},
		{"https to squid's plain port", "MW_HTTP_PROXY", TypeHTTPS, false, func(pe *ProxyError) bool {
			return pe.Op == OpTLS
		}},
		// Dante does not implement SOCKS4a: it rejects the name.
		{"socks4a name to dante", "MW_SOCKS5", TypeSOCKS4A, true, func(pe *ProxyError) bool {
			return pe.Op == OpConnect && pe.Code == 91
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := peers.Need(t, tt.env, "MW_POSTFIX_PLAIN")
			cfg := Config{Type: tt.typ}
			cfg.Host, cfg.Port = hostPort(t, v[0])
			d := mustNew(t, cfg)
			addr := v[1]
			if tt.name4 {
				_, port := hostPort(t, addr)
				addr = net.JoinHostPort("localhost", itoa(port))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			c, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				c.Close()
				t.Fatal("DialContext succeeded")
			}
			var pe *ProxyError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %T %v, want *ProxyError", err, err)
			}
			if !tt.check(pe) {
				t.Fatalf("err = %v (Op %q, Code %d)", err, pe.Op, pe.Code)
			}
			t.Logf("%v", err)
		})
	}
}
