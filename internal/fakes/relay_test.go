package fakes

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailwarden/internal/testcert"
)

type cramClient struct{ user, pw string }

func (c cramClient) Start() (string, []byte, error) { return "CRAM-MD5", nil, nil }
func (c cramClient) Next(ch []byte) ([]byte, error) {
	m := hmac.New(md5.New, []byte(c.pw))
	m.Write(ch)
	return []byte(c.user + " " + hex.EncodeToString(m.Sum(nil))), nil
}

func startTestRelay(t *testing.T) (*Relay, *tls.Config) {
	t.Helper()
	lb, err := testcert.NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	r, err := StartRelay(lb.Server.TLS(), "demo", "pw-123")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r, &tls.Config{RootCAs: lb.CA.Pool(), ServerName: "localhost"}
}

func TestRelayAcceptsAuthenticatedTLS(t *testing.T) {
	r, tc := startTestRelay(t)
	for _, auth := range []sasl.Client{sasl.NewPlainClient("", "demo", "pw-123"), cramClient{"demo", "pw-123"}} {
		c, err := smtp.DialStartTLS(r.Addr(), tc)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Auth(auth); err != nil {
			t.Fatal(err)
		}
		if err := c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader("Subject: x\r\n\r\nhi\r\n")); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	msgs := r.Messages()
	if len(msgs) != 2 {
		t.Fatalf("got %d messages", len(msgs))
	}
	if msgs[0].AuthMech != "PLAIN" || msgs[1].AuthMech != "CRAM-MD5" || !msgs[1].TLS || msgs[1].AuthUser != "demo" {
		t.Errorf("auth facts = %+v", msgs)
	}
	if string(msgs[1].Data) != "Subject: x\r\n\r\nhi\r\n" || msgs[1].Recipients[0] != "b@example.com" {
		t.Errorf("received %q to %v", msgs[1].Data, msgs[1].Recipients)
	}
}

func TestRelayRefusesWrongPasswordAndPlaintextAuth(t *testing.T) {
	r, tc := startTestRelay(t)
	for _, auth := range []sasl.Client{sasl.NewPlainClient("", "demo", "wrong"), cramClient{"demo", "wrong"}} {
		c, err := smtp.DialStartTLS(r.Addr(), tc)
		if err != nil {
			t.Fatal(err)
		}
		var se *smtp.SMTPError
		if err := c.Auth(auth); !errors.As(err, &se) || se.Code != 535 {
			t.Errorf("wrong password: %v", err)
		}
		c.Close()
	}
	c, err := smtp.Dial(r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH advertised before STARTTLS")
	}
	if err := c.Mail("a@example.com", nil); err == nil {
		t.Error("MAIL accepted without authentication")
	}
	if len(r.Messages()) != 0 {
		t.Error("a message was accepted")
	}
}
