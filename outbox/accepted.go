package outbox

import (
	"context"
	"errors"
	"log/slog"
)

// StateDelivered is the state of an entry the relay accepted whose
// delivery record could not be written yet (the audit trail failed after
// the relay's 250). It is never sent again; the worker retries only its
// record and removes the entry once the record is written.
const StateDelivered State = "delivered"

// Accepted reports whether a delivery error says that the relay accepted
// the message although the delivery failed afterwards, typically because
// the audit record written after the relay's reply could not be: the first
// error in err's chain with an Accepted() bool method decides. The worker
// treats such an entry as delivered (never sends it again) and retries
// only its record.
func Accepted(err error) bool {
	var a interface{ Accepted() bool }
	return err != nil && errors.As(err, &a) && a.Accepted()
}

// A RecordTracker is a Deliverer that can say whether the records logged
// under a context reached their audit trail. TrackRecords returns a
// context to log with and a function that waits until the records logged
// under it are stored and returns the first failure. The worker uses it
// for the record of a delivery whose first record failed: that record is
// retried until it is stored. A Deliverer without it counts every record
// as stored.
type RecordTracker interface {
	TrackRecords(ctx context.Context) (context.Context, func(context.Context) error)
}

// recordDelivered writes the outbox.delivered records of accepted
// messages, one per attribute list, and reports whether they were all
// stored (see RecordTracker): a batch's records are waited for once.
func (o *Outbox) recordDelivered(ctx context.Context, records ...[]slog.Attr) error {
	rt, ok := o.cfg.Deliverer.(RecordTracker)
	if !ok {
		for _, attrs := range records {
			o.log.LogAttrs(ctx, slog.LevelInfo, "outbox.delivered", attrs...)
		}
		return nil
	}
	rctx, wait := rt.TrackRecords(ctx)
	for _, attrs := range records {
		o.log.LogAttrs(rctx, slog.LevelInfo, "outbox.delivered", attrs...)
	}
	return wait(rctx)
}

// accepted settles an entry the relay accepted although the delivery
// reported an error (see Accepted), or whose record is pending from such a
// delivery (st.Delivered): the entry is delivered. Its record is written
// now if the trail takes it, and the entry removed; otherwise the entry is
// kept as StateDelivered, durably, and only the record is tried again
// after a backoff. A delivery is counted once, when the relay accepted it.
func (o *Outbox) accepted(ctx context.Context, id string, hdr header, st state, qid string, cause error) Stats {
	now := o.cfg.Now().UTC()
	ids := func(extra ...slog.Attr) []slog.Attr { return entryAttrs(hdr, id, st.Attempts, extra...) }
	first := !st.Delivered
	if first {
		o.m.Delivered(ctx)
		st.Delivered, st.QueueID, st.LastError = true, qid, cause.Error()
		// The outcome first: if the record fails and the process dies,
		// the entry must still never be sent again.
		if werr := writeAtomic(o.dir, id+stateExt, marshalState(st)); werr != nil {
			o.mu.Lock()
			o.sent[id] = true
			o.mu.Unlock()
			o.log.LogAttrs(ctx, slog.LevelError, "outbox.error", ids(slog.String("error",
				"delivered, but neither its record nor its state could be saved (it may be sent again after a restart): "+werr.Error()))...)
		}
	}
	attrs := append([]slog.Attr{slog.String("queue_id", st.QueueID)}, ids(
		slog.Int64("age_ms", now.Sub(hdr.Created).Milliseconds()),
		slog.Bool("record_retried", st.RecordTries > 0),
		slog.String("audit_error", st.LastError))...)
	if rerr := o.recordDelivered(ctx, attrs); rerr != nil {
		st.RecordTries++
		st.Next = now.Add(o.backoff(st.RecordTries))
		st.LastError = "delivered; its audit record is pending: " + rerr.Error()
		if werr := writeAtomic(o.dir, id+stateExt, marshalState(st)); werr != nil {
			o.mu.Lock()
			o.hold[id] = st.Next
			o.mu.Unlock()
		}
		o.log.LogAttrs(ctx, slog.LevelError, "outbox.record_pending", ids(slog.String("queue_id", st.QueueID),
			slog.String("error", st.LastError), slog.Time("next_attempt", st.Next))...)
		if first {
			return Stats{Delivered: 1}
		}
		return Stats{}
	}
	if rerr := o.remove(id, true); rerr != nil {
		o.log.LogAttrs(ctx, slog.LevelError, "outbox.error", ids(slog.String("error", o.unremoved(id, st, rerr)))...)
	}
	o.mu.Lock()
	delete(o.hold, id)
	o.mu.Unlock()
	if first {
		return Stats{Delivered: 1}
	}
	return Stats{}
}

// unremoved settles an entry that was sent and recorded but whose files
// remove could not remove (on Windows: another process, say a virus
// scanner or a backup agent, held the file open past robustio.Bound). The
// entry must never be sent again, by this process or after a restart: its
// state says so durably (Delivered and Removing) and the worker only tries
// the removal again after a backoff, without sending or recording (see
// retryRemoval). If not even the state can be saved, this process keeps it
// out of its sends and the returned text says a restart may send it again.
// It returns the text for the record's error attribute.
func (o *Outbox) unremoved(id string, st state, rerr error) string {
	st.Delivered, st.Removing = true, true
	st.RemoveTries++
	st.Next = o.cfg.Now().UTC().Add(o.backoff(st.RemoveTries))
	st.LastError = "delivered and recorded; its spool file could not be removed: " + rerr.Error()
	if werr := writeAtomic(o.dir, id+stateExt, marshalState(st)); werr != nil {
		o.mu.Lock()
		o.sent[id] = true
		o.mu.Unlock()
		return "delivered but neither removed from the spool nor marked delivered there (it may be sent again after a restart): " +
			rerr.Error() + "; saving its state: " + werr.Error()
	}
	return "delivered but not removed from the spool (marked delivered: it is not sent again; its removal is retried): " + rerr.Error()
}

// retryRemoval tries again to remove an entry that unremoved marked. It
// sends and records nothing: the delivery was counted and recorded when
// the relay accepted it.
func (o *Outbox) retryRemoval(ctx context.Context, id string, hdr header, st state) Stats {
	rerr := o.remove(id, true)
	if rerr == nil {
		o.log.LogAttrs(ctx, slog.LevelInfo, "outbox.removed", entryAttrs(hdr, id, st.Attempts, slog.Int("remove_tries", st.RemoveTries+1))...)
		return Stats{}
	}
	o.log.LogAttrs(ctx, slog.LevelError, "outbox.error", entryAttrs(hdr, id, st.Attempts, slog.String("error", o.unremoved(id, st, rerr)))...)
	return Stats{}
}

// entryAttrs are the attributes naming an entry in its records.
func entryAttrs(hdr header, id string, attempt int, extra ...slog.Attr) []slog.Attr {
	g := append([]slog.Attr{slog.String("spool_id", id), slog.Int("attempt", attempt)}, extra...)
	return []slog.Attr{slog.String("message_id", hdr.MessageID), {Key: "outbox", Value: slog.GroupValue(g...)}}
}
