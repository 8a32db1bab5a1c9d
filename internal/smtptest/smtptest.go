// Package smtptest runs SMTP servers for tests on 127.0.0.1: Start serves
// a well-behaved go-smtp server that keeps what it receives, and Hostile
// runs a scripted server that writes whatever raw bytes a test wants (to
// exercise a client's failure paths). Both are closed by t.Cleanup, which
// also waits for their goroutines.
package smtptest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// A Message is one message the server accepted.
type Message struct {
	From     string
	To       []string
	Data     []byte
	MailOpts smtp.MailOptions
	RcptOpts []smtp.RcptOptions
	TLS      bool
	AuthUser string
}

// Options configure Start. The zero value is a plaintext server with
// PIPELINING, CHUNKING, 8BITMIME and SIZE (no limit) and no AUTH.
type Options struct {
	// TLS enables STARTTLS (or, with Implicit, TLS from the first byte).
	TLS      *tls.Config
	Implicit bool
	// NoChunking hides CHUNKING from the EHLO reply. It works on
	// plaintext and implicit-TLS servers only (after STARTTLS the replies
	// are encrypted below the filter); Serve refuses it with STARTTLS.
	NoChunking bool
	// SMTPUTF8, DSN advertise those extensions.
	SMTPUTF8, DSN bool
	// MaxMessageBytes advertises SIZE with this limit (0: no limit).
	MaxMessageBytes int64
	// User and Password enable AUTH PLAIN for that one account.
	User, Password    string
	AllowInsecureAuth bool
	// Mail, Rcpt and Data, when set, decide the replies: return an
	// *smtp.SMTPError to refuse (or, for Data, a 250 SMTPError to choose
	// the final reply's text).
	Mail func(from string, opts *smtp.MailOptions) error
	Rcpt func(to string, opts *smtp.RcptOptions) error
	Data func(data []byte) error
	// Discard drops message data instead of keeping it (benchmarks).
	Discard bool
}

// Server is a running go-smtp server.
type Server struct {
	Addr string // 127.0.0.1:port
	Host string
	Port int

	o   Options
	srv *smtp.Server
	mu  sync.Mutex
	msg []Message
	n   int

	sessions int
}

// Sessions returns the number of SMTP sessions the server has started (one
// per connection, and one more after each STARTTLS).
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Start serves o on a free 127.0.0.1 port until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := Serve(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Serve is Start without a testing.TB; Close stops it.
func Serve(o Options) (*Server, error) {
	if o.NoChunking && o.TLS != nil && !o.Implicit {
		return nil, errors.New("smtptest: NoChunking cannot be combined with STARTTLS")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, Addr: ln.Addr().String(), Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		return &session{s: s, tls: isTLS}, nil
	}))
	srv.Domain = "smtptest.localhost"
	srv.TLSConfig = o.TLS
	srv.EnableSMTPUTF8 = o.SMTPUTF8
	srv.EnableDSN = o.DSN
	srv.MaxMessageBytes = o.MaxMessageBytes
	srv.AllowInsecureAuth = o.AllowInsecureAuth
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxRecipients = 1000
	srv.ErrorLog = nopLogger{}
	s.srv = srv
	if o.Implicit {
		ln = tls.NewListener(ln, o.TLS)
	}
	if o.NoChunking {
		ln = filterListener{ln}
	}
	go srv.Serve(ln)
	return s, nil
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

// Close stops the server and closes its connections.
func (s *Server) Close() error { return s.srv.Close() }

// Messages returns the messages received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msg...)
}

// Count returns the number of messages received so far (also with
// Discard).
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

type session struct {
	s    *Server
	tls  bool
	m    Message
	user string
}

func (ss *session) Reset()        { ss.m = Message{} }
func (ss *session) Logout() error { return nil }
func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if ss.s.o.User != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	if ss.s.o.Mail != nil {
		if err := ss.s.o.Mail(from, opts); err != nil {
			return err
		}
	}
	ss.m = Message{From: from, TLS: ss.tls, AuthUser: ss.user}
	if opts != nil {
		ss.m.MailOpts = *opts
	}
	return nil
}
func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if ss.s.o.Rcpt != nil {
		if err := ss.s.o.Rcpt(to, opts); err != nil {
			return err
		}
	}
	ss.m.To = append(ss.m.To, to)
	if opts != nil {
		ss.m.RcptOpts = append(ss.m.RcptOpts, *opts)
	} else {
		ss.m.RcptOpts = append(ss.m.RcptOpts, smtp.RcptOptions{})
	}
	return nil
}
func (ss *session) Data(r io.Reader) error {
	if ss.s.o.Discard {
		_, err := io.Copy(io.Discard, r)
		ss.s.mu.Lock()
		ss.s.n++
		ss.s.mu.Unlock()
		return err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.s.o.Data != nil {
		if err := ss.s.o.Data(b); err != nil {
			var se *smtp.SMTPError
			if !errors.As(err, &se) || se.Code != 250 {
				return err
			}
			ss.store(b)
			return err
		}
	}
	ss.store(b)
	return nil
}

func (ss *session) store(b []byte) {
	m := ss.m
	m.Data = b
	m.To = append([]string(nil), m.To...)
	ss.s.mu.Lock()
	ss.s.msg = append(ss.s.msg, m)
	ss.s.n++
	ss.s.mu.Unlock()
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.o.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ss.s.o.User || pass != ss.s.o.Password || (identity != "" && identity != user) {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		ss.user = user
		return nil
	}), nil
}

