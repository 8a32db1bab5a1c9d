package transport_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"mailwarden/authmech"
	"mailwarden/authmech/gssapi"
	"mailwarden/authmech/ntlm"
	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// TestSTARTTLSStripOfflineCrackable: a man in the middle strips STARTTLS
// from the EHLO reply and offers only mechanisms whose recorded exchange
// can be cracked offline (or that send the secret, or leave the session
// open). Under TLS auto, neither auto nor an explicit mechanism may start
// an AUTH in clear: the session fails with an error that says why, and the
// server never sees an AUTH command.
func TestSTARTTLSStripOfflineCrackable(t *testing.T) {
	reg := authmech.NewRegistry()
	if err := ntlm.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := gssapi.Register(reg); err != nil {
		t.Fatal(err)
	}
	creds := authmech.Credentials{Username: "tim", Password: "tanstaaftanstaaf", Token: authmech.StaticToken("ya29.token"),
		Kerberos: authmech.Kerberos{Config: "/nonexistent/krb5.conf"}}
	stripped := plan{ehlo: "250-mitm.example\r\n250-PIPELINING\r\n250 AUTH CRAM-MD5 SCRAM-SHA-256 SCRAM-SHA-1 NTLM GSSAPI XOAUTH2 OAUTHBEARER PLAIN LOGIN\r\n"}
	for _, mech := range []string{"auto", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "NTLM", "GSSAPI", "XOAUTH2", "OAUTHBEARER", "PLAIN", "LOGIN"} {
		t.Run(mech, func(t *testing.T) {
			seen := make(chan []string, 1)
			hp := smtptest.Hostile(t, func(c *smtptest.Conn) {
				stripped.run(c)
				seen <- c.Lines()
			})
			ac, err := reg.Client(mech, creds)
			if err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(t)
			cfg.Auth = ac
			c, err := transport.Dial(ctxT(t, 5*time.Second), hostileAddr(t, hp, transport.TLSAuto), cfg)
			if err == nil {
				c.Close()
				t.Fatal("authenticated in clear after a STARTTLS strip")
			}
			var e *transport.Error
			if !errors.Is(err, authmech.ErrPlaintextRefused) || !errors.As(err, &e) || e.Stage != transport.StageAuth ||
				transport.Classify(err) != transport.ClassAuth {
				t.Fatalf("err = %v, want ErrPlaintextRefused at the auth stage", err)
			}
			if !strings.Contains(err.Error(), "unencrypted") && !strings.Contains(err.Error(), "not encrypted") {
				t.Errorf("the error does not say why: %v", err)
			}
			for _, l := range <-seen {
				if strings.HasPrefix(strings.ToUpper(l), "AUTH") {
					t.Errorf("the client sent %q in clear", l)
				}
			}
		})
	}
}

// TestSCRAMIterationCountOne: a server (or a man in the middle with a
// certificate the client trusts) asks SCRAM for one iteration so that the
// proof is cheap to crack. The client cancels the exchange with "*", sends
// no proof, and reports authmech.ErrSCRAMIterations.
func TestSCRAMIterationCountOne(t *testing.T) {
	sent := make(chan []string, 1)
	hp := smtptest.Hostile(t, func(c *smtptest.Conn) {
		var lines []string
		defer func() { sent <- lines }()
		c.Send("220 x ESMTP\r\n")
		c.Until("EHLO")
		c.Send("250-x\r\n250 STARTTLS\r\n")
		c.Until("STARTTLS")
		c.Send("220 go ahead\r\n")
		if c.StartTLS(serverTLS(t)) != nil {
			return
		}
		c.Until("EHLO")
		c.Send("250-x\r\n250 AUTH SCRAM-SHA-256\r\n")
		l, ok := c.Until("AUTH")
		if !ok {
			return
		}
		f := strings.Fields(l)
		first, _ := base64.StdEncoding.DecodeString(f[len(f)-1])
		_, nonce, _ := strings.Cut(string(first), ",r=")
		c.Send("334 " + base64.StdEncoding.EncodeToString([]byte("r="+nonce+"srv,s=QSXCR+Q6sek8bf92,i=1")) + "\r\n")
		if l, ok = c.Line(); ok {
			lines = append(lines, l)
			c.Send("501 5.7.0 cancelled\r\n")
		}
		c.Until("QUIT")
	})
	ac, _ := authmech.NewRegistry().Client("SCRAM-SHA-256", authmech.Credentials{Username: "user", Password: "pencil"})
	cfg := testConfig(t)
	cfg.Auth = ac
	c, err := transport.Dial(ctxT(t, 5*time.Second), hostileAddr(t, hp, transport.TLSExplicit), cfg)
	if err == nil {
		c.Close()
		t.Fatal("authenticated with one iteration")
	}
	if !errors.Is(err, authmech.ErrSCRAMIterations) || transport.Classify(err) != transport.ClassAuth {
		t.Errorf("err = %v (class %v), want ErrSCRAMIterations", err, transport.Classify(err))
	}
	if got := <-sent; len(got) != 1 || got[0] != "*" {
		t.Errorf("after the server-first message the client sent %q, want only the cancel \"*\"", got)
	}
}
