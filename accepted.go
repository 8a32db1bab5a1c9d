package mailwarden

import "context"

// An AcceptedError is the error of a send the relay accepted (its final
// reply was a success) after which the audit trail could not record the
// outcome: the message is delivered, only its record is missing. It wraps
// ErrAuditFailed and the trail's error. Accepted reports true, which the
// outbox honours: such an entry is never sent again, only its record is
// retried. Result is the relay's result.
type AcceptedError struct {
	Result *Result
	Err    error
}

func (e *AcceptedError) Error() string {
	return "mailwarden: the relay accepted the message, but " + e.Err.Error()
}

// Unwrap returns the audit failure (which wraps ErrAuditFailed).
func (e *AcceptedError) Unwrap() error { return e.Err }

// Accepted reports true: the relay accepted the message; sending it again
// would deliver a second copy.
func (e *AcceptedError) Accepted() bool { return true }

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