// filterListener hides CHUNKING in the server's EHLO replies.
type filterListener struct{ net.Listener }

func (l filterListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return filterConn{c}, nil
}

type filterConn struct{ net.Conn }

func (c filterConn) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("250-CHUNKING\r\n")) {
		q := bytes.ReplaceAll(p, []byte("250-CHUNKING\r\n"), nil)
		if _, err := c.Conn.Write(q); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// Hostile runs script for every connection to a new listener on
// 127.0.0.1 and returns its address. The script writes raw replies and
// reads the client's lines through *Conn. The connection is closed when
// the script returns; t.Cleanup closes the listener and waits for the
// scripts.
func Hostile(t testing.TB, script func(c *Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				c := &Conn{nc: nc}
				c.r = bufio.NewReader(io.TeeReader(nc, &c.raw))
				script(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// Conn is the server side of one hostile connection.
type Conn struct {
	nc net.Conn
	r  *bufio.Reader
	mu sync.Mutex
	// Lines records every line the client sent (without CRLF).
	lines []string
	raw   lockedBuffer
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Raw returns every byte the client sent before any STARTTLS, as read
// from the socket.
func (c *Conn) Raw() []byte {
	c.raw.mu.Lock()
	defer c.raw.mu.Unlock()
	return append([]byte(nil), c.raw.buf.Bytes()...)
}

// Send writes s as is (the caller includes the CRLFs).
func (c *Conn) Send(s string) error {
	_, err := io.WriteString(c.nc, s)
	return err
}

// Drip writes s one byte at a time with delay between bytes, stopping at
// the first write error.
func (c *Conn) Drip(s string, delay time.Duration) {
	for i := 0; i < len(s); i++ {
		if _, err := c.nc.Write([]byte{s[i]}); err != nil {
			return
		}
		time.Sleep(delay)
	}
}

// Line reads one line from the client without its CRLF; ok is false at
// the end of the connection.
func (c *Conn) Line() (string, bool) {
	l, err := c.r.ReadString('\n')
	if err != nil {
		return "", false
	}
	l = strings.TrimRight(l, "\r\n")
	c.mu.Lock()
	c.lines = append(c.lines, l)
	c.mu.Unlock()
	return l, true
}

// Until reads lines until one starts with prefix (case-insensitive) and
// returns it; ok is false at the end of the connection.
func (c *Conn) Until(prefix string) (string, bool) {
	for {
		l, ok := c.Line()
		if !ok {
			return "", false
		}
		if len(l) >= len(prefix) && strings.EqualFold(l[:len(prefix)], prefix) {
			return l, true
		}
	}
}

// ReadN reads n raw bytes (a BDAT chunk).
func (c *Conn) ReadN(n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(c.r, b)
	return b, err
}

// StartTLS makes the connection TLS (server side); the client's bytes
// already buffered are discarded.
func (c *Conn) StartTLS(cfg *tls.Config) error {
	tc := tls.Server(c.nc, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	c.nc = tc
	c.r = bufio.NewReader(tc)
	return nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Lines returns the lines the client has sent so far.
func (c *Conn) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// EchoCredentials is a Hostile script: a relay that offers PLAIN and
// LOGIN and refuses every AUTH with a 535 that reflects what it was sent:
// the password in plain text and upper-cased, the AUTH payload as received
// (base64) and the password in hex.
func EchoCredentials(c *Conn) {
	c.Send("220 echo.example ESMTP\r\n")
	for {
		l, ok := c.Line()
		if !ok {
			return
		}
		f := strings.Fields(l)
		switch strings.ToUpper(f[0]) {
		case "EHLO":
			c.Send("250-echo.example\r\n250 AUTH PLAIN LOGIN\r\n")
		case "AUTH":
			var pw, sent string
			if strings.EqualFold(f[1], "PLAIN") {
				sent = f[2]
				blob, _ := base64.StdEncoding.DecodeString(sent)
				parts := strings.Split(string(blob), "\x00")
				pw = parts[len(parts)-1]
			} else { // LOGIN
				c.Send("334 VXNlcm5hbWU6\r\n")
				c.Line()
				c.Send("334 UGFzc3dvcmQ6\r\n")
				sent, _ = c.Line()
				b, _ := base64.StdEncoding.DecodeString(sent)
				pw = string(b)
			}
			c.Send("535-5.7.8 authentication failed for password " + pw + "\r\n" +
				"535-5.7.8 you sent " + sent + "\r\n" +
				"535 5.7.8 (hex " + hex.EncodeToString([]byte(pw)) + ", PASSWORD " + strings.ToUpper(pw) + ")\r\n")
		case "QUIT":
			c.Send("221 bye\r\n")
			return
		default:
			c.Send("250 ok\r\n")
		}
	}
}
