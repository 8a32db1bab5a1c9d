package transport_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// plan is a scripted server: each field is the raw reply to that step.
type plan struct {
	greeting, ehlo, helo, mail, rcpt, data, final, starttls string
	afterData                                               func(c *smtptest.Conn) // instead of reading the body and sending final
	auth                                                    func(c *smtptest.Conn, line string)
}

func (p plan) withDefaults() plan {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&p.greeting, "220 hostile.example ESMTP\r\n")
	def(&p.ehlo, "250-hostile.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n")
	def(&p.helo, "250 hostile.example\r\n")
	def(&p.mail, "250 2.1.0 Ok\r\n")
	def(&p.rcpt, "250 2.1.5 Ok\r\n")
	def(&p.data, "354 End data with <CR><LF>.<CR><LF>\r\n")
	def(&p.final, "250 2.0.0 Ok: queued as HOSTILE1\r\n")
	def(&p.starttls, "454 4.7.0 TLS not available\r\n")
	return p
}

func (p plan) run(c *smtptest.Conn) {
	p = p.withDefaults()
	c.Send(p.greeting)
	if !strings.HasPrefix(p.greeting, "220") {
		c.Until("QUIT")
		return
	}
	for {
		l, ok := c.Line()
		if !ok {
			return
		}
		verb := strings.ToUpper(strings.SplitN(l, " ", 2)[0])
		switch verb {
		case "EHLO":
			c.Send(p.ehlo)
		case "HELO":
			c.Send(p.helo)
		case "STARTTLS":
			c.Send(p.starttls)
		case "MAIL":
			c.Send(p.mail)
		case "RCPT":
			c.Send(p.rcpt)
		case "DATA":
			c.Send(p.data)
			if !strings.HasPrefix(p.data, "354") {
				continue
			}
			if p.afterData != nil {
				p.afterData(c)
				return
			}
			if !readBody(c) {
				return
			}
			c.Send(p.final)
		case "BDAT":
			f := strings.Fields(l)
			n, _ := strconv.Atoi(f[1])
			if _, err := c.ReadN(n); err != nil {
				return
			}
			if len(f) == 3 {
				c.Send(p.final)
			} else {
				c.Send("250 2.0.0 chunk ok\r\n")
			}
		case "AUTH":
			if p.auth != nil {
				p.auth(c, l)
			} else {
				c.Send("235 2.7.0 Authentication successful\r\n")
			}
		case "RSET", "NOOP":
			c.Send("250 2.0.0 Ok\r\n")
		case "QUIT":
			c.Send("221 2.0.0 Bye\r\n")
			return
		default:
			c.Send("502 5.5.2 Error: command not recognized\r\n")
		}
	}
}

func hostileAddr(t *testing.T, hp string, mode transport.TLSMode) transport.Address {
	return addrOf(t, hp, mode)
}

func dialAndSend(t *testing.T, p plan, cfg *transport.Config, d time.Duration) (*transport.Result, error) {
	return dialModeAndSend(t, p, cfg, transport.TLSNone, d)
}

func dialModeAndSend(t *testing.T, p plan, cfg *transport.Config, mode transport.TLSMode, d time.Duration) (*transport.Result, error) {
	t.Helper()
	hp := smtptest.Hostile(t, p.run)
	ctx := ctxT(t, d)
	c, err := transport.Dial(ctx, hostileAddr(t, hp, mode), cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(testBody))
}

