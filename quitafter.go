package mailwarden

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mailwarden/envelope"
	"mailwarden/firewall"
	"mailwarden/transport"
)

// probeServer runs one server's diagnostic session through run, marking
// its audit records probe=true and timing the proxy hops, and returns what
// it found; a fail-closed audit trail that could not record it makes the
// error wrap ErrAuditFailed.
func (s *Sender) probeServer(ctx context.Context, server string, run func(context.Context) (transport.ConnInfo, []transport.RcptResult, error)) ServerProbe {
	pctx, sc := s.scope(ctx, []slog.Attr{slog.Bool("probe", true)})
	var hops []ProxyHop
	pctx = firewall.WithTrace(pctx, &firewall.Trace{
		ProxyConnected: func(proxy string, d time.Duration, err error) {
			hops = append(hops, ProxyHop{Step: "connect to proxy", Proxy: proxy, Duration: d, Err: err})
		},
		TunnelOpened: func(proxy, addr string, d time.Duration, err error) {
			hops = append(hops, ProxyHop{Step: "open tunnel", Proxy: proxy, Target: addr, Duration: d, Err: err})
		},
	})
	start := time.Now()
	info, rcpts, err := run(pctx)
	if sc.tracked != nil {
		if werr := sc.tracked.Wait(pctx); werr != nil {
			err = errors.Join(err, fmt.Errorf("%w: %w", ErrAuditFailed, werr))
		}
	}
	return ServerProbe{Server: server, Info: info, Duration: time.Since(start), Err: err, ProxyHops: hops, Recipients: rcpts}
}

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
	if s.graph != nil {
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
	cfg := *s.session
	cfg.QuitAfter = q
	rep := &ProbeReport{Profile: s.profile.Name, Proxy: s.proxy, ProxyReason: s.proxyReason}
	var first error
	for i, a := range s.servers {
		sp := s.probeServer(ctx, s.profile.Servers[i], func(ctx context.Context) (transport.ConnInfo, []transport.RcptResult, error) {
			return transport.Rehearse(ctx, a, &cfg, env)
		})
		rep.Servers = append(rep.Servers, sp)
		if sp.Err != nil && first == nil {
			first = sp.Err
		}
	}
	return rep, first
}
