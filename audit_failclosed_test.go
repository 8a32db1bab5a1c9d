package mailwarden_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mailwarden"
	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/fakes"
	"mailwarden/internal/testcert"
)

// TestFailClosedAuditRefusesTheSend: when the audit trail cannot record a
// send (its syslog collector went away), nothing is sent and the error
// says why; with fail-open the send goes on.
func TestFailClosedAuditRefusesTheSend(t *testing.T) {
	relay, caFile := tlsRelay(t, "u", "p")

	for _, failOpen := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		accepted := make(chan net.Conn, 4)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted <- c
			}
		}()
		p := mailwarden.Profile{Name: "audited", Servers: []string{relay.Addr() + "-starttls"}, CAFile: caFile,
			Auth:  mailwarden.Auth{Mechanism: "PLAIN", Username: "u", Password: "env:PW"},
			Audit: mailwarden.AuditConfig{Syslog: "tcp://" + ln.Addr().String(), FailOpen: failOpen}}
		s, err := mailwarden.NewSender(context.Background(), p, &mailwarden.Options{Getenv: func(string) string { return "p" }})
		if err != nil {
			t.Fatal(err)
		}
		// The collector goes away: no listener, and the open connection is
		// cut (once the sink has connected: it may do so in the background).
		select {
		case c := <-accepted:
			ln.Close()
			c.Close()
		case <-time.After(20 * time.Second):
			t.Fatal("the syslog sink never connected")
		}
		before := len(relay.Messages())
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err = s.Send(ctx, &envelope.Message{From: headers.Address{Addr: "a@example.com"}, To: []headers.Address{{Addr: "b@example.com"}}, Subject: "audited", Text: "x\r\n"})
		cancel()
		s.Close()
		sent := len(relay.Messages()) - before
		if failOpen {
			if err != nil || sent != 1 {
				t.Errorf("fail-open: err %v, %d sent; want the send to go on", err, sent)
			}
			continue
		}
		if !errors.Is(err, mailwarden.ErrAuditFailed) || sent != 0 {
			t.Errorf("fail-closed: err %v, %d sent; want ErrAuditFailed and nothing sent", err, sent)
		}
	}
}

// tlsRelay starts an in-process relay with STARTTLS (a loopback
// certificate) and AUTH for user and password, closed when the test ends,
// and returns it with the file of the CA that signed its certificate.
func tlsRelay(t *testing.T, user, password string) (*fakes.Relay, string) {
	t.Helper()
	lb, err := testcert.NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	relay, err := fakes.StartRelay(lb.Server.TLS(), user, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, lb.CA.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return relay, caFile
}
