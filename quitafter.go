package mailwarden

import (
	"context"
	"errors"
	"fmt"

	"mailwarden/envelope"
	"mailwarden/transport"
)

// Rehearse is Probe that stops where after says, as swaks's --quit-after:
// "connect" (the greeting), "tls", "ehlo" (the last EHLO), "auth" (the
// whole opening: Probe), "mail" (then MAIL FROM) or "rcpt" (then RCPT TO
// for each recipient). With mail and rcpt it needs m, whose envelope
// (after the profile's defaults) is rehearsed: the report says whether
// each server would take the sender and each recipient, and no message is
// sent (DATA is never sent). m may be nil for the other steps. An unknown
// step, or mail and rcpt without m, is a *ConfigError; the graph transport
// has no sessions to rehearse (a *ConfigError too). The error is otherwise
// as Probe's; refused recipients are in ServerProbe.Recipients only.
func (s *Sender) Rehearse(ctx context.Context, after string, m *envelope.Message) (*ProbeReport, error) {
	bad := func(err error) (*ProbeReport, error) {
		return nil, &ConfigError{Profile: s.profile.Name, Field: "quit-after", Err: err}
	}
	q, err := transport.ParseQuitAfter(after)
	if err != nil {
		return bad(err)
	}
	sd, ok := s.delivery.(*smtpDelivery)
	if !ok {
		return bad(errors.New("the graph transport has no SMTP session to stop early"))
	}
	var env transport.Envelope
	if q == transport.QuitAfterMail || q == transport.QuitAfterRcpt {
		if m == nil {
			return bad(fmt.Errorf("%s needs a message: its envelope is what is rehearsed", q))
		}
		_, env, _, err = s.prepare(m, nil)
		if err != nil {
			return nil, err
		}
	}
	cfg := *sd.session
	cfg.QuitAfter = q
	rep := &ProbeReport{Profile: s.profile.Name, Proxy: s.proxy, ProxyReason: s.proxyReason}
	first := sd.probeWith(ctx, rep, s.probeStep, func(ctx context.Context, a transport.Address) (transport.ConnInfo, []transport.RcptResult, error) {
		return transport.Rehearse(ctx, a, &cfg, env)
	})
	return rep, first
}
