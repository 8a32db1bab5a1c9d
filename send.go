package mailwarden

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"mailwarden/envelope"
	"mailwarden/graph"
	"mailwarden/transport"
)

// Send builds m, spools it (in memory up to Options.SpoolInMemory, else in
// a temporary file: a retry or a failover to another server sends the very
// same bytes, and memory does not grow with attachments), and sends it through the profile's relays. When
// m.MessageID is empty, Send sets it to a new ID at the sender's domain, so
// the caller and the audit trail know it. Through the graph transport,
// which takes recipients from the header, Bcc recipients are written in a
// Bcc field of the message given to Graph (Graph removes it before
// delivery); m itself is not changed.
//
// The error is a *transport.Error (or wraps one) for SMTP and connection
// failures (a *graph.Error for the graph transport), a *envelope.Error for a message that cannot be built, and wraps
// ErrAuditFailed when the fail-closed audit trail could not record the send
// (if that happens before the send, nothing was sent).
func (s *Sender) Send(ctx context.Context, m *envelope.Message) (*Result, error) {
	return s.sendMessage(ctx, m, nil)
}

func (s *Sender) sendMessage(ctx context.Context, m *envelope.Message, extra []slog.Attr) (*Result, error) {
	m, extra, err := s.prepareMessage(m, extra)
	if err != nil {
		return nil, err
	}
	sp, env, err := s.spoolMessage(m)
	releaseCopy(m) // written: env has what the send needs
	if err != nil {
		return nil, err
	}
	defer sp.release()
	return s.send(ctx, env, sp.open, extra)
}

// spoolMessage writes m, as prepareMessage returned it, to a spool, and
// returns the spool and m's envelope. m is built and checked once: the
// envelope comes from the writing (see msgenv.Receiver), and the build
// phases are reported once m is found valid, before it is written.
func (s *Sender) spoolMessage(m *envelope.Message) (*spooled, transport.Envelope, error) {
	var valid func()
	if s.progress != nil {
		valid = func() { s.reportBuild(m.MessageID) }
	}
	sp, err := s.spool(func(w io.Writer) error { _, err := m.WriteTo(w); return err }, valid)
	if err != nil {
		return nil, transport.Envelope{}, err
	}
	if !sp.hasEnv { // cannot happen: WriteTo hands it over
		sp.release()
		return nil, transport.Envelope{}, errors.New("mailwarden: the message was written without its envelope")
	}
	s.report(PhaseSpooling, m.MessageID, sp.size)
	return sp, transport.Envelope{From: sp.env.From, To: sp.env.To, SMTPUTF8: sp.env.SMTPUTF8, MessageID: m.MessageID, Size: sp.size}, nil
}

// prepare readies m for sending as the profile says (see prepareMessage)
// and returns, besides what prepareMessage does, its envelope (without
// Size). The Outbox builds messages through it.
func (s *Sender) prepare(m *envelope.Message, extra []slog.Attr) (*envelope.Message, transport.Envelope, []slog.Attr, error) {
	m, extra, err := s.prepareMessage(m, extra)
	if err != nil {
		return nil, transport.Envelope{}, nil, err
	}
	from, rcpts, utf8, err := m.Envelope()
	if err != nil {
		return nil, transport.Envelope{}, nil, err
	}
	return m, transport.Envelope{From: from, To: rcpts, SMTPUTF8: utf8, MessageID: m.MessageID}, extra, nil
}

// prepareMessage readies m for sending as the profile says: it sets
// m.MessageID when empty and returns the message to write (the profile's
// defaults applied, wrapped in S/MIME when the profile has S/MIME) and the
// attributes its audit records carry. The message is checked when it is
// written (or by Envelope).
func (s *Sender) prepareMessage(m *envelope.Message, extra []slog.Attr) (*envelope.Message, []slog.Attr, error) {
	if m == nil {
		return nil, nil, errors.New("mailwarden: nil message")
	}
	orig := m
	m = s.defaults.apply(m)
	if m.MessageID == "" {
		id, err := envelope.NewMessageID(m.From.Domain(), nil)
		if err != nil {
			return nil, nil, err
		}
		m.MessageID, orig.MessageID = id, id
	}
	if s.smime != nil {
		if m.Wrap != nil {
			return nil, nil, errors.New("mailwarden: the message already has a Wrap and the profile adds S/MIME")
		}
		m.Wrap = s.smime.wrap.Wrap
		extra = append(extra, slog.Attr{Key: "smime", Value: slog.GroupValue(s.smime.attrs...)})
	}
	if s.delivery.recipientsFromHeader() && len(m.Bcc) > 0 && !m.BccHeader {
		// Graph takes the recipients from the header and removes Bcc.
		m.BccHeader = true
	}
	return m, extra, nil
}

