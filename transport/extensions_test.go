package transport_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

func dialTo(t *testing.T, s *smtptest.Server, cfg *transport.Config) *transport.Client {
	t.Helper()
	c, err := transport.Dial(ctxT(t, 10*time.Second), serverAddr(t, s, transport.TLSNone), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSizeCheckedBeforeMail(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{MaxMessageBytes: 1000})
	c := dialTo(t, s, testConfig(t))
	ctx := ctxT(t, 5*time.Second)
	res, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}, Size: 5000}, strings.NewReader(testBody))
	if !errors.Is(err, transport.ErrSizeExceeded) || res != nil || transport.Classify(err) != transport.ClassRejected {
		t.Fatalf("err = %v", err)
	}
	// The session is still usable, and SIZE= is declared.
	if _, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}, Size: int64(len(testBody))}, strings.NewReader(testBody)); err != nil {
		t.Fatal(err)
	}
	if m := s.Messages(); len(m) != 1 || m[0].MailOpts.Size != int64(len(testBody)) {
		t.Fatalf("messages %+v", m)
	}
	// A body larger than declared is refused by the server (552), for DATA and BDAT.
	for _, chunk := range []bool{true, false} {
		cfg := testConfig(t)
		cfg.DisableChunking = !chunk
		c := dialTo(t, s, cfg)
		_, err = c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(strings.Repeat("xxxxxxxxx\r\n", 300)))
		var e *transport.Error
		if !errors.As(err, &e) || e.Code != 552 || e.Stage != transport.StageData || transport.Classify(err) != transport.ClassRejected {
			t.Errorf("chunking %v: err = %v", chunk, err)
		}
	}
}

func TestSMTPUTF8And8BitMIME(t *testing.T) {
	ctx := ctxT(t, 10*time.Second)
	noUTF8 := smtptest.Start(t, smtptest.Options{})
	c := dialTo(t, noUTF8, testConfig(t))
	_, err := c.Send(ctx, transport.Envelope{From: "jörg@example.org", To: []string{"b@example.net"}}, strings.NewReader(testBody))
	if !errors.Is(err, transport.ErrSMTPUTF8NotSupported) || transport.Classify(err) != transport.ClassRejected {
		t.Fatalf("err = %v", err)
	}
	_, err = c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}, SMTPUTF8: true}, strings.NewReader(testBody))
	if !errors.Is(err, transport.ErrSMTPUTF8NotSupported) {
		t.Fatalf("err = %v", err)
	}
	withUTF8 := smtptest.Start(t, smtptest.Options{SMTPUTF8: true})
	c = dialTo(t, withUTF8, testConfig(t))
	if _, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}, SMTPUTF8: true}, strings.NewReader("Subject: héllo\r\n\r\nü\r\n")); err != nil {
		t.Fatal(err)
	}
	if m := withUTF8.Messages(); len(m) != 1 || !m[0].MailOpts.UTF8 || m[0].MailOpts.Body != smtp.Body8BitMIME {
		t.Fatalf("mail options %+v", m)
	}

	// A server without 8BITMIME: 8-bit data is refused up front when
	// declared, and aborts the transaction (nothing delivered) when found.
	p := plan{ehlo: "250-x\r\n250 PIPELINING\r\n"}
	hp := smtptest.Hostile(t, p.run)
	for _, declared := range []bool{true, false} {
		c, err := transport.Dial(ctx, hostileAddr(t, hp, transport.TLSNone), testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}, EightBitMIME: declared}, strings.NewReader("Subject: x\r\n\r\n"+strings.Repeat("a", 100000)+"ü\r\n"))
		if !errors.Is(err, transport.Err8BitMIMENotSupported) || transport.Classify(err) != transport.ClassRejected {
			t.Errorf("declared %v: err = %v", declared, err)
		}
		c.Close()
	}
}

func TestDSN(t *testing.T) {
	ctx := ctxT(t, 10*time.Second)
	s := smtptest.Start(t, smtptest.Options{DSN: true})
	cfg := testConfig(t)
	cfg.DSN = &transport.DSN{Notify: []transport.DSNNotify{transport.NotifyFailure, transport.NotifyDelay}, Return: transport.ReturnHeaders, EnvID: "id+1=x"}
	c := dialTo(t, s, cfg)
	res, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(testBody))
	if err != nil || !res.DSN {
		t.Fatal(err, res)
	}
	m := s.Messages()[0]
	if m.MailOpts.Return != smtp.DSNReturnHeaders || m.MailOpts.EnvelopeID != "id+1=x" || len(m.RcptOpts[0].Notify) != 2 {
		t.Errorf("DSN options %+v %+v", m.MailOpts, m.RcptOpts)
	}
	// Not offered: left out, or an error when required.
	s2 := smtptest.Start(t, smtptest.Options{})
	c = dialTo(t, s2, cfg)
	res, err = c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(testBody))
	if err != nil || res.DSN {
		t.Fatal(err, res)
	}
	_, err = c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}, DSN: &transport.DSN{Return: transport.ReturnFull, Require: true}}, strings.NewReader(testBody))
	if !errors.Is(err, transport.ErrDSNNotSupported) {
		t.Fatalf("err = %v", err)
	}
	_, err = c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}, DSN: &transport.DSN{Notify: []transport.DSNNotify{"SOMETIMES"}}}, strings.NewReader(testBody))
	if !errors.Is(err, transport.ErrBadConfig) {
		t.Fatalf("err = %v", err)
	}
}

