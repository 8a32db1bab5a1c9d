package transport

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// QuitAfter names the step after which a diagnostic session says QUIT, as
// swaks's --quit-after does.
type QuitAfter string

// QuitAfter steps, in session order.
const (
	QuitAfterConnect QuitAfter = "connect" // the greeting (after implicit TLS)
	QuitAfterTLS     QuitAfter = "tls"     // TLS negotiated (implicit, or STARTTLS before the EHLO that follows)
	QuitAfterEHLO    QuitAfter = "ehlo"    // the last EHLO, before AUTH
	QuitAfterAuth    QuitAfter = "auth"    // AUTH (the whole opening)
	QuitAfterMail    QuitAfter = "mail"    // MAIL FROM
	QuitAfterRcpt    QuitAfter = "rcpt"    // RCPT TO for each recipient; DATA is never sent
)

var quitAfterSteps = []QuitAfter{QuitAfterConnect, QuitAfterTLS, QuitAfterEHLO, QuitAfterAuth, QuitAfterMail, QuitAfterRcpt}

// ParseQuitAfter parses a step name (ignoring case; "" is no step). An
// unknown name is an error wrapping ErrBadConfig.
func ParseQuitAfter(s string) (QuitAfter, error) {
	t := QuitAfter(strings.ToLower(strings.TrimSpace(s)))
	if t == "" {
		return "", nil
	}
	for _, q := range quitAfterSteps {
		if t == q {
			return q, nil
		}
	}
	names := make([]string, len(quitAfterSteps))
	for i, q := range quitAfterSteps {
		names[i] = string(q)
	}
	return "", fmt.Errorf("%w: unknown quit-after step %q (want %s)", ErrBadConfig, s, strings.Join(names, ", "))
}

func (c *Client) quitAt(q QuitAfter) bool { return c.cfg.QuitAfter == q }

// Rehearse runs a session to addr up to the step cfg.QuitAfter names and
// says QUIT: nothing is sent. Up to QuitAfterAuth it is Probe stopped
// early; with QuitAfterMail it then sends MAIL FROM with env.From, and with
// QuitAfterRcpt also RCPT TO for each of env.To, and returns the replies,
// so an administrator learns whether the relay would take the envelope
// without sending a message. An empty QuitAfter is QuitAfterAuth. It logs
// one EventProbe record. Errors are as Probe's; a refused MAIL is an
// *Error at StageMail, while refused recipients are only in the replies.
func Rehearse(ctx context.Context, addr Address, cfg *Config, env Envelope) (ConnInfo, []RcptResult, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.QuitAfter != QuitAfterMail && c.QuitAfter != QuitAfterRcpt {
		info, err := probe(ctx, addr, &c)
		return info, nil, err
	}
	if err := env.checkAddresses(false); err != nil { // as CheckAddress
		return ConnInfo{}, nil, err
	}
	after := c.QuitAfter
	c.QuitAfter = ""
	var rcpts []RcptResult
	info, err := probeWith(ctx, addr, &c, func(cl *Client) error {
		var err error
		rcpts, err = cl.rehearse(ctx, env, after == QuitAfterRcpt)
		return err
	})
	return info, rcpts, err
}

// rehearse sends MAIL FROM and, when rcpt, RCPT TO for each recipient,
// then RSET.
func (c *Client) rehearse(ctx context.Context, env Envelope, rcpt bool) ([]RcptResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	mail := "MAIL FROM:<" + env.From + ">"
	if env.needsSMTPUTF8() {
		mail += " SMTPUTF8"
	}
	t := time.Now()
	r, err := c.cmd(ctx, StageMail, mail)
	if err != nil {
		return nil, err
	}
	c.step("mail", t, r.String())
	if r.Code != 250 {
		return nil, c.replyErr(StageMail, "MAIL FROM", r)
	}
	var out []RcptResult
	if rcpt {
		for _, to := range env.To {
			t := time.Now()
			r, err := c.cmd(ctx, StageRcpt, "RCPT TO:<"+to+">")
			if err != nil {
				return out, err
			}
			c.step("rcpt", t, to+": "+r.String())
			out = append(out, RcptResult{Addr: to, Reply: r})
		}
	}
	return out, c.rset(ctx)
}
