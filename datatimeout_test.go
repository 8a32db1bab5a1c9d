package mailwarden

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/smtptest"
)

// tarpitAfterBody is a relay that accepts the whole message and then
// never answers: after the final "." of DATA, or after BDAT LAST.
func tarpitAfterBody(chunking bool) func(c *smtptest.Conn) {
	return func(c *smtptest.Conn) {
		c.Send("220 tarpit.example ESMTP\r\n")
		for {
			l, ok := c.Line()
			if !ok {
				return
			}
			switch f := strings.Fields(strings.ToUpper(l)); f[0] {
			case "EHLO":
				if chunking {
					c.Send("250-tarpit.example\r\n250 CHUNKING\r\n")
				} else {
					c.Send("250 tarpit.example\r\n")
				}
			case "MAIL", "RCPT", "RSET", "NOOP":
				c.Send("250 ok\r\n")
			case "DATA":
				c.Send("354 go ahead\r\n")
				c.Until(".") // the body ends with a line "." alone
				c.Until("never")
				return
			case "BDAT":
				n, _ := strconv.Atoi(f[1])
				c.ReadN(n)
				if len(f) == 2 {
					c.Send("250 chunk\r\n")
					continue
				}
				c.Until("never")
				return
			case "QUIT":
				c.Send("221 bye\r\n")
				return
			default:
				c.Send("502 no\r\n")
			}
		}
	}
}

// TestProfileTimeoutBoundsTarpitAfterData: a relay that never answers the
// end of the message holds a send for the profile's Timeout, not for the
// transport's ten-minute DataTimeout default, for DATA and BDAT alike.
func TestProfileTimeoutBoundsTarpitAfterData(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		t.Run("chunking="+strconv.FormatBool(chunking), func(t *testing.T) {
			addr := smtptest.Hostile(t, tarpitAfterBody(chunking))
			s, err := NewSender(context.Background(), Profile{Servers: []string{addr}, TLS: "none", Timeout: 500 * time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// The context gives the send far longer than the profile's
			// timeout; only the profile's timeout can end it early.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			m := &envelope.Message{From: headers.Address{Addr: "a@example.com"}, To: []headers.Address{{Addr: "b@example.com"}},
				Subject: "tarpit", Text: "body\r\n"}
			start := time.Now()
			_, err = s.Send(ctx, m)
			if err == nil {
				t.Fatal("the send succeeded against a relay that never answered")
			}
			if ctx.Err() != nil {
				t.Fatalf("the send ran until the context's deadline (%v): the profile timeout did not bound the data phase: %v", time.Since(start), err)
			}
			if !strings.Contains(err.Error(), "timeout") && !strings.Contains(err.Error(), "timed out") {
				t.Errorf("err = %v, want a timeout", err)
			}
		})
	}
}
