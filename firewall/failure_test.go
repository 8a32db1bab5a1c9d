package firewall

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// readHead reads an HTTP request head from c.
func readHead(c net.Conn) *http.Request {
	req, _ := http.ReadRequest(bufio.NewReader(c))
	return req
}

func read(c net.Conn, n int) {
	io.ReadFull(c, make([]byte, n))
}

// socks5NoAuth reads a one-method greeting and accepts "no authentication"
// so a scripted server can go on to the connect stage.
func socks5NoAuth(c net.Conn) {
	read(c, 3)
	c.Write([]byte{5, 0})
}

// hang keeps the connection open without answering until the client
// gives up.
func hang(c net.Conn) { io.Copy(io.Discard, c) }

const testPassword = "Pa55-w0rd!secret"

func TestProxyFailures(t *testing.T) {
	tests := []struct {
		name    string
		typ     Type
		user    string
		pass    Secret
		server  func(net.Conn)
		op      string
		code    int
		msg     string // substring of Msg
		wantErr error  // errors.Is target, if any
	}{
		// SOCKS5
		{"socks5 wants credentials", TypeSOCKS5, "", "", func(c net.Conn) { read(c, 3); c.Write([]byte{5, 0xff}) },
			OpNegotiate, 255, "SOCKS5: proxy requires authentication", nil},
		{"socks5 accepts no offered method", TypeSOCKS5, "u", testPassword, func(c net.Conn) { read(c, 4); c.Write([]byte{5, 0xff}) },
			OpNegotiate, 255, "accepts none of the offered", nil},
		{"socks5 chooses gssapi", TypeSOCKS5, "", "", func(c net.Conn) { read(c, 3); c.Write([]byte{5, 1}) },
			OpNegotiate, 1, "not offered", nil},
		{"socks5 chooses password not offered", TypeSOCKS5, "", "", func(c net.Conn) { read(c, 3); c.Write([]byte{5, 2}) },
			OpNegotiate, 2, "not offered", nil},
		{"socks5 rejects credentials", TypeSOCKS5, "u", testPassword, func(c net.Conn) {
			read(c, 4)
			c.Write([]byte{5, 2})
			read(c, 3+1+len(testPassword))
			c.Write([]byte{1, 1})
		}, OpAuth, 1, "SOCKS5: proxy rejected the user name or password", nil},
		{"socks5 refused by destination", TypeSOCKS5, "", "", func(c net.Conn) {
			socks5NoAuth(c)
			read(c, 10)
			c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		}, OpConnect, 5, "SOCKS5: connection refused by destination host", nil},
		{"socks5 ruleset", TypeSOCKS5, "", "", func(c net.Conn) {
			socks5NoAuth(c)
			read(c, 10)
			c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0})
		}, OpConnect, 2, "SOCKS5: connection not allowed by ruleset", nil},
		{"socks5 garbage", TypeSOCKS5, "", "", func(c net.Conn) { read(c, 3); io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n") },
			OpNegotiate, 0, "not a SOCKS5 proxy", nil},
		{"socks5 unknown address type", TypeSOCKS5, "", "", func(c net.Conn) {
			socks5NoAuth(c)
			read(c, 10)
			c.Write([]byte{5, 0, 0, 9, 1, 2, 3, 4})
		}, OpConnect, 0, "unknown address type 9", nil},
		{"socks5 closes after greeting", TypeSOCKS5, "", "", func(c net.Conn) { read(c, 3) },
			OpNegotiate, 0, "closed the connection during method negotiation", io.ErrUnexpectedEOF},
		{"socks5 closes mid reply", TypeSOCKS5, "", "", func(c net.Conn) {
			socks5NoAuth(c)
			read(c, 10)
			c.Write([]byte{5, 0, 0, 1, 127})
		}, OpConnect, 0, "closed the connection during connect reply", io.ErrUnexpectedEOF},
		{"socks5 silent", TypeSOCKS5, "", "", hang, OpNegotiate, 0, "did not finish in time", context.DeadlineExceeded},
		{"socks5 silent after auth", TypeSOCKS5, "u", testPassword, func(c net.Conn) {
			read(c, 4)
			c.Write([]byte{5, 2})
			hang(c)
		}, OpAuth, 0, "did not finish in time", context.DeadlineExceeded},

		// SOCKS4 and 4a
		{"socks4 rejected", TypeSOCKS4, "", "", func(c net.Conn) { read(c, 9); c.Write([]byte{0, 91, 0, 0, 0, 0, 0, 0}) },
			OpConnect, 91, "SOCKS4: request rejected or failed", nil},
		{"socks4 identd", TypeSOCKS4, "", "", func(c net.Conn) { read(c, 9); c.Write([]byte{0, 92, 0, 0, 0, 0, 0, 0}) },
			OpConnect, 92, "cannot reach identd", nil},
		{"socks4a user-id mismatch", TypeSOCKS4A, "u", "", func(c net.Conn) { read(c, 10); c.Write([]byte{0, 93, 0, 0, 0, 0, 0, 0}) },
			OpConnect, 93, "SOCKS4a: request rejected: identd reports a different user-id", nil},
		{"socks4 garbage", TypeSOCKS4, "", "", func(c net.Conn) { read(c, 9); io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n") },
			OpConnect, 0, "not a SOCKS4 reply", nil},
		{"socks4 short reply", TypeSOCKS4, "", "", func(c net.Conn) { read(c, 9); c.Write([]byte{0, 90, 0}) },
			OpConnect, 0, "closed the connection during connect reply", io.ErrUnexpectedEOF},
		{"socks4 silent", TypeSOCKS4, "", "", hang, OpConnect, 0, "did not finish in time", context.DeadlineExceeded},

		// HTTP CONNECT
		{"http wants credentials", TypeHTTP, "", "", func(c net.Conn) {
			readHead(c)
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n")
		}, OpAuth, 407, `HTTP CONNECT: proxy requires authentication; configure a user name and password (HTTP 407 Proxy Authentication Required; Proxy-Authenticate: Basic realm=\"corp\")`, nil},
		{"http rejects credentials", TypeHTTP, "u", testPassword, func(c net.Conn) {
			readHead(c)
			io.WriteString(c, "HTTP/1.0 407 Proxy Authentication Required\r\n\r\n")
		}, OpAuth, 407, "proxy rejected the user name or password", nil},
		{"http endless 1xx", TypeHTTP, "", "", func(c net.Conn) {
			readHead(c)
			io.WriteString(c, strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 10))
		}, OpConnect, 100, "proxy refused the tunnel (HTTP 100 Continue)", nil},
		{"http forbidden", TypeHTTP, "", "", func(c net.Conn) { readHead(c); io.WriteString(c, "HTTP/1.1 403 Forbidden\r\n\r\n") },
			OpConnect, 403, "proxy rules forbid a tunnel to this destination (HTTP 403 Forbidden)", nil},
		{"http destination down", TypeHTTP, "", "", func(c net.Conn) { readHead(c); io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\n\r\n") },
			OpConnect, 503, "could not connect to the destination", nil},
		{"http gateway timeout", TypeHTTP, "", "", func(c net.Conn) { readHead(c); io.WriteString(c, "HTTP/1.1 504 Gateway Timeout\r\n\r\n") },
			OpConnect, 504, "timed out connecting", nil},
		{"http garbage", TypeHTTP, "", "", func(c net.Conn) { readHead(c); io.WriteString(c, "220 smtp.example.com ESMTP\r\n") },
			OpConnect, 0, "proxy did not answer with HTTP: 220 smtp.example.com ESMTP", nil},
		{"http binary garbage", TypeHTTP, "", "", func(c net.Conn) { readHead(c); c.Write([]byte{5, 0xff, '\n'}) },
			OpConnect, 0, `proxy did not answer with HTTP: \x05\xff`, nil},
		{"http malformed header", TypeHTTP, "", "", func(c net.Conn) { readHead(c); io.WriteString(c, "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n") },
			OpConnect, 200, "malformed header line", nil},
		{"http oversized header", TypeHTTP, "", "", func(c net.Conn) {
			readHead(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			for range 1000 {
				io.WriteString(c, "X-Filler: "+strings.Repeat("a", 50)+"\r\n")
			}
		}, OpConnect, 0, "response header longer than 16384 bytes", nil},
		{"http oversized line", TypeHTTP, "", "", func(c net.Conn) {
			readHead(c)
			io.WriteString(c, "HTTP/1.1 200 "+strings.Repeat("a", 20000))
		}, OpConnect, 0, "longer than", nil},
		{"http closes early", TypeHTTP, "", "", func(c net.Conn) { readHead(c); io.WriteString(c, "HTTP/1.1 200 Conn") },
			OpConnect, 0, "closed the connection during CONNECT response", io.ErrUnexpectedEOF},
		{"socks5 closes instead of replying", TypeSOCKS5, "", "", func(c net.Conn) { socks5NoAuth(c); read(c, 10) },
			OpConnect, 0, "closed the connection instead of answering the connect request", io.ErrUnexpectedEOF},
		{"socks4 closes instead of replying", TypeSOCKS4, "", "", func(c net.Conn) { read(c, 9) },
			OpConnect, 0, "closed the connection instead of answering", io.ErrUnexpectedEOF},
		{"http closes without answer", TypeHTTP, "", "", func(c net.Conn) { readHead(c) },
			OpConnect, 0, "closed the connection", io.ErrUnexpectedEOF},
		{"http silent", TypeHTTP, "", "", hang, OpConnect, 0, "did not finish in time", context.DeadlineExceeded},
		{"http silent after headers", TypeHTTP, "", "", func(c net.Conn) { readHead(c); io.WriteString(c, "HTTP/1.1 200 OK\r\n"); hang(c) },
			OpConnect, 0, "did not finish in time", context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, port := hostPort(t, serve(t, nil, tt.server))
			d := mustNew(t, Config{Type: tt.typ, Host: host, Port: port, User: tt.user, Password: tt.pass})
			// A short deadline for the proxies that never answer, a
			// generous one for the others so load cannot turn their
			// answer into a timeout.
			timeout := 10 * time.Second
			if errors.Is(tt.wantErr, context.DeadlineExceeded) {
				timeout = 250 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			c, err := d.DialContext(ctx, "tcp", "127.0.0.1:25")
			if err == nil {
				c.Close()
				t.Fatal("DialContext succeeded, want *ProxyError")
			}
			var pe *ProxyError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %T %v, want *ProxyError", err, err)
			}
			if pe.Proxy != d.Proxy() || pe.Addr != "127.0.0.1:25" || pe.Protocol == "" {
				t.Errorf("ProxyError{Proxy: %q, Addr: %q, Protocol: %q}, want proxy %q, addr 127.0.0.1:25", pe.Proxy, pe.Addr, pe.Protocol, d.Proxy())
			}
			if pe.Op != tt.op || pe.Code != tt.code || !strings.Contains(pe.Msg, tt.msg) || !strings.HasPrefix(pe.Msg, pe.Protocol+": ") {
				t.Errorf("got Op %q Code %d Msg %q\nwant Op %q Code %d Msg containing %q", pe.Op, pe.Code, pe.Msg, tt.op, tt.code, tt.msg)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.wantErr)
			}
			if errors.Is(tt.wantErr, context.DeadlineExceeded) != pe.Timeout() {
				t.Errorf("Timeout() = %v", pe.Timeout())
			}
			if !strings.HasPrefix(err.Error(), "firewall: proxy "+d.Proxy()+": ") {
				t.Errorf("Error() = %q, want it to start with the proxy", err)
			}
			assertNoSecret(t, err)
		})
	}
}

