package mailwarden

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"mailwarden/firewall"
	"mailwarden/transport"
)

// smtpDelivery sends through the profile's relays.
type smtpDelivery struct {
	profile string
	names   []string // the servers as the profile spells them
	servers []transport.Address
	session *transport.Config
	relay   *transport.Relay
	// roundRobin spreads sends over the servers (Profile.RoundRobin).
	roundRobin bool
}

var _ delivery = (*smtpDelivery)(nil)

func (d *smtpDelivery) intent(buf []slog.Attr, env transport.Envelope, extra []slog.Attr, withRecord bool) (string, []slog.Attr, []slog.Attr) {
	if !withRecord {
		return "smtp.intent", nil, extra
	}
	record := append(append(buf[:0], slog.String("profile", d.profile), slog.String("from", env.From),
		slog.Any("rcpts", env.To), slog.String("message_id", env.MessageID), slog.Int64("size", env.Size)), extra...)
	return "smtp.intent", record, extra
}

func (d *smtpDelivery) deliver(ctx context.Context, env transport.Envelope, open transport.Opener) (*Result, error) {
	tr, err := d.relay.Send(ctx, env, open)
	if tr == nil {
		return nil, err
	}
	return &Result{Transport: "smtp", Server: tr.Server, Recipients: tr.Recipients, Reply: tr.Reply, QueueID: tr.QueueID,
		Size: tr.Size, Pipelined: tr.Pipelined, UsedBDAT: tr.UsedBDAT, DSN: tr.DSN, TLS: tr.TLS, Attempts: tr.Attempts, Duration: tr.Duration}, err
}

func (d *smtpDelivery) probe(ctx context.Context, rep *ProbeReport, await func(context.Context, []slog.Attr, func(context.Context) error) error) error {
	return d.probeWith(ctx, rep, await, func(ctx context.Context, a transport.Address) (transport.ConnInfo, []transport.RcptResult, error) {
		info, err := transport.Probe(ctx, a, d.session)
		return info, nil, err
	})
}

// probeWith runs one diagnostic session per server through run (a probe,
// or a rehearsal that stops early), each under its own audit scope marked
// probe=true, timing the proxy hops, and adds what it found to rep.
func (d *smtpDelivery) probeWith(ctx context.Context, rep *ProbeReport, await func(context.Context, []slog.Attr, func(context.Context) error) error,
	run func(context.Context, transport.Address) (transport.ConnInfo, []transport.RcptResult, error)) error {
	var first error
	for i, a := range d.servers {
		var hops []ProxyHop
		var info transport.ConnInfo
		var rcpts []transport.RcptResult
		start := time.Now()
		err := await(ctx, []slog.Attr{slog.Bool("probe", true)}, func(ctx context.Context) error {
			ctx = firewall.WithTrace(ctx, &firewall.Trace{
				ProxyConnected: func(proxy string, d time.Duration, err error) {
					hops = append(hops, ProxyHop{Step: "connect to proxy", Proxy: proxy, Duration: d, Err: err})
				},
				TunnelOpened: func(proxy, addr string, d time.Duration, err error) {
					hops = append(hops, ProxyHop{Step: "open tunnel", Proxy: proxy, Target: addr, Duration: d, Err: err})
				},
			})
			var err error
			info, rcpts, err = run(ctx, a)
			return err
		})
		rep.Servers = append(rep.Servers, ServerProbe{Server: d.names[i], Info: info, Duration: time.Since(start), Err: err, ProxyHops: hops, Recipients: rcpts})
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (d *smtpDelivery) describe() string { return strings.Join(d.names, ", ") }

func (d *smtpDelivery) recipientsFromHeader() bool { return false }

func (d *smtpDelivery) close() error { return d.relay.Close() }
