package mailwarden

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"mailwarden/envelope"
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
// record after the relay's reply failed (an *AuditError whose Accepted
// reports true), the entry is
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
	o.s.reportBuild(env.MessageID)
	e, err := o.Outbox.Enqueue(ctx, outbox.Envelope{From: env.From, To: env.To, SMTPUTF8: env.SMTPUTF8, MessageID: env.MessageID},
		func(w io.Writer) error { _, err := mm.WriteTo(w); return err })
	if err == nil {
		o.s.report(PhaseSpooling, env.MessageID, e.Envelope.Size)
	}
	return e, err
}

// The outbox package's types, so that a program (smtpcheck's outbox
// commands among them) works with a spool through this package alone.
type (
	// OutboxConfig configures an outbox (see outbox.Config).
	OutboxConfig = outbox.Config
	// Spool is an outbox opened without a Sender, to list and act on its
	// entries (see outbox.Outbox); OpenSpool opens one.
	Spool = outbox.Outbox
	// OutboxError is the outbox's error type (see outbox.Error).
	OutboxError = outbox.Error
	// OutboxEntry describes a queued message (see outbox.Entry).
	OutboxEntry = outbox.Entry
)

// ErrOutboxEntryNotFound is returned by Retry and Purge for an unknown
// entry ID (outbox.ErrNotFound).
var ErrOutboxEntryNotFound = outbox.ErrNotFound

// ErrNoSpool is wrapped by OpenSpool's error when OutboxConfig.Existing is
// set and the directory is missing or is not a spool (outbox.ErrNoSpool).
var ErrNoSpool = outbox.ErrNoSpool

// OpenSpool opens the spool directory cfg.Dir to inspect and act on its
// entries, without a Sender to deliver them (cfg.Deliverer may be nil:
// Run then fails). Errors are *OutboxError.
func OpenSpool(cfg OutboxConfig) (*Spool, error) { return outbox.Open(cfg) }

// senderDeliverer delivers spooled messages through a Sender.
type senderDeliverer struct{ s *Sender }

func (d senderDeliverer) Deliver(ctx context.Context, env outbox.Envelope, open outbox.Opener) (string, error) {
	tenv := transport.Envelope{From: env.From, To: env.To, SMTPUTF8: env.SMTPUTF8, Size: env.Size, MessageID: env.MessageID}
	res, err := d.s.send(ctx, tenv, transport.Opener(open), []slog.Attr{slog.Bool("outbox_delivery", true)})
	if err == nil {
		return res.QueueID, nil
	}
	var ae *AuditError
	if errors.As(err, &ae) && ae.Accepted() {
		// Delivered: the outbox keeps that durable and retries only the
		// record (never the send).
		return ae.Result.QueueID, err
	}
	return "", deliveryError(err)
}

// deliveryError is the outbox's retry decision on a Sender's failure (see
// retryable): a failure of the path to the relay (a refused connection, a
// TLS certificate that does not verify), of the credentials (a rotated
// password, a refused token) or of the audit trail is fixed by an
// administrator, not by changing the message, so the entry is deferred
// until its maximum age, as Postfix defers mail on TLS failures and with
// smtp_sasl_auth_soft_bounce. A relay's rejection stays permanent even when
// the trail failed too. A cancelled context is never made temporary.
//
// An *AuditError whose Accepted reports true (the relay accepted the
// message, its record failed) is never retried: it is returned as it is,
// and the outbox honours its Accepted method.
func deliveryError(err error) error {
	if outbox.Accepted(err) {
		return err
	}
	if retryable(err) {
		return retryLater{err}
	}
	return err
}

// retryLater marks an error as temporary for the outbox.
type retryLater struct{ error }

func (e retryLater) Temporary() bool { return true }
func (e retryLater) Unwrap() error   { return e.error }

// TrackRecords lets the outbox learn whether its records reached the audit
// trail (see outbox.RecordTracker).
func (d senderDeliverer) TrackRecords(ctx context.Context) (context.Context, func(context.Context) error) {
	ctx, sc := d.s.scope(ctx, nil)
	return ctx, func(ctx context.Context) error {
		if sc.tracked == nil {
			return nil
		}
		return sc.tracked.Wait(ctx)
	}
}
