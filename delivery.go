package mailwarden

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"mailwarden/transport"
)

// A delivery is how a Sender's messages leave: through SMTP relays
// (smtpDelivery) or Microsoft Graph (graphDelivery). The Sender records the
// intent before deliver and waits for the trail after it (see send); a
// delivery only moves the bytes and reports what happened.
type delivery interface {
	// intent returns the audit record written (fail-closed) before a send
	// of env (only with record: nil when there is no trail to write it
	// to), built in buf's array when it fits (the caller's, used until
	// the record is written), and the attributes every record of that
	// send carries; extra are the caller's own attributes.
	intent(buf []slog.Attr, env transport.Envelope, extra []slog.Attr, record bool) (event string, attrs, scope []slog.Attr)
	// deliver sends the message open returns.
	deliver(ctx context.Context, env transport.Envelope, open transport.Opener) (*Result, error)
	// probe fills rep.Servers (and rep.Graph); the error is the first
	// failure. record is the Sender's fail-closed wait after each check.
	probe(ctx context.Context, rep *ProbeReport, await func(ctx context.Context, extra []slog.Attr, run func(ctx context.Context) error) error) error
	// describe names where the messages go, for the test message.
	describe() string
	// recipientsFromHeader reports whether the transport takes the
	// recipients from the message header (Graph) instead of the envelope.
	recipientsFromHeader() bool
	close() error
}

// A Result is what a send did, for either transport.
type Result struct {
	// Transport is "smtp" or "graph".
	Transport string
	// Server is the relay as dialled (host:port), or the Graph endpoint's
	// host.
	Server string
	// Recipients are, for SMTP, each RCPT's reply in envelope order. Graph
	// answers for the whole request only: each envelope recipient is listed
	// with that answer (Reply) and the text "in the message header".
	Recipients []RcptResult
	// Reply is the relay's final reply after the message data. For Graph
	// its Code is the HTTP status of the accepted sendMail request (202),
	// not an SMTP reply code, and its Text names Graph's request-id.
	Reply Reply
	// QueueID is the relay's queue ID when its reply names one; for Graph,
	// the request-id.
	QueueID string
	// RequestID is Graph's request-id; "" for SMTP.
	RequestID string
	Size      int64 // message bytes sent
	// Pipelined, UsedBDAT and DSN say how an SMTP session sent the
	// message (see transport.Result); always false for Graph.
	Pipelined, UsedBDAT, DSN bool
	// TLS is the SMTP session's TLS: "none" (the message went unencrypted,
	// as TLS auto allows when the server offers no STARTTLS), "starttls"
	// or "implicit"; "" for Graph, which is always HTTPS.
	TLS      string
	Attempts int // sessions (SMTP) or requests (Graph) tried
	Duration time.Duration
}

// A Reply is one SMTP reply (see transport.Reply).
type Reply = transport.Reply

// A RcptResult is the answer to one recipient (see transport.RcptResult).
type RcptResult = transport.RcptResult

// Accepted returns the recipients that were accepted.
func (r *Result) Accepted() []string {
	return (&transport.Result{Recipients: r.Recipients}).Accepted()
}

// send records the intent of sending env under a fail-closed trail, has
// the delivery send it, and waits for the send's own records. It is the
// one place the fail-closed rule lives, for every transport.
func (s *Sender) send(ctx context.Context, env transport.Envelope, open transport.Opener, extra []slog.Attr) (*Result, error) {
	var event string
	var record, scope []slog.Attr
	if d, ok := s.delivery.(*smtpDelivery); ok {
		// Called on the concrete type, the intent record's attributes
		// stay in this array when they fit (through the interface it
		// would be on the heap).
		var buf [8]slog.Attr
		event, record, scope = d.intent(buf[:0], env, extra, s.trail != nil)
	} else {
		event, record, scope = s.delivery.intent(nil, env, extra, s.trail != nil)
	}
	ctx, sc := s.scope(ctx, scope)
	if sc.tracked != nil {
		// Fail-closed: nothing is sent unless the trail can record that it
		// is about to be.
		if err := sc.tracked.Record(ctx, slog.LevelInfo, event, record...); err != nil {
			return nil, &AuditError{Before: true, Err: err}
		}
		if err := sc.tracked.Wait(ctx); err != nil {
			return nil, &AuditError{Before: true, Err: err}
		}
		// The send's own records (smtp.rcpt, smtp.send, ...) are written
		// together by settle's Wait, where the trail allows it.
		sc.tracked.Hold()
	}
	res, err := s.delivery.deliver(ctx, env, open)
	return res, s.settle(ctx, sc, res, err)
}

// settle waits for the records of a send to be written. A trail failure
// is joined to err; when the send itself succeeded it is an *AuditError
// carrying res (Accepted: only the record is missing).
func (s *Sender) settle(ctx context.Context, sc *sendScope, res *Result, err error) error {
	if sc.tracked == nil {
		return err
	}
	werr := sc.tracked.Wait(ctx)
	switch {
	case werr == nil:
		return err
	case err == nil && res != nil:
		return &AuditError{Result: res, Err: werr}
	}
	return errors.Join(err, &AuditError{Err: werr})
}

// probeStep runs one check of a probe with its own audit scope and waits
// for its records: a probe the trail cannot record fails (fail-closed).
func (s *Sender) probeStep(ctx context.Context, extra []slog.Attr, run func(ctx context.Context) error) error {
	ctx, sc := s.scope(ctx, extra)
	err := run(ctx)
	if sc.tracked == nil {
		return err
	}
	if werr := sc.tracked.Wait(ctx); werr != nil {
		return errors.Join(err, &AuditError{Before: true, Err: werr})
	}
	return err
}
