package outbox

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// A BatchDeliverer is a Deliverer that can also deliver several entries in
// one go (a Sender's does: one relay session, the transactions pipelined).
// When the Outbox's Deliverer is one and Config.MaxBatch is not 1, a pass
// hands it the due entries up to MaxBatch at a time.
//
// DeliverBatch returns one error per entry, at the entry's index, with the
// meaning Deliver's error has (nil: delivered, with its queue id; an error
// whose Accepted reports true: delivered, only its record failed;
// Temporary: retried later; else permanent). An entry whose fate is not
// known (the connection broke after its end was sent and before the reply)
// must be reported as a temporary error, as Deliver reports a connection
// that breaks at that point: the outbox delivers at least once.
type BatchDeliverer interface {
	Deliverer
	DeliverBatch(ctx context.Context, entries []BatchEntry) []BatchOutcome
}

// A BatchEntry is one entry handed to DeliverBatch.
type BatchEntry struct {
	Envelope Envelope
	Open     Opener
}

// A BatchOutcome is what DeliverBatch did with one entry.
type BatchOutcome struct {
	QueueID string
	Err     error
}

// DefaultMaxBatch is a batch size that pays (Config.MaxBatch; batching is
// off unless it is set above 1).
const DefaultMaxBatch = 50

// passBatches is pass's loop for a BatchDeliverer: the due entries go in
// groups of up to MaxBatch, each group on one delivery slot and counted
// by the rate limit entry by entry.
func (o *Outbox) passBatches(ctx context.Context, wg *sync.WaitGroup, bd BatchDeliverer, due []string, m map[string]scanned, add func(Stats)) {
	for len(due) > 0 {
		if !o.takeSlot(ctx) {
			return
		}
		var group []string
		stop := false
		for len(due) > 0 && len(group) < o.cfg.MaxBatch {
			id := due[0]
			due = due[1:]
			if !o.claim(id) {
				continue
			}
			if err := o.pace(ctx); err != nil {
				o.unclaim(id)
				stop = true
				break
			}
			group = append(group, id)
		}
		if len(group) == 0 {
			<-o.slots
			if stop {
				return
			}
			continue
		}
		wg.Add(1)
		go func(group []string) {
			defer wg.Done()
			release := sync.OnceFunc(func() { <-o.slots })
			r := o.attemptBatch(ctx, bd, group, m, release)
			o.mu.Lock()
			for _, id := range group {
				delete(o.inflight, id)
			}
			o.mu.Unlock()
			release()
			add(r)
			o.wake()
		}(group)
		if stop {
			return
		}
	}
}

// attemptBatch is attempt for a group of entries: each is checked and
// counted as attempt does, the group goes to DeliverBatch, and each
// outcome is recorded as attempt records it.
func (o *Outbox) attemptBatch(ctx context.Context, bd BatchDeliverer, group []string, m map[string]scanned, release func()) Stats {
	type ready struct {
		id  string
		hdr header
		st  state
	}
	var stats Stats
	var rs []ready
	var entries []BatchEntry
	for _, id := range group {
		s := m[id]
		if _, err := os.Stat(o.msgPath(id)); err != nil {
			continue
		}
		st, err := o.readState(ctx, id)
		if now := o.cfg.Now(); err != nil || st.Dead || o.dueAt(st, now).After(now) {
			continue
		}
		hdr := s.l.hdr
		if st.Removing {
			stats.add(o.retryRemoval(ctx, id, hdr, st))
			continue
		}
		if st.Delivered {
			stats.add(o.accepted(ctx, id, hdr, st, "", nil))
			continue
		}
		st.Attempts++
		o.log.LogAttrs(ctx, slog.LevelInfo, "outbox.attempt", entryAttrs(hdr, id, st.Attempts)...)
		o.m.Attempt(ctx)
		rs = append(rs, ready{id: id, hdr: hdr, st: st})
		l := s.l
		path := o.msgPath(id)
		entries = append(entries, BatchEntry{
			Envelope: Envelope{From: hdr.From, To: hdr.To, SMTPUTF8: hdr.SMTPUTF8, MessageID: hdr.MessageID, Size: l.bodySize},
			Open:     func() (io.Reader, error) { return openBody(path, l) },
		})
	}
	if len(entries) == 0 {
		return stats
	}
	actx, cancel := context.WithTimeout(ctx, o.cfg.AttemptTimeout*time.Duration(len(entries)))
	start := time.Now()
	outs := bd.DeliverBatch(actx, entries)
	cancel()
	// The latency metric gets each message's share of the batch: the
	// messages of a batch share its round trips.
	took := time.Since(start) / time.Duration(len(entries))
	res := make([]BatchOutcome, len(rs))
	for i := range res {
		if i < len(outs) {
			res[i] = outs[i]
		} else {
			res[i].Err = errBatchShort
		}
	}
	// As for one entry (see outcome): the relay is done, the slot goes to
	// the next group; the delivered entries' outbox.delivered records are
	// stored (waited for once) before their files go; a failed wait makes
	// each of them an entry the relay accepted whose record is missing.
	// Then their files are unlinked and one directory fsync makes all the
	// removals durable before any entry is reported delivered.
	release()
	now := o.cfg.Now().UTC()
	var records [][]slog.Attr
	for i, r := range rs {
		if res[i].Err == nil {
			o.m.Sent(ctx, took, "delivered")
			records = append(records, deliveredAttrs(r.hdr, r.id, r.st, res[i].QueueID, now))
		}
	}
	recorded := len(records) > 0
	if recorded {
		if rerr := o.recordDelivered(context.WithoutCancel(ctx), records...); rerr != nil {
			recorded = false
			for i, r := range rs {
				if res[i].Err == nil {
					stats.add(o.accepted(ctx, r.id, r.hdr, r.st, res[i].QueueID, rerr))
				}
			}
		}
	}
	removed := make([]error, len(rs))
	unlinked := false
	if recorded {
		for i, r := range rs {
			if res[i].Err == nil {
				o.m.Delivered(ctx) // counted before its files go
				removed[i] = o.unlink(r.id, r.st.onDisk)
				unlinked = unlinked || removed[i] == nil
			}
		}
	}
	if unlinked {
		if err := o.dsync.sync(); err != nil {
			for i := range rs {
				if res[i].Err == nil && removed[i] == nil {
					removed[i] = err
				}
			}
		}
	}
	for i, r := range rs {
		switch {
		case res[i].Err != nil:
			stats.add(o.outcome(ctx, r.id, r.hdr, r.st, res[i].QueueID, res[i].Err, took, release))
		case recorded:
			stats.add(o.removedDelivered(ctx, r.id, r.hdr, r.st, res[i].QueueID, removed[i]))
		}
	}
	return stats
}

// errBatchShort stands for the outcome of an entry a BatchDeliverer did not
// report: temporary, so the entry is tried again.
var errBatchShort = temporaryError("outbox: the deliverer reported no outcome for the entry")

type temporaryError string

func (e temporaryError) Error() string   { return string(e) }
func (e temporaryError) Temporary() bool { return true }