// assertNoSecret fails if any printed form of v holds the test password or
// its Basic credentials.
func assertNoSecret(t *testing.T, v any) {
	t.Helper()
	var log strings.Builder
	slog.New(slog.NewJSONHandler(&log, nil)).Info("x", "v", v)
	for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), log.String()} {
		for _, secret := range []string{testPassword, "UGE1NS13MHJkIXNlY3JldA", "dTpQYTU1LXcwcmQhc2VjcmV0"} {
			if strings.Contains(s, secret) {
				t.Errorf("printed form leaks the password: %s", s)
			}
		}
	}
}

// TestProxyEchoesCredentials: a proxy that echoes the Proxy-Authorization
// header or the password in its reason phrase must not get it printed.
func TestProxyEchoesCredentials(t *testing.T) {
	host, port := hostPort(t, serve(t, nil, func(c net.Conn) {
		req := readHead(c)
		io.WriteString(c, "HTTP/1.1 407 bad "+req.Header.Get("Proxy-Authorization")+" "+testPassword+"\r\n"+
			"Proxy-Authenticate: Basic realm=\""+testPassword+"\"\r\n\r\n")
	}))
	d := mustNew(t, Config{Type: TypeHTTP, Host: host, Port: port, User: "u", Password: testPassword})
	_, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:25")
	var pe *ProxyError
	if !errors.As(err, &pe) || pe.Code != 407 {
		t.Fatalf("err = %v, want 407 *ProxyError", err)
	}
	if !strings.Contains(pe.Msg, "[REDACTED]") {
		t.Errorf("Msg = %q, want the echoed secret replaced", pe.Msg)
	}
	assertNoSecret(t, err)
}

func TestProxyUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port := hostPort(t, l.Addr().String())
	l.Close() // nothing listens there now
	for _, typ := range []Type{TypeSOCKS4, TypeSOCKS4A, TypeSOCKS5, TypeHTTP, TypeHTTPS} {
		d := mustNew(t, Config{Type: typ, Host: host, Port: port})
		_, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:25")
		var pe *ProxyError
		var oe *net.OpError
		if !errors.As(err, &pe) || pe.Op != OpDial || !errors.As(err, &oe) {
			t.Errorf("%v: err = %v, want *ProxyError at stage dial wrapping *net.OpError", typ, err)
		}
	}
}

func TestHandshakeCancel(t *testing.T) {
	started := make(chan struct{})
	host, port := hostPort(t, serve(t, nil, func(c net.Conn) { read(c, 3); close(started); hang(c) }))
	d := mustNew(t, Config{Type: TypeSOCKS5, Host: host, Port: port})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := d.DialContext(ctx, "tcp", "127.0.0.1:25")
	var pe *ProxyError
	if !errors.As(err, &pe) || !errors.Is(err, context.Canceled) || !strings.Contains(pe.Msg, "interrupted") {
		t.Fatalf("err = %v, want *ProxyError wrapping context.Canceled", err)
	}
}

// TestDeadlineCleared checks that the handshake's deadline does not stay
// on the returned connection.
func TestDeadlineCleared(t *testing.T) {
	dst := serve(t, nil, func(c net.Conn) {
		time.Sleep(1300 * time.Millisecond)
		io.WriteString(c, "220 late\r\n")
		hang(c)
	})
	s5 := &fakeSOCKS5{}
	host, port := hostPort(t, s5.start(t))
	d := mustNew(t, Config{Type: TypeSOCKS5, Host: host, Port: port})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	c, err := d.DialContext(ctx, "tcp", dst)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if g := readGreeting(t, c); g != "220 late\r\n" {
		t.Fatalf("greeting = %q", g)
	}
}

