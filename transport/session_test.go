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

const testBody = "From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nhello\r\n"

func TestSendModes(t *testing.T) {
	checkGoroutines(t)
	for _, tc := range []struct {
		name       string
		opts       smtptest.Options
		mode       transport.TLSMode
		noChunk    bool
		noPipe     bool
		wantTLS    string
		wantBDAT   bool
		wantPipe   bool
		wantStartT bool
	}{
		{name: "explicit", opts: smtptest.Options{TLS: serverTLS(t)}, mode: transport.TLSExplicit, wantTLS: "starttls", wantBDAT: true, wantPipe: true, wantStartT: true},
		{name: "implicit", opts: smtptest.Options{TLS: serverTLS(t), Implicit: true}, mode: transport.TLSImplicit, wantTLS: "implicit", wantBDAT: true, wantPipe: true},
		{name: "none", opts: smtptest.Options{}, mode: transport.TLSNone, wantTLS: "none", wantBDAT: true, wantPipe: true},
		{name: "auto-offered", opts: smtptest.Options{TLS: serverTLS(t)}, mode: transport.TLSAuto, wantTLS: "starttls", wantBDAT: true, wantPipe: true, wantStartT: true},
		{name: "auto-plain", opts: smtptest.Options{}, mode: transport.TLSAuto, wantTLS: "none", wantBDAT: true, wantPipe: true},
		{name: "data-pipelined", opts: smtptest.Options{TLS: serverTLS(t), Implicit: true, NoChunking: true}, mode: transport.TLSImplicit, wantTLS: "implicit", wantPipe: true},
		{name: "data-plain", opts: smtptest.Options{NoChunking: true}, mode: transport.TLSNone, wantTLS: "none", wantPipe: true},
		{name: "data-lockstep", opts: smtptest.Options{TLS: serverTLS(t)}, mode: transport.TLSExplicit, noChunk: true, noPipe: true, wantTLS: "starttls", wantStartT: true},
		{name: "bdat-lockstep", opts: smtptest.Options{TLS: serverTLS(t)}, mode: transport.TLSExplicit, noPipe: true, wantTLS: "starttls", wantBDAT: true, wantStartT: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := smtptest.Start(t, tc.opts)
			cfg := testConfig(t)
			cfg.DisableChunking, cfg.DisablePipelining = tc.noChunk, tc.noPipe
			ctx := ctxT(t, 10*time.Second)
			c, err := transport.Dial(ctx, serverAddr(t, s, tc.mode), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			info := c.Info()
			if got := info.TLSModeUsed(); got != tc.wantTLS {
				t.Errorf("TLS used %q, want %q", got, tc.wantTLS)
			}
			if info.StartTLS != tc.wantStartT {
				t.Errorf("StartTLS = %v", info.StartTLS)
			}
			for i := 0; i < 3; i++ {
				res, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net", "c@example.net"}}, strings.NewReader(testBody))
				if err != nil {
					t.Fatal(err)
				}
				if res.UsedBDAT != tc.wantBDAT || res.Pipelined != tc.wantPipe {
					t.Errorf("UsedBDAT %v Pipelined %v", res.UsedBDAT, res.Pipelined)
				}
				if res.Reply.Code != 250 || len(res.Accepted()) != 2 {
					t.Errorf("result %+v", res)
				}
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatal(err)
			}
			msgs := s.Messages()
			if len(msgs) != 3 {
				t.Fatalf("%d messages arrived", len(msgs))
			}
			for _, m := range msgs {
				if string(m.Data) != testBody || m.From != "a@example.org" || strings.Join(m.To, ",") != "b@example.net,c@example.net" {
					t.Errorf("arrived %+v", m)
				}
			}
		})
	}
}

func TestQueueIDFromFinalReply(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{Data: func([]byte) error {
		return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as 4ABCDEF123"}
	}})
	ctx := ctxT(t, 10*time.Second)
	c, err := transport.Dial(ctx, serverAddr(t, s, transport.TLSNone), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(testBody))
	if err != nil {
		t.Fatal(err)
	}
	if res.QueueID != "4ABCDEF123" || res.Reply.Enhanced != (transport.EnhancedCode{2, 0, 0}) {
		t.Errorf("QueueID %q reply %v", res.QueueID, res.Reply)
	}
}

func TestExplicitRefusesNoSTARTTLS(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	_, err := transport.Dial(ctxT(t, 5*time.Second), serverAddr(t, s, transport.TLSExplicit), testConfig(t))
	if !errors.Is(err, transport.ErrSTARTTLSNotOffered) || transport.Classify(err) != transport.ClassConnection {
		t.Fatalf("err = %v", err)
	}
	// The zero mode on a port other than 465 is explicit too.
	_, err = transport.Dial(ctxT(t, 5*time.Second), serverAddr(t, s, transport.TLSDefault), testConfig(t))
	if !errors.Is(err, transport.ErrSTARTTLSNotOffered) {
		t.Fatalf("default mode: err = %v", err)
	}
}