// SendRaw sends a ready RFC 5322 message read from r (for example one a
// program built itself) from the envelope sender from to the recipients
// to. r is read to the end and spooled first (as Send spools). Through the graph transport,
// which takes the recipients from the message header, to must name exactly
// the To, Cc and Bcc recipients of the message, or the error wraps
// ErrGraphRecipients and nothing is sent.
func (s *Sender) SendRaw(ctx context.Context, from string, to []string, r io.Reader) (*Result, error) {
	sp, err := s.spool(func(w io.Writer) error { _, err := io.Copy(w, r); return err }, nil)
	if err != nil {
		return nil, err
	}
	defer sp.release()
	env := transport.Envelope{From: from, To: to, Size: sp.size}
	s.report(PhaseSpooling, "", sp.size)
	if s.delivery.recipientsFromHeader() {
		if err := checkGraphRecipients(sp.open, to); err != nil {
			return nil, err
		}
	}
	return s.send(ctx, env, sp.open, nil)
}

func (s *Sender) scope(ctx context.Context, extra []slog.Attr) (context.Context, *sendScope) {
	if s.trail == nil && len(extra) == 0 && scopeOf(ctx) == nil {
		// An empty scope would change nothing the records get.
		return ctx, &noScope
	}
	sc := &sendScope{attrs: extra}
	if s.trail != nil {
		sc.tracked = s.trail.Track()
	}
	return withScope(ctx, sc), sc
}

// A ProbeReport is what "Test connection" shows: for each server, each
// step with its timing, the TLS details and what the server offers.
type ProbeReport struct {
	Profile     string
	Proxy       string // proxy URL without credentials, "" when direct
	ProxyReason string // for proxy "auto": why this proxy (or none) was chosen
	Servers     []ServerProbe
	// Graph is what the graph transport's probe found (one entry in
	// Servers names the endpoint); nil for SMTP.
	Graph *graph.CheckResult
	// OAuth is the token step, for profiles that acquire OAuth 2.0
	// tokens (auth.oauth); nil otherwise. It comes first: a token the
	// identity provider refuses shows here, apart from the servers.
	OAuth *OAuthProbe
	// Keys says where each private key of the profile lives (S/MIME
	// signing, TLS client certificate, OAuth assertion: file, token or
	// store) and whether a test signature with it succeeded. A failed
	// test signature is the probe's error when no server failed.
	Keys []KeyProbe
}

// A ServerProbe is the probe of one server.
type ServerProbe struct {
	Server   string
	Info     transport.ConnInfo
	Duration time.Duration
	Err      error
	// ProxyHops times the proxy hop when a proxy is used: reaching the
	// proxy, then opening the tunnel to the server.
	ProxyHops []ProxyHop
	// Recipients are the RCPT replies of a Rehearse that went as far as
	// rcpt; nil otherwise.
	Recipients []transport.RcptResult
}

// A ProxyHop is one timed step through a proxy.
type ProxyHop struct {
	Step     string // "connect to proxy" or "open tunnel"
	Proxy    string
	Target   string
	Duration time.Duration
	Err      error
}

// Probe connects to every server of the profile, negotiates TLS,
// authenticates when the profile says how, and quits without sending mail.
// For the graph transport it gets a token and makes one authenticated
// request that sends nothing (see graph.Client.Check); Graph holds what it
// found.
// The report has every server's steps; the error is the first failure (a
// *transport.Error or wrapping one), nil when every server passed.
func (s *Sender) Probe(ctx context.Context) (*ProbeReport, error) {
	rep := &ProbeReport{Profile: s.profile.Name, Proxy: s.proxy, ProxyReason: s.proxyReason, OAuth: s.probeToken(ctx)}
	var first error
	if rep.OAuth != nil && rep.OAuth.Err != nil {
		first = rep.OAuth.Err
	}
	if err := s.delivery.probe(ctx, rep, s.probeStep); first == nil {
		first = err
	}
	for _, k := range s.keys {
		kp := k.probe()
		rep.Keys = append(rep.Keys, kp)
		if kp.Err != nil && first == nil {
			first = &ConfigError{Profile: s.profile.Name, Field: k.use + " key", Err: kp.Err}
		}
	}
	return rep, first
}
