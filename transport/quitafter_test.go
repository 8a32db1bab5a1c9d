package transport_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// TestRehearseQuitsAfterEachStep: --quit-after stops the session after the
// step it names, and mail/rcpt send MAIL and RCPT but never DATA.
func TestRehearseQuitsAfterEachStep(t *testing.T) {
	checkGoroutines(t)
	s := smtptest.Start(t, smtptest.Options{TLS: serverTLS(t), User: "u", Password: "p", Rcpt: func(to string, _ *smtp.RcptOptions) error {
		if strings.HasPrefix(to, "gone@") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	env := transport.Envelope{From: "a@example.com", To: []string{"b@example.org", "gone@example.org"}}
	for _, c := range []struct {
		after transport.QuitAfter
		steps string
	}{
		{transport.QuitAfterConnect, "dial,greeting,quit"},
		{transport.QuitAfterTLS, "dial,greeting,ehlo,starttls,tls,quit"},
		{transport.QuitAfterEHLO, "dial,greeting,ehlo,starttls,tls,ehlo,quit"},
		{transport.QuitAfterAuth, "dial,greeting,ehlo,starttls,tls,ehlo,auth,quit"},
		{transport.QuitAfterMail, "dial,greeting,ehlo,starttls,tls,ehlo,auth,mail,quit"},
		{transport.QuitAfterRcpt, "dial,greeting,ehlo,starttls,tls,ehlo,auth,mail,rcpt,rcpt,quit"},
	} {
		cfg := testConfig(t)
		cfg.Auth = &plainClient{"u", "p"}
		cfg.QuitAfter = c.after
		var tr strings.Builder
		cfg.Transcript = &tr
		info, rcpts, err := transport.Rehearse(ctxT(t, 5*time.Second), serverAddr(t, s, transport.TLSExplicit), cfg, env)
		if err != nil {
			t.Errorf("%s: %v", c.after, err)
			continue
		}
		var names []string
		for _, st := range info.Steps {
			names = append(names, st.Name)
		}
		if got := strings.Join(names, ","); got != c.steps {
			t.Errorf("%s: steps %s, want %s", c.after, got, c.steps)
		}
		if strings.Contains(tr.String(), "C: DATA") || strings.Contains(tr.String(), "C: BDAT") {
			t.Errorf("%s: a message was sent:\n%s", c.after, tr.String())
		}
		if c.after == transport.QuitAfterRcpt {
			if len(rcpts) != 2 || !rcpts[0].Accepted() || rcpts[1].Accepted() || rcpts[1].Reply.Code != 550 {
				t.Errorf("rcpt replies %+v", rcpts)
			}
		} else if rcpts != nil {
			t.Errorf("%s: rcpt replies %+v", c.after, rcpts)
		}
	}
	if s.Count() != 0 {
		t.Errorf("the server received %d messages", s.Count())
	}
	// Implicit TLS: "tls" is the greeting over TLS.
	si := smtptest.Start(t, smtptest.Options{TLS: serverTLS(t), Implicit: true})
	cfg := testConfig(t)
	cfg.QuitAfter = transport.QuitAfterTLS
	info, _, err := transport.Rehearse(ctxT(t, 5*time.Second), serverAddr(t, si, transport.TLSImplicit), cfg, transport.Envelope{})
	if err != nil || info.TLS == nil || len(info.EHLOLines) != 0 {
		t.Errorf("implicit tls: %v, %+v", err, info.Steps)
	}
}

func TestParseQuitAfter(t *testing.T) {
	for _, s := range []string{"connect", "TLS", " ehlo ", "auth", "mail", "rcpt", ""} {
		if _, err := transport.ParseQuitAfter(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	_, err := transport.ParseQuitAfter("data")
	if !errors.Is(err, transport.ErrBadConfig) || !strings.Contains(err.Error(), "connect, tls, ehlo, auth, mail, rcpt") {
		t.Errorf("data: %v", err)
	}
}

// TestQuitAfterSessionCannotSend: a Client whose opening stopped early
// (here before STARTTLS and AUTH) refuses to send, as Config.QuitAfter
// says: a diagnostic session never carries a message in clear or
// unauthenticated.
func TestQuitAfterSessionCannotSend(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	for _, q := range []transport.QuitAfter{transport.QuitAfterConnect, transport.QuitAfterEHLO, transport.QuitAfterAuth} {
		cfg := testConfig(t)
		cfg.QuitAfter = q
		c, err := transport.Dial(ctxT(t, 5*time.Second), serverAddr(t, s, transport.TLSNone), cfg)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		_, err = c.Send(ctxT(t, 5*time.Second), transport.Envelope{From: "a@example.com", To: []string{"b@example.com"}}, strings.NewReader("Subject: x\r\n\r\nx\r\n"))
		c.Close()
		if !errors.Is(err, transport.ErrBadConfig) {
			t.Errorf("%s: Send = %v, want ErrBadConfig", q, err)
		}
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages reached the server", n)
	}
}
