package mailwarden

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"mailwarden/envelope"
	"mailwarden/graph"
	"mailwarden/oauth"
	"mailwarden/outbox"
	"mailwarden/transport"
)

// An Outbox is a durable queue in front of a Sender: Enqueue stores a
// message, built exactly as Send would build it (Message-ID, S/MIME), in a
// spool directory and returns once it is on disk; Run delivers the queue
// through the Sender's relays (reusing connections, failing over), retrying
// temporary failures with backoff and dead-lettering permanent ones. A
// relay's 4xx is temporary and its 5xx permanent; connection, proxy and
// TLS failures (a certificate that does not verify included) and timeouts
// are temporary, as is an audit trail that could not record the send before
// it. A message the relay accepted is never sent again: when only the audit
// record after the relay's reply failed (an *AcceptedError), the entry is
// kept as delivered and only its record is retried. Every
// state change is an audit record (outbox.queued, outbox.attempt,
// outbox.deferred, outbox.delivered, outbox.dead, outbox.quarantined; see
// docs/audit-fields.md) next to the transport's own records.
//
// The embedded *outbox.Outbox gives Run, RunOnce, List, Retry, Purge and
// Close; its own Enqueue (a ready message and envelope) stays reachable as
// o.Outbox.Enqueue. Close the Outbox before the Sender.
type Outbox struct {
	*outbox.Outbox
	s *Sender
}

// OpenOutbox opens (creating if needed) the spool directory cfg.Dir for
// this Sender. When cfg.Deliverer is nil the Sender delivers. The outbox's
// records always go where the Sender's go (the profile's audit trail and
// Options.Logger), and also to cfg.Logger when it is set. With
// cfg.Concurrency above 2, give the Sender Options.MaxIdle of at least
// the same, so that every delivery keeps its connection. Errors are
// *outbox.Error.
func (s *Sender) OpenOutbox(cfg outbox.Config) (*Outbox, error) {
	if cfg.Deliverer == nil {
		cfg.Deliverer = senderDeliverer{s}
	}
	// The outbox's records go where the Sender's go (the audit trail and
	// Options.Logger), and to cfg.Logger too when set.
	if rh, ok := s.logger.Handler().(*routeHandler); ok && cfg.Logger != nil {
		c := *rh
		if c.extra != nil {
			c.extra = slog.NewMultiHandler(c.extra, cfg.Logger.Handler())
		} else {
			c.extra = cfg.Logger.Handler()
		}
		cfg.Logger = slog.New(&c)
	} else if cfg.Logger == nil {
		cfg.Logger = s.logger
	}
	q, err := outbox.Open(cfg)
	if err != nil {
		return nil, err
	}
	return &Outbox{Outbox: q, s: s}, nil
}

// Enqueue builds m as Send does (setting m.MessageID when empty, wrapping
// it in S/MIME when the profile says so) and stores it durably. The error
// is a *envelope.Error for a message that cannot be built, or an
// *outbox.Error (wrapping outbox.ErrFull when the spool is full) when it
// could not be stored; then nothing was queued.
func (o *Outbox) Enqueue(ctx context.Context, m *envelope.Message) (outbox.Entry, error) {
	mm, env, extra, err := o.s.prepare(m, nil)
	if err != nil {
		return outbox.Entry{}, err
	}
	// The queued record carries what a send's records carry (S/MIME).
	ctx = withScope(ctx, &sendScope{attrs: extra})
	return o.Outbox.Enqueue(ctx, outbox.Envelope{From: env.From, To: env.To, SMTPUTF8: env.SMTPUTF8, MessageID: env.MessageID},
		func(w io.Writer) error { _, err := mm.WriteTo(w); return err })
}

// senderDeliverer delivers spooled messages through a Sender.
type senderDeliverer struct{ s *Sender }

func (d senderDeliverer) Deliver(ctx context.Context, env outbox.Envelope, open outbox.Opener) (string, error) {
	tenv := transport.Envelope{From: env.From, To: env.To, SMTPUTF8: env.SMTPUTF8, Size: env.Size, MessageID: env.MessageID}
	res, err := d.s.sendOpened(ctx, tenv, transport.Opener(open), []slog.Attr{slog.Bool("outbox_delivery", true)})
	if err == nil {
		return res.QueueID, nil
	}
	var ae *AcceptedError
	if errors.As(err, &ae) && ae.Result != nil {
		// Delivered: the outbox keeps that durable and retries only the
		// record (never the send).
		return ae.Result.QueueID, err
	}
	return "", deliveryError(err)
}

// deliveryError marks the failures the outbox must retry although their
// own Temporary says no:
//
//   - the audit trail failed and no relay refused the message: the trail
//     may come back. (When a relay did answer, its reply decides: a 550
//     stays permanent even if the trail failed too.)
//   - a connection-class transport failure (transport.ClassConnection): a
//     TLS handshake or certificate verification failure, a 5xx greeting
//     or STARTTLS refusal, a server that broke the protocol, a network
//     error in the middle of a session. These are faults of the path to
//     the relay, which its operator fixes (renews the certificate, ...),
//     not of the message, so the entry is deferred until its maximum age,
//     as Postfix defers mail on TLS failures. The last error is kept and
//     shown by list.
//   - an authentication failure: a 535 or another AUTH-stage refusal, an
//     identity provider that refuses or cannot be reached for a token, a
//     Graph 401/403. A rotated password, an expired client secret or a
//     revoked consent is fixed by the administrator, and the queue must
//     not be dead-lettered meanwhile (Postfix's smtp_sasl_auth_soft_bounce
//     does the same); the entries wait until their maximum age.
//
// A cancelled context is never made temporary. An *AcceptedError (the
// relay accepted the message, its record failed) is never retried:
// Deliver returns it as it is, and the outbox honours its Accepted method.
func deliveryError(err error) error {
	if errors.Is(err, context.Canceled) || outbox.Accepted(err) {
		return err
	}
	var te *transport.Error
	relayAnswered := errors.As(err, &te)
	switch {
	case errors.Is(err, ErrAuditFailed) && !relayAnswered:
		return retryLater{err}
	case relayAnswered && transport.Classify(err) == transport.ClassConnection:
		return retryLater{err}
	case relayAnswered && transport.Classify(err) == transport.ClassAuth:
		return retryLater{err}
	}
	var ge *graph.Error
	if errors.As(err, &ge) && ge.Class() == graph.ClassAuth {
		return retryLater{err}
	}
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return retryLater{err}
	}
	return err
}

// retryLater marks an error as temporary for the outbox.
type retryLater struct{ error }

func (e retryLater) Temporary() bool { return true }
func (e retryLater) Unwrap() error   { return e.error }
