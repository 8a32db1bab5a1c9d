// Package fakes holds the embedded peers of `smtpcheck demo` and of the
// examples and tests: an SMTP submission relay, a SOCKS5 proxy and a
// throwaway PKI, all on 127.0.0.1. It imports no package of Mailwarden's
// that sends mail (not the root package), so that what it fakes is always
// reached through the real code path.
package fakes

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message the relay accepted.
type Received struct {
	AuthUser   string
	AuthMech   string
	TLS        bool
	From       string
	Recipients []string
	Data       []byte
}

// Relay is an embedded SMTP submission server: STARTTLS with the given
// certificate, AUTH PLAIN and CRAM-MD5 (after STARTTLS only) for one user,
// PIPELINING, CHUNKING, SIZE and 8BITMIME. It keeps what it receives in
// memory. It listens on 127.0.0.1 only.
type Relay struct {
	srv      *smtp.Server
	ln       net.Listener
	user     string
	password string
	queueSeq int

	mu       sync.Mutex
	busy     bool
	received []Received
	done     chan struct{}
}

// StartRelay listens on a free 127.0.0.1 port and serves until Close.
func StartRelay(cert tls.Certificate, user, password string) (*Relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	r := &Relay{ln: ln, user: user, password: password, done: make(chan struct{})}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{r: r, conn: c}, nil
	}))
	s.Domain = "relay.demo.invalid"
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.MaxMessageBytes = 64 << 20
	s.MaxRecipients = 100
	s.ReadTimeout = 30 * time.Second
	s.WriteTimeout = 30 * time.Second
	// Clients that hang up are the norm in a demo and tests, not news.
	s.ErrorLog = log.New(io.Discard, "", 0)
	r.srv = s
	go func() {
		defer close(r.done)
		_ = s.Serve(ln)
	}()
	return r, nil
}

// Addr returns the relay's address, 127.0.0.1:PORT.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Messages returns what the relay has accepted so far.
func (r *Relay) Messages() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received(nil), r.received...)
}

// Close stops the relay and waits for it.
func (r *Relay) Close() error {
	err := r.srv.Close()
	<-r.done
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	return err
}

type session struct {
	r        *Relay
	conn     *smtp.Conn
	authUser string
	authMech string
	from     string
	rcpts    []string
}

func (s *session) AuthMechanisms() []string {
	if _, ok := s.conn.TLSConnectionState(); !ok {
		return nil
	}
	return []string{"CRAM-MD5", sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if _, ok := s.conn.TLSConnectionState(); !ok {
		return nil, &smtp.SMTPError{Code: 538, EnhancedCode: smtp.EnhancedCode{5, 7, 11}, Message: "Encryption required"}
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return errors.New("identity not allowed")
			}
			return s.check(mech, username, password)
		}), nil
	case "CRAM-MD5":
		return newCRAMServer(s.r.user, s.r.password, func(user string) {
			s.authUser, s.authMech = user, mech
		}), nil
	}
	return nil, errors.New("mechanism not supported")
}

var errBadCredentials = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}

func (s *session) check(mech, user, password string) error {
	if subtle.ConstantTimeCompare([]byte(user), []byte(s.r.user)) != 1 ||
		subtle.ConstantTimeCompare([]byte(password), []byte(s.r.password)) != 1 {
		return errBadCredentials
	}
	s.authUser, s.authMech = user, mech
	return nil
}

// SetBusy makes the relay refuse new messages with a temporary 451, as a
// relay does when its queue is full or its disk is short, until called
// with false.
func (r *Relay) SetBusy(busy bool) {
	r.mu.Lock()
	r.busy = busy
	r.mu.Unlock()
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.authUser == "" {
		return smtp.ErrAuthRequired
	}
	s.r.mu.Lock()
	busy := s.r.busy
	s.r.mu.Unlock()
	if busy {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage, try again later"}
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Data(rd io.Reader) error {
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, rd); err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.r.mu.Lock()
	s.r.received = append(s.r.received, Received{
		AuthUser: s.authUser, AuthMech: s.authMech, TLS: isTLS,
		From: s.from, Recipients: append([]string(nil), s.rcpts...), Data: buf.Bytes(),
	})
	s.r.queueSeq++
	id := s.r.queueSeq
	s.r.mu.Unlock()
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: fmt.Sprintf("Ok: queued as DEMO%04d", id)}
}

func (s *session) Reset() { s.from, s.rcpts = "", nil }

func (s *session) Logout() error { return nil }

// cramServer is the server side of CRAM-MD5 (RFC 2195).
type cramServer struct {
	user, password string
	challenge      string
	ok             func(user string)
	step           int
}

func newCRAMServer(user, password string, ok func(string)) *cramServer {
	var nonce [12]byte
	_, _ = rand.Read(nonce[:])
	return &cramServer{
		user: user, password: password, ok: ok,
		challenge: fmt.Sprintf("<%s.%d@relay.demo.invalid>", hex.EncodeToString(nonce[:]), time.Now().Unix()),
	}
}

func (c *cramServer) Next(response []byte) ([]byte, bool, error) {
	c.step++
	if c.step == 1 {
		if response != nil {
			return nil, false, errors.New("CRAM-MD5 takes no initial response")
		}
		return []byte(c.challenge), false, nil
	}
	user, digest, ok := strings.Cut(string(response), " ")
	if !ok {
		return nil, false, errBadCredentials
	}
	m := hmac.New(md5.New, []byte(c.password))
	m.Write([]byte(c.challenge))
	want := hex.EncodeToString(m.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(user), []byte(c.user)) != 1 || !hmac.Equal([]byte(digest), []byte(want)) {
		return nil, false, errBadCredentials
	}
	c.ok(user)
	return nil, true, nil
}