func TestRecipientPolicy(t *testing.T) {
	refuse := func(to string, _ *smtp.RcptOptions) error {
		if strings.HasPrefix(to, "bad") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		}
		if strings.HasPrefix(to, "later") {
			return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "Mailbox busy"}
		}
		return nil
	}
	ctx := ctxT(t, 10*time.Second)
	for _, chunk := range []bool{true, false} {
		s := smtptest.Start(t, smtptest.Options{Rcpt: refuse})
		cfg := testConfig(t)
		cfg.DisableChunking = !chunk
		// AllRecipients: nothing is sent when one is refused.
		c := dialTo(t, s, cfg)
		res, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"ok1@example.net", "bad@example.net", "ok2@example.net"}}, strings.NewReader(testBody))
		var e *transport.Error
		var re *transport.RecipientsError
		if !errors.As(err, &e) || e.Stage != transport.StageRcpt || e.Code != 550 || !errors.As(err, &re) || len(re.Refused) != 1 || !errors.Is(err, transport.ErrRecipientsRefused) {
			t.Fatalf("err = %v", err)
		}
		if res == nil || len(res.Recipients) != 3 || res.Recipients[1].Reply.Code != 550 || !res.Recipients[0].Accepted() {
			t.Fatalf("result %+v", res)
		}
		if s.Count() != 0 {
			t.Fatalf("%d messages delivered under AllRecipients", s.Count())
		}
		// The session goes on.
		if _, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"ok@example.net"}}, strings.NewReader(testBody)); err != nil {
			t.Fatal(err)
		}
		// AcceptedRecipients: sent to the accepted ones, refusals listed.
		cfg.Recipients = transport.AcceptedRecipients
		c = dialTo(t, s, cfg)
		res, err = c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"ok1@example.net", "bad@example.net", "later@example.net", "ok2@example.net"}}, strings.NewReader(testBody))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(res.Accepted(), ","); got != "ok1@example.net,ok2@example.net" || res.Recipients[2].Reply.Code != 450 {
			t.Errorf("accepted %s, result %+v", got, res.Recipients)
		}
		m := s.Messages()
		if len(m) != 2 || strings.Join(m[1].To, ",") != "ok1@example.net,ok2@example.net" {
			t.Errorf("delivered %+v", m)
		}
		// All refused: error, temporary class when a 4xx was the only kind.
		_, err = c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"later@example.net"}}, strings.NewReader(testBody))
		if transport.Classify(err) != transport.ClassTemporary {
			t.Errorf("all 4xx: %v", err)
		}
		_, err = c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"later@example.net", "bad@example.net"}}, strings.NewReader(testBody))
		if transport.Classify(err) != transport.ClassRejected {
			t.Errorf("4xx+5xx: %v", err)
		}
	}
}

// TestCancelAndClose: cancelling the context or closing the client
// interrupts a send stuck on a silent server.
func TestCancelAndClose(t *testing.T) {
	checkGoroutines(t)
	p := plan{afterData: func(c *smtptest.Conn) { readBody(c); c.Until("QUIT") }}
	hp := smtptest.Hostile(t, p.run)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := transport.Dial(ctx, hostileAddr(t, hp, transport.TLSNone), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err = c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(testBody))
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
	if _, err := c.Send(context.Background(), transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(testBody)); !errors.Is(err, transport.ErrBusy) {
		t.Fatalf("broken session: %v", err)
	}
	c2, err := transport.Dial(context.Background(), hostileAddr(t, hp, transport.TLSNone), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := c2.Send(context.Background(), transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(testBody))
		if err == nil {
			t.Error("send on closed client succeeded")
		}
	}()
	time.Sleep(200 * time.Millisecond)
	c2.Close()
	wg.Wait()
}

// TestCancelledContextAfterSend: a context cancelled after the send it
// governed has returned does not interrupt the session's next send under
// another context.
func TestCancelledContextAfterSend(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	c, err := transport.Dial(ctxT(t, 10*time.Second), serverAddr(t, s, transport.TLSNone), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	env := transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		if _, err := c.Send(ctx, env, strings.NewReader(testBody)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		cancel()
		if _, err := c.Send(context.Background(), env, strings.NewReader(testBody)); err != nil {
			t.Fatalf("send %d after a cancelled context: %v", i, err)
		}
	}
}
