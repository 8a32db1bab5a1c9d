package transport

import (
	"context"
	"fmt"
	"io"
)

// A RelayBatchItem is one message of Relay.SendBatch.
type RelayBatchItem struct {
	Envelope Envelope
	// Open returns the message; it is called once per session the
	// message is tried on.
	Open Opener
	// Context, when not nil, supplies the values of this message's log
	// records (see BatchItem.Context).
	Context context.Context
}

// SendBatch sends the messages on one session (a reused or new one) with
// Client.SendBatch, and fails over as Send does: when the session cannot
// be opened or breaks, or the server refuses a message with a 4xx, the
// messages that are neither accepted, refused for good (5xx, local
// errors) nor BatchUnknown are tried on a fresh session to the next
// server (or, when a reused idle session turned out to be closed, on a
// fresh one to the same server). A message left BatchUnknown is never
// sent again. The results are at the items' indexes; Result.Attempts
// counts the sessions each message was tried on. The error is nil when
// every message reached a server's answer; otherwise it is the last
// session's failure, and the messages it left are BatchNotSent (or
// BatchFailed with a temporary error).
func (r *Relay) SendBatch(ctx context.Context, items []RelayBatchItem) ([]BatchResult, error) {
	return r.sendBatch(ctx, items)
}

func (r *Relay) sendBatch(ctx context.Context, items []RelayBatchItem) ([]BatchResult, error) {
	out := make([]BatchResult, len(items))
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return out, ErrClientClosed
	}
	order := r.order()
	r.mu.Unlock()
	pending := make([]int, 0, len(items))
	for i, it := range items {
		if it.Open == nil {
			out[i] = BatchResult{State: BatchFailed, Err: fmt.Errorf("%w: nil Opener", ErrBadConfig)}
			continue
		}
		pending = append(pending, i)
	}
	attempts := make([]int, len(items))
	var lastErr error
	for _, srv := range order {
		for fresh := 0; fresh < 2 && len(pending) > 0; fresh++ {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			var ic *idleClient
			if fresh == 0 {
				r.mu.Lock()
				ic = r.take(srv)
				r.mu.Unlock()
			}
			reused := ic != nil
			if ic == nil {
				for _, i := range pending {
					newMeter(r.cfg.Session.progress(), &items[i].Envelope).report(PhaseConnecting)
				}
				c, err := Dial(ctx, r.cfg.Servers[srv], r.cfg.Session)
				if err != nil {
					lastErr = err
					for _, i := range pending {
						attempts[i]++
						if out[i].State == BatchNotSent {
							out[i].Err = err
						}
					}
					if !retryable(err) {
						return out, err
					}
					break // next server
				}
				ic = &idleClient{c: c, srv: srv}
			}
			batch := make([]BatchItem, 0, len(pending))
			idx := make([]int, 0, len(pending))
			var closers []io.Closer
			for _, i := range pending {
				rd, err := items[i].Open()
				if err != nil {
					out[i] = BatchResult{State: BatchFailed, Err: fmt.Errorf("transport: opening the message: %w", err)}
					continue
				}
				if cl, ok := rd.(io.Closer); ok {
					closers = append(closers, cl)
				}
				attempts[i]++
				batch = append(batch, BatchItem{Envelope: items[i].Envelope, Body: rd, Context: items[i].Context})
				idx = append(idx, i)
			}
			res, berr := ic.c.SendBatch(ctx, batch)
			for _, cl := range closers {
				cl.Close()
			}
			pending = pending[:0]
			progressed, temporary := false, false
			for j, i := range idx {
				br := res[j]
				if br.Result != nil {
					br.Result.Attempts = attempts[i]
				}
				if br.State == BatchNotSent && br.Err == nil {
					br.Err = berr
				}
				out[i] = br
				switch br.State {
				case BatchAccepted, BatchUnknown:
					progressed = true
				case BatchFailed:
					progressed = true
					if retryable(br.Err) {
						temporary = true
						pending = append(pending, i)
					}
				default:
					pending = append(pending, i)
				}
			}
			ic.sent += len(idx)
			broken := ic.c.usable() != nil
			if broken || temporary {
				// As in Send: a broken session is closed, and one that
				// answers 4xx is not kept either.
				r.retire(ic)
			} else {
				r.put(ic)
			}
			if berr != nil {
				lastErr = berr
				if !retryable(berr) {
					return out, berr
				}
			} else if len(pending) > 0 {
				lastErr = out[pending[0]].Err
			}
			if reused && broken && !progressed {
				continue // stale idle session: try a fresh one to the same server
			}
			break
		}
	}
	if len(pending) == 0 {
		return out, nil
	}
	return out, lastErr
}
