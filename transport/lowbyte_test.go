package transport_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// lowByteBreakouts are addresses whose non-ASCII runes a hop that
// truncates characters to bytes would turn into an SMTP command's special
// characters: a parameter break-out ("b\u0120NOTIFY=SUCCESS" becomes
// "b NOTIFY=SUCCESS"), a closed path, a NUL.
var lowByteBreakouts = []struct{ name, addr string }{
	{"U+0120 low byte space adds a parameter", "b\u0120NOTIFY=SUCCESS@example.org"},
	{"U+013E low byte > closes the path", "b\u013e\u0120SIZE=1@example.org"},
	{"U+013C low byte < opens a path", "b\u013cx@example.org"},
	{"U+013A low byte colon", "b\u013ax@example.org"},
	{"U+013D low byte = in a parameter", "b\u013dx@example.org"},
	{"U+0100 low byte NUL", "b\u0100x@example.org"},
	{"U+4E20 low byte space (CJK)", "b\u4e20ORCPT=x@example.org"},
	{"U+1F43E low byte > (astral)", "b\U0001f43e@example.org"},
}

// TestLowByteTruncationParameterBreakout: CheckAddress refuses every rune
// whose low byte is special in an SMTP command, and Send refuses them with
// an *AddressError before MAIL when the server does not announce SMTPUTF8.
// With SMTPUTF8 announced they are ordinary UTF-8 and go through intact.
func TestLowByteTruncationParameterBreakout(t *testing.T) {
	for _, tc := range lowByteBreakouts {
		t.Run(tc.name, func(t *testing.T) {
			for _, from := range []bool{true, false} {
				var ae *transport.AddressError
				if err := transport.CheckAddress(tc.addr, from); !errors.As(err, &ae) {
					t.Errorf("CheckAddress(%q, %v) = %v, want *AddressError", tc.addr, from, err)
				}
			}
			seen := make(chan []string, 1)
			hp := smtptest.Hostile(t, func(c *smtptest.Conn) {
				plan{}.run(c)
				var mails []string
				for _, l := range c.Lines() {
					if strings.HasPrefix(strings.ToUpper(l), "MAIL") || strings.HasPrefix(strings.ToUpper(l), "RCPT") {
						mails = append(mails, l)
					}
				}
				seen <- mails
			})
			ctx := ctxT(t, 10*time.Second)
			c, err := transport.Dial(ctx, hostileAddr(t, hp, transport.TLSNone), testConfig(t))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{tc.addr}}, strings.NewReader(testBody))
			var ae *transport.AddressError
			if !errors.As(err, &ae) {
				t.Errorf("Send without SMTPUTF8: err = %v, want *AddressError", err)
			}
			c.Close()
			if mails := <-seen; len(mails) != 0 {
				t.Errorf("the server saw %q", mails)
			}
		})
	}
	// With SMTPUTF8 announced the runes are ordinary UTF-8 characters.
	s := smtptest.Start(t, smtptest.Options{SMTPUTF8: true})
	ctx := ctxT(t, 10*time.Second)
	c, err := transport.Dial(ctx, serverAddr(t, s, transport.TLSNone), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range lowByteBreakouts {
		if _, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{tc.addr}}, strings.NewReader(testBody)); err != nil {
			t.Errorf("%s with SMTPUTF8: %v", tc.name, err)
		}
	}
	msgs := s.Messages()
	if len(msgs) != len(lowByteBreakouts) {
		t.Fatalf("%d messages arrived, want %d", len(msgs), len(lowByteBreakouts))
	}
	for i, m := range msgs {
		if len(m.To) != 1 || m.To[0] != lowByteBreakouts[i].addr || !m.MailOpts.UTF8 {
			t.Errorf("message %d: to %q (SMTPUTF8 %v), want %q", i, m.To, m.MailOpts.UTF8, lowByteBreakouts[i].addr)
		}
	}
}
