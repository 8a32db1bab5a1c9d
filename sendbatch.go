package mailwarden

import (
	"context"
	"log/slog"

	"mailwarden/envelope"
	"mailwarden/transport"
)

// A BatchState says what became of one message of SendBatch (see
// transport.BatchState).
type BatchState = transport.BatchState

// The states of a batch's message.
const (
	// BatchNotSent: not sent (safe to send again).
	BatchNotSent = transport.BatchNotSent
	// BatchAccepted: the relay accepted the message.
	BatchAccepted = transport.BatchAccepted
	// BatchFailed: refused or not sendable; Err says why.
	BatchFailed = transport.BatchFailed
	// BatchUnknown: the connection broke after the message's end was
	// sent and before the reply: it may have been delivered. Do not
	// resend it silently.
	BatchUnknown = transport.BatchUnknown
)

// A BatchResult is the outcome of one message of SendBatch.
type BatchResult struct {
	State BatchState
	// Result is what the send did (nil when it never reached a server).
	Result *Result
	// Err is the message's error, as Send would return it for that
	// message (a *transport.Error, *envelope.Error, an audit error, ...);
	// nil when accepted and recorded.
	Err error
}

// SendBatch sends msgs as Send sends each one (defaults, Message-ID,
// S/MIME, spooling, the audit records before and after each message, with
// the same fail-closed rule), but over one relay session with the
// transactions pipelined (see transport.Client.SendBatch): about one round
// trip per message instead of two. The results are at the messages'
// indexes. A message whose intent the audit trail cannot record is not
// sent (BatchNotSent, Err wraps ErrAuditFailed). Failover follows
// transport.Relay.SendBatch: only messages neither accepted nor
// BatchUnknown go on to the next server. A BatchUnknown message may have
// been delivered and must not be resent without accepting a duplicate.
//
// Every message is spooled before the first is sent, so a batch holds
// them all at once (in memory up to Options.SpoolInMemory each, else in
// temporary files). The graph transport has no pipelining: there
// SendBatch sends the messages one by one with Send. The error is nil
// when every message reached an answer (look at each BatchResult);
// otherwise it says why the batch stopped.
func (s *Sender) SendBatch(ctx context.Context, msgs []*envelope.Message) ([]BatchResult, error) {
	out := make([]BatchResult, len(msgs))
	d, ok := s.delivery.(*smtpDelivery)
	if !ok {
		for i, m := range msgs {
			res, err := s.Send(ctx, m)
			out[i] = BatchResult{Result: res, Err: err, State: BatchFailed}
			switch {
			case err == nil:
				out[i].State = BatchAccepted
			case res == nil:
				out[i].State = BatchNotSent
			}
			if cerr := ctx.Err(); cerr != nil {
				return out, cerr
			}
		}
		return out, nil
	}
	ready := make([]batchEntry, 0, len(msgs))
	spools := make([]*spooled, 0, len(msgs))
	defer func() {
		for _, sp := range spools {
			sp.release()
		}
	}()
	idx := make([]int, 0, len(msgs))
	for i, m := range msgs {
		m, extra, err := s.prepareMessage(m, nil)
		if err != nil {
			out[i] = BatchResult{State: BatchFailed, Err: err}
			continue
		}
		sp, env, err := s.spoolMessage(m)
		releaseCopy(m)
		if err != nil {
			out[i] = BatchResult{State: BatchFailed, Err: err}
			continue
		}
		spools = append(spools, sp)
		ready = append(ready, batchEntry{env: env, open: sp.open, extra: extra})
		idx = append(idx, i)
	}
	res, err := s.sendBatch(ctx, d, ready)
	for j, i := range idx {
		out[i] = res[j]
	}
	return out, err
}

// batchEntry is one message of sendBatch, ready to go.
type batchEntry struct {
	env   transport.Envelope
	open  transport.Opener
	extra []slog.Attr
}

// sendBatch records each entry's intent under a fail-closed trail (as
// send does), sends those recorded through the relay in one batch, and
// waits for each one's records.
func (s *Sender) sendBatch(ctx context.Context, d *smtpDelivery, entries []batchEntry) ([]BatchResult, error) {
	out := make([]BatchResult, len(entries))
	items := make([]transport.RelayBatchItem, 0, len(entries))
	idx := make([]int, 0, len(entries))
	scopes := make([]*sendScope, len(entries))
	var buf [8]slog.Attr // each intent record's attributes in turn, when they fit
	for i, e := range entries {
		event, record, scope := d.intent(buf[:0], e.env, e.extra, s.trail != nil)
		mctx, sc := s.scope(ctx, scope)
		scopes[i] = sc
		if sc.tracked != nil {
			// Fail-closed, as in Send: nothing is sent unless the trail
			// can record that it is about to be.
			err := sc.tracked.Record(mctx, slog.LevelInfo, event, record...)
			if err == nil {
				err = sc.tracked.Wait(mctx)
			}
			if err != nil {
				out[i] = BatchResult{State: BatchNotSent, Err: &AuditError{Before: true, Err: err}}
				continue
			}
			// As in send: this message's records are written together
			// by its settle.
			sc.tracked.Hold()
		}
		items = append(items, transport.RelayBatchItem{Envelope: e.env, Open: e.open, Context: mctx})
		idx = append(idx, i)
	}
	if len(items) == 0 {
		return out, nil
	}
	tres, berr := d.relay.SendBatch(ctx, items)
	for j, i := range idx {
		br := tres[j]
		res := smtpResult(br.Result)
		err := br.Err
		if br.State == BatchNotSent && err == nil {
			err = berr
		}
		if sc := scopes[i]; sc.tracked != nil {
			err = s.settle(withScope(ctx, sc), sc, res, err)
		}
		out[i] = BatchResult{State: br.State, Result: res, Err: err}
	}
	return out, berr
}

// smtpResult is the Result of a transport.Result, nil for nil.
func smtpResult(tr *transport.Result) *Result {
	if tr == nil {
		return nil
	}
	return &Result{Transport: "smtp", Server: tr.Server, Recipients: tr.Recipients, Reply: tr.Reply, QueueID: tr.QueueID,
		Size: tr.Size, Pipelined: tr.Pipelined, UsedBDAT: tr.UsedBDAT, DSN: tr.DSN, TLS: tr.TLS, Attempts: tr.Attempts, Duration: tr.Duration}
}