// TestGreetingInSameSegment: the proxy's success reply and the mail
// server's greeting arrive in one write; the greeting must reach the
// caller, not stay in a buffer inside the dialer.
func TestGreetingInSameSegment(t *testing.T) {
	const greeting = "220 smtp.example.com ESMTP\r\n"
	tests := []struct {
		name   string
		typ    Type
		server func(net.Conn)
	}{
		{"http", TypeHTTP, func(c net.Conn) {
			readHead(c)
			// RFC 9110: a 2xx CONNECT response has no content, whatever
			// Content-Length says.
			io.WriteString(c, "HTTP/1.1 200 Connection established\r\nContent-Length: 5\r\nVia: 1.1 fake\r\n\r\n"+greeting)
			hang(c)
		}},
		{"http 1.0 bare LF", TypeHTTP, func(c net.Conn) {
			readHead(c)
			io.WriteString(c, "HTTP/1.0 200 OK\n\n"+greeting)
			hang(c)
		}},
		{"http after 1xx interim responses", TypeHTTP, func(c net.Conn) {
			readHead(c)
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"+greeting)
			hang(c)
		}},
		{"socks5", TypeSOCKS5, func(c net.Conn) {
			socks5NoAuth(c)
			read(c, 10)
			c.Write(append([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 25}, greeting...))
			hang(c)
		}},
		{"socks5 domain bound address", TypeSOCKS5, func(c net.Conn) {
			socks5NoAuth(c)
			read(c, 10)
			name := "mx-egress.proxy.example"
			c.Write(append(append([]byte{5, 0, 0, 3, byte(len(name))}, name...), append([]byte{0x9c, 0x40}, greeting...)...))
			hang(c)
		}},
		{"socks5 ipv6 bound address", TypeSOCKS5, func(c net.Conn) {
			socks5NoAuth(c)
			read(c, 10)
			c.Write(append(append([]byte{5, 0, 0, 4}, make([]byte, 18)...), greeting...))
			hang(c)
		}},
		{"socks4", TypeSOCKS4, func(c net.Conn) {
			read(c, 9)
			c.Write(append([]byte{0, 90, 0, 0, 0, 0, 0, 0}, greeting...))
			hang(c)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, port := hostPort(t, serve(t, nil, tt.server))
			d := mustNew(t, Config{Type: tt.typ, Host: host, Port: port})
			c, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:25")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if g := readGreeting(t, c); g != greeting {
				t.Fatalf("greeting = %q, want %q", g, greeting)
			}
		})
	}
}
