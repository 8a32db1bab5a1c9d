package mailwarden

import (
	"context"
	"errors"
	"log/slog"

	"mailwarden/outbox"
	"mailwarden/transport"
)

var _ outbox.BatchDeliverer = senderDeliverer{}

// DeliverBatch delivers due outbox entries through the Sender's relays in
// one pipelined batch (Relay.SendBatch), each with the records Deliver
// gives it. A message whose fate is unknown (the session broke after its
// end was sent) is reported as a temporary failure: the outbox sends it
// again, at least once, as it does when Deliver loses the connection at
// that point. Through Graph the entries go one by one.
func (d senderDeliverer) DeliverBatch(ctx context.Context, entries []outbox.BatchEntry) []outbox.BatchOutcome {
	out := make([]outbox.BatchOutcome, len(entries))
	sd, ok := d.s.delivery.(*smtpDelivery)
	if !ok {
		for i, e := range entries {
			out[i].QueueID, out[i].Err = d.Deliver(ctx, e.Envelope, e.Open)
		}
		return out
	}
	be := make([]batchEntry, len(entries))
	for i, e := range entries {
		env := e.Envelope
		be[i] = batchEntry{env: transport.Envelope{From: env.From, To: env.To, SMTPUTF8: env.SMTPUTF8, Size: env.Size, MessageID: env.MessageID},
			open: transport.Opener(e.Open), extra: []slog.Attr{slog.Bool("outbox_delivery", true)}}
	}
	res, berr := d.s.sendBatch(ctx, sd, be)
	for i, r := range res {
		err := r.Err
		switch {
		case r.State == BatchAccepted && err == nil:
			out[i].QueueID = r.Result.QueueID
			continue
		case err == nil:
			err = berr
		}
		if err == nil {
			err = errors.New("mailwarden: the batch ended before this message was sent")
		}
		var ae *AuditError
		if errors.As(err, &ae) && ae.Accepted() {
			out[i].QueueID, out[i].Err = ae.Result.QueueID, err
			continue
		}
		if r.State == BatchUnknown {
			out[i].Err = retryLater{err}
			continue
		}
		if r.State == BatchNotSent && !errors.Is(err, context.Canceled) {
			out[i].Err = retryLater{err}
			continue
		}
		out[i].Err = deliveryError(err)
	}
	return out
}
