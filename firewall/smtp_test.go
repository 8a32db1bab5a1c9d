package firewall

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden/internal/testcert"
)

// sink is an in-process go-smtp backend that keeps the messages it
// accepts.
type sink struct {
	mu   sync.Mutex
	msgs []string
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

func (s *sink) has(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if strings.Contains(m, token) {
			return true
		}
	}
	return false
}

type sinkSession struct{ s *sink }

func (*sinkSession) Reset()                               {}
func (*sinkSession) Logout() error                        { return nil }
func (*sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, string(b))
	ss.s.mu.Unlock()
	return nil
}

// startSMTP runs a go-smtp server offering STARTTLS, or implicit TLS when
// implicit is set, with a certificate for localhost.
func startSMTP(t testing.TB, cert tls.Certificate, implicit bool) (string, *sink) {
	t.Helper()
	be := &sink{}
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		l = tls.NewListener(l, s.TLSConfig)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().String(), be
}

// sendThrough opens an SMTP session on conn (STARTTLS, implicit TLS or
// none), verifying the server's certificate against "localhost", and sends
// one message carrying token.
func sendThrough(t *testing.T, conn net.Conn, mode string, roots *x509.CertPool, token string) {
	t.Helper()
	tlsConfig := &tls.Config{ServerName: "localhost", RootCAs: roots}
	if mode == "implicit" {
		tc := tls.Client(conn, tlsConfig)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			t.Fatalf("implicit TLS through the proxy: %v", err)
		}
		conn = tc
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	var c *smtp.Client
	if mode == "starttls" {
		var err error
		if c, err = smtp.NewClientStartTLS(conn, tlsConfig); err != nil {
			conn.Close()
			t.Fatalf("EHLO and STARTTLS through the proxy: %v", err)
		}
	} else {
		c = smtp.NewClient(conn)
		if err := c.Hello("mailwarden.test"); err != nil {
			c.Close()
			t.Fatalf("EHLO through the proxy: %v", err)
		}
	}
	defer c.Close()
	msg := fmt.Sprintf("From: <alert@mailwarden.test>\r\nTo: <ops@example.com>\r\nSubject: proxy test %s\r\nMessage-ID: <%s@mailwarden.test>\r\n\r\nsent through a proxy: %s\r\n", token, token, token)
	if err := c.SendMail("alert@mailwarden.test", []string{"ops@example.com"}, strings.NewReader(msg)); err != nil {
		t.Fatalf("sending through the proxy: %v", err)
	}
	// go-smtp handshakes lazily: the TLS state is complete once the
	// message is sent.
	if mode != "plain" {
		st, ok := c.TLSConnectionState()
		if !ok || len(st.VerifiedChains) == 0 {
			t.Fatalf("TLS state %v, verified chains %d: want a verified chain", ok, len(st.VerifiedChains))
		}
		if err := st.PeerCertificates[0].VerifyHostname("localhost"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
}

// TestSMTPThroughFakeProxies runs SMTP, STARTTLS and implicit TLS through
// every proxy type to an in-process go-smtp server, verifying the mail
// server's certificate against its own name, not the proxy's.
func TestSMTPThroughFakeProxies(t *testing.T) {
	lo, err := testcert.NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	starttls, sinkS := startSMTP(t, lo.Server.TLS(), false)
	implicit, sinkI := startSMTP(t, lo.Server.TLS(), true)
	proxyTLS := &tls.Config{Certificates: []tls.Certificate{lo.Server.TLS()}}
	configs := map[string]Config{}
	add := func(name, addr string, c Config) {
		c.Host, c.Port = hostPort(t, addr)
		configs[name] = c
	}
	add("socks5h", (&fakeSOCKS5{}).start(t), Config{Type: TypeSOCKS5})
	add("socks5-auth", (&fakeSOCKS5{user: "u", password: testPassword}).start(t), Config{Type: TypeSOCKS5, User: "u", Password: testPassword})
	add("socks4", (&fakeSOCKS4{}).start(t), Config{Type: TypeSOCKS4})
	add("socks4a", (&fakeSOCKS4{}).start(t), Config{Type: TypeSOCKS4A})
	add("http", (&fakeHTTP{coalesce: true}).start(t, nil), Config{Type: TypeHTTP})
	add("http-auth", (&fakeHTTP{user: "u", password: testPassword}).start(t, nil), Config{Type: TypeHTTP, User: "u", Password: testPassword})
	add("https", (&fakeHTTP{}).start(t, proxyTLS), Config{Type: TypeHTTPS, TLSConfig: &tls.Config{RootCAs: lo.CA.Pool(), ServerName: "127.0.0.1"}})
	for name, cfg := range configs {
		for _, mode := range []string{"starttls", "implicit"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				d := mustNew(t, cfg)
				addr, be := starttls, sinkS
				if mode == "implicit" {
					addr, be = implicit, sinkI
				}
				_, port := hostPort(t, addr)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("localhost", itoa(port)))
				if err != nil {
					t.Fatal(err)
				}
				token := fmt.Sprintf("fake-%s-%s-%d", name, mode, time.Now().UnixNano())
				sendThrough(t, conn, mode, lo.CA.Pool(), token)
				if !be.has(token) {
					t.Errorf("message %s did not arrive", token)
				}
			})
		}
	}
}