// TestHostileStages gives 421, 4xx and 5xx at every stage: each ends in an
// *Error with the stage, the code, the enhanced code and the right Class.
func TestHostileStages(t *testing.T) {
	checkGoroutines(t)
	type tc struct {
		name  string
		p     plan
		stage transport.Stage
		code  int
		class transport.Class
	}
	var cases []tc
	for _, r := range []struct {
		reply string
		code  int
		class transport.Class
	}{
		{"421 4.3.2 Service shutting down\r\n", 421, transport.ClassTemporary},
		{"451 4.3.0 Try again later\r\n", 451, transport.ClassTemporary},
		{"554 5.7.1 Go away\r\n", 554, transport.ClassRejected},
	} {
		cases = append(cases,
			tc{"greeting-" + r.reply[:3], plan{greeting: r.reply}, transport.StageGreeting, r.code, r.class},
			tc{"ehlo-" + r.reply[:3], plan{ehlo: r.reply, helo: r.reply}, transport.StageEHLO, r.code, r.class},
			tc{"mail-" + r.reply[:3], plan{mail: r.reply}, transport.StageMail, r.code, r.class},
			tc{"rcpt-" + r.reply[:3], plan{rcpt: r.reply}, transport.StageRcpt, r.code, r.class},
			tc{"data-" + r.reply[:3], plan{data: r.reply}, transport.StageData, r.code, r.class},
			tc{"final-" + r.reply[:3], plan{final: r.reply}, transport.StageData, r.code, r.class},
			tc{"starttls-" + r.reply[:3], plan{ehlo: "250-x\r\n250 STARTTLS\r\n", starttls: r.reply}, transport.StageSTARTTLS, r.code, r.class},
			tc{"auth-" + r.reply[:3], plan{ehlo: "250-x\r\n250 AUTH PLAIN\r\n", auth: func(c *smtptest.Conn, _ string) { c.Send(r.reply) }}, transport.StageAuth, r.code, r.class},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			cfg, mode := testConfig(t), transport.TLSNone
			switch c.stage {
			case transport.StageSTARTTLS:
				mode = transport.TLSExplicit
			case transport.StageAuth:
				cfg.Auth, cfg.AllowPlaintextAuth = &plainClient{"u", "p"}, true
			}
			if c.code/100 == 5 && (c.stage == transport.StageGreeting || c.stage == transport.StageSTARTTLS) {
				c.class = transport.ClassConnection
			}
			if c.code/100 == 5 && c.stage == transport.StageAuth {
				c.class = transport.ClassAuth
			}
			_, err := dialModeAndSend(t, c.p, cfg, mode, 5*time.Second)
			var e *transport.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if e.Stage != c.stage || e.Code != c.code || transport.Classify(err) != c.class || e.Enhanced.IsZero() {
				t.Errorf("got stage %s code %d enhanced %s class %v; want %s %d %v (%v)", e.Stage, e.Code, e.Enhanced, transport.Classify(err), c.stage, c.code, c.class, err)
			}
			if c.code == 421 && !errors.Is(err, transport.ErrServiceClosing) {
				t.Errorf("421 does not match ErrServiceClosing")
			}
			if e.Temporary() != (c.code/100 == 4) {
				t.Errorf("Temporary() = %v", e.Temporary())
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

func TestHELOFallback(t *testing.T) {
	res, err := dialAndSend(t, plan{ehlo: "502 5.5.2 EHLO not implemented\r\n"}, testConfig(t), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pipelined || res.UsedBDAT || res.QueueID != "HOSTILE1" {
		t.Errorf("result %+v", res)
	}
}

func TestHostileProtocolViolations(t *testing.T) {
	checkGoroutines(t)
	long := strings.Repeat("x", 5000)
	manyLines := strings.Repeat("250-"+strings.Repeat("y", 1000)+"\r\n", 100) + "250 end\r\n"
	cases := []struct {
		name string
		p    plan
		want error
	}{
		{"malformed-greeting", plan{greeting: "hello there\r\n"}, transport.ErrMalformedReply},
		{"bad-code", plan{greeting: "999 what\r\n"}, transport.ErrMalformedReply},
		{"mixed-codes", plan{ehlo: "250-a\r\n251 b\r\n"}, transport.ErrMalformedReply},
		{"long-line", plan{greeting: "220 " + long + "\r\n"}, transport.ErrReplyTooLong},
		{"long-reply", plan{ehlo: manyLines}, transport.ErrReplyTooLong},
		{"disconnect-mid-data", plan{afterData: func(c *smtptest.Conn) { c.Line(); c.Close() }}, transport.ErrConnectionClosed},
		{"disconnect-before-final", plan{afterData: func(c *smtptest.Conn) { readBody(c); c.Close() }}, transport.ErrConnectionClosed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := dialAndSend(t, c.p, testConfig(t), 5*time.Second)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if transport.Classify(err) != transport.ClassConnection {
				t.Errorf("class %v", transport.Classify(err))
			}
		})
	}
}

// TestDripFeedCannotHold: a server that sends one byte per second cannot
// hold the caller past its context deadline, nor past CommandTimeout.
func TestDripFeedCannotHold(t *testing.T) {
	checkGoroutines(t)
	drip := func(c *smtptest.Conn) { c.Drip("220 slow.example ESMTP and it goes on and on\r\n", time.Second) }
	hp := smtptest.Hostile(t, drip)
	for _, tc := range []struct {
		name string
		ctx  time.Duration
		cmd  time.Duration
	}{{"context", 1500 * time.Millisecond, time.Minute}, {"dial-timeout", time.Minute, 1500 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.DialTimeout = tc.cmd
			start := time.Now()
			_, err := transport.Dial(ctxT(t, tc.ctx), hostileAddr(t, hp, transport.TLSNone), cfg)
			el := time.Since(start)
			if err == nil || el > 2500*time.Millisecond {
				t.Fatalf("err = %v after %v", err, el)
			}
			if transport.Classify(err) != transport.ClassConnection {
				t.Errorf("class %v: %v", transport.Classify(err), err)
			}
			var e *transport.Error
			if !errors.As(err, &e) || e.Stage != transport.StageGreeting || !strings.Contains(e.Hint(), "did not answer in time") {
				t.Errorf("err = %v hint %q", err, e.Hint())
			}
		})
	}
	// A silent server during a command: CommandTimeout.
	hp2 := smtptest.Hostile(t, func(c *smtptest.Conn) {
		c.Send("220 ok\r\n")
		c.Until("QUIT")
	})
	cfg := testConfig(t)
	cfg.CommandTimeout = 500 * time.Millisecond
	start := time.Now()
	_, err := transport.Dial(ctxT(t, time.Minute), hostileAddr(t, hp2, transport.TLSNone), cfg)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
		t.Errorf("err = %v", err)
	}
}

// TestSTARTTLSResponseInjection: bytes after "220 Ready to start TLS" (in
// the same packet, as the MailKit and Exim attacks send them) end the
// session before the handshake.
func TestSTARTTLSResponseInjection(t *testing.T) {
	checkGoroutines(t)
	p := plan{
		ehlo:     "250-hostile.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
		starttls: "220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 AUTH PLAIN\r\n",
	}
	hp := smtptest.Hostile(t, p.run)
	for _, mode := range []transport.TLSMode{transport.TLSExplicit, transport.TLSAuto} {
		_, err := transport.Dial(ctxT(t, 5*time.Second), hostileAddr(t, hp, mode), testConfig(t))
		var e *transport.Error
		if !errors.Is(err, transport.ErrResponseInjection) || !errors.As(err, &e) || e.Stage != transport.StageSTARTTLS {
			t.Fatalf("%v: err = %v", mode, err)
		}
		if transport.Classify(err) != transport.ClassConnection || e.Hint() == "" {
			t.Errorf("class %v hint %q", transport.Classify(err), e.Hint())
		}
	}
}

// TestSTARTTLSSentAlone checks the client sends nothing after STARTTLS
// before the server's 220 (CVE-2011-0411 class) and that STARTTLS failure
// under explicit never falls back to plaintext.
func TestSTARTTLSSentAlone(t *testing.T) {
	got := make(chan []string, 1)
	hp := smtptest.Hostile(t, func(c *smtptest.Conn) {
		c.Send("220 x ESMTP\r\n")
		c.Until("EHLO")
		c.Send("250-x\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
		c.Until("STARTTLS")
		// Wait: anything the client pipelined after STARTTLS would arrive now.
		time.Sleep(200 * time.Millisecond)
		c.Send("454 4.7.0 TLS not available due to temporary reason\r\n")
		for {
			if _, ok := c.Line(); !ok {
				break
			}
		}
		got <- c.Lines()
	})
	_, err := transport.Dial(ctxT(t, 5*time.Second), hostileAddr(t, hp, transport.TLSExplicit), testConfig(t))
	var e *transport.Error
	if !errors.As(err, &e) || e.Stage != transport.StageSTARTTLS || e.Code != 454 {
		t.Fatalf("err = %v", err)
	}
	lines := <-got
	if len(lines) != 2 || lines[1] != "STARTTLS" {
		t.Fatalf("client sent %q", lines)
	}
}

// readBody reads a DATA body up to the terminating dot line.
func readBody(c *smtptest.Conn) bool {
	for {
		l, ok := c.Line()
		if !ok {
			return false
		}
		if l == "." {
			return true
		}
	}
}
