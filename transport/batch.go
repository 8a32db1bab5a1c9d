package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"mailwarden/transport/internal/wire"
)

// A BatchItem is one message of Client.SendBatch.
type BatchItem struct {
	Envelope Envelope
	// Body is the message, read once (as Send reads it).
	Body io.Reader
	// Context, when not nil, supplies the values of this message's log
	// records (an audit scope, for example); the batch's own context
	// still governs cancellation and deadlines.
	Context context.Context
}

// A BatchState says what became of one message of a batch.
type BatchState uint8

const (
	// BatchNotSent (the zero value): the message did not reach the point
	// where the server could deliver it (not tried, or the session broke
	// before its final dot or BDAT LAST was written). Sending it again
	// cannot duplicate it.
	BatchNotSent BatchState = iota
	// BatchAccepted: the server accepted the message (250 after the body).
	BatchAccepted
	// BatchFailed: the message was refused (BatchResult.Err is the
	// server's *Error: at MAIL, RCPT, DATA or after the body) or could
	// not be sent for a local reason (an *AddressError, an unsupported
	// extension, an unreadable body). It was not delivered by this
	// session; Classify(Err) says whether trying again may help.
	BatchFailed
	// BatchUnknown: the final dot (or BDAT LAST) was written and the
	// session broke before the server's reply was read. The server may
	// have accepted the message. It is NOT safe to resend silently: doing
	// so may deliver it twice. Report it, or resend only when a duplicate
	// is acceptable.
	BatchUnknown
)

var batchStateNames = [...]string{"not sent", "accepted", "failed", "unknown"}

// String returns the state's name, e.g. "accepted".
func (s BatchState) String() string {
	if int(s) < len(batchStateNames) {
		return batchStateNames[s]
	}
	return "batchstate(" + strconv.Itoa(int(s)) + ")"
}

// A BatchResult is the outcome of one message of a batch.
type BatchResult struct {
	State BatchState
	// Result is the transaction as far as it went (as Send returns it),
	// nil when none was started.
	Result *Result
	// Err is why the message failed (BatchFailed), why the session broke
	// (BatchUnknown, and BatchNotSent for the message in progress), or
	// nil.
	Err error
}

// SendBatch sends the messages of items in order on this session and
// reports each one's outcome in the BatchResult at the same index.
//
// When the server offers PIPELINING (and Config.DisablePipelining is
// false), the transactions overlap as RFC 2920 allows: the body and final
// dot of message k go in the same flight as MAIL, RCPT and DATA of
// message k+1 (with CHUNKING: the BDAT chunks of k, the last one with
// LAST, and the envelope of k+1), so a batch costs about one round trip
// per message. The replies are read in order and each is attributed to
// the command it answers: a refusal of message k is never reported for
// k+1. A message whose recipients are all refused (or, with
// AllRecipients, any of them) gets no body: when the server answered
// DATA with 354 regardless, an empty body ends the data (RFC 2920
// section 3.1), and the transaction is reset with a RSET pipelined before
// the next MAIL. Without PIPELINING the messages are sent one by one as
// Send sends them; then a session that breaks during the data of a message
// leaves that message BatchUnknown, as the client cannot tell whether its
// dot was read.
//
// Each message is logged as Send logs it (EventRcpt, EventSend, with
// Config.Progress events for its body). The error is nil when every
// message was tried; otherwise it says why the batch stopped (the session
// broke, ctx ended), and the messages not reached are BatchNotSent. A
// message left BatchUnknown must not be resent silently.
func (c *Client) SendBatch(ctx context.Context, items []BatchItem) ([]BatchResult, error) {
	return c.sendBatch(ctx, items)
}

// mergedCtx takes its values from vals and everything else from the
// embedded context.
type mergedCtx struct {
	context.Context
	vals context.Context
}

func (m mergedCtx) Value(k any) any { return m.vals.Value(k) }

func itemCtx(ctx context.Context, it *BatchItem) context.Context {
	if it.Context == nil || it.Context == ctx {
		return ctx
	}
	return mergedCtx{Context: ctx, vals: it.Context}
}

func (c *Client) sendBatch(ctx context.Context, items []BatchItem) ([]BatchResult, error) {
	out := make([]BatchResult, len(items))
	if c.cfg.QuitAfter != "" {
		return out, fmt.Errorf("%w: a session opened with QuitAfter %q cannot send", ErrBadConfig, c.cfg.QuitAfter)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(); err != nil {
		return out, err
	}
	if c.rbuf == nil {
		c.rbuf = make([]byte, 32<<10)
	}
	if !c.has("PIPELINING") || c.cfg.DisablePipelining {
		return out, c.batchOneByOne(ctx, items, out)
	}
	defer c.release()
	b := &batch{c: c, ctx: ctx, items: items, out: out}
	return out, b.run()
}

// batchOneByOne sends the items in lockstep, as Send would, for a server
// without PIPELINING.
func (c *Client) batchOneByOne(ctx context.Context, items []BatchItem, out []BatchResult) error {
	for i := range items {
		it := &items[i]
		if err := ctx.Err(); err != nil {
			return err
		}
		mctx := itemCtx(ctx, it)
		start := time.Now()
		var res *Result
		var err error
		if it.Body == nil {
			err = fmt.Errorf("%w: batch item %d has no body", ErrBadConfig, i)
		} else {
			res, err = c.sendMetered(mctx, it.Envelope, it.Body)
		}
		if res != nil {
			res.Duration = time.Since(start)
		}
		c.logSend(mctx, it.Envelope, res, err, start)
		out[i] = BatchResult{Result: res, Err: err}
		broken := c.usable()
		var e *Error
		switch {
		case err == nil:
			out[i].State = BatchAccepted
		case errors.As(err, &e) && e.Code != 0, broken == nil:
			out[i].State = BatchFailed
		case e != nil && e.Stage == StageData && e.Message != "reading the message":
			out[i].State = BatchUnknown
		case e != nil && e.Message == "reading the message":
			out[i].State = BatchFailed
		default:
			out[i].State = BatchNotSent
		}
		if broken != nil {
			return err
		}
	}
	return nil
}

// batch is one pipelined SendBatch.
type batch struct {
	c     *Client
	ctx   context.Context
	items []BatchItem
	out   []BatchResult
}

// bmsg is one message in flight.
type bmsg struct {
	i     int
	t     *txn
	ctx   context.Context // for its log records
	start time.Time
	meter *meter

	localErr  error // the body could not be read or is not sendable
	dotQueued bool  // the final dot or BDAT LAST is in the write buffer
	replies   int   // replies owed to the body: 1 for DATA, one per BDAT
	final     Reply
}

// next readies the next message whose envelope passes the local checks,
// recording those that fail; nil when none is left.
func (b *batch) next(from *int) *bmsg {
	c := b.c
	for *from < len(b.items) {
		i := *from
		*from++
		it := &b.items[i]
		mctx := itemCtx(b.ctx, it)
		var t *txn
		var err error
		if it.Body == nil {
			err = fmt.Errorf("%w: batch item %d has no body", ErrBadConfig, i)
		} else {
			t, err = c.checkEnvelope(it.Envelope, nil)
		}
		if err != nil {
			b.out[i] = BatchResult{State: BatchFailed, Err: err}
			c.logSend(mctx, it.Envelope, nil, err, time.Now())
			continue
		}
		c.mailLine(t)
		t.res = newResult(t.env.To)
		*t.res = Result{Server: c.server, Pipelined: true, UsedBDAT: t.chunking, DSN: t.dsn != nil, TLS: c.info.TLSModeUsed(), Attempts: 1, Recipients: t.res.Recipients}
		return &bmsg{i: i, t: t, ctx: mctx, start: time.Now(), meter: newMeter(c.cfg.Progress, &t.env)}
	}
	return nil
}

func (b *batch) run() error {
	c := b.c
	from := 0
	var prev *bmsg // the message whose body goes in the next flight
	for {
		cur := b.next(&from)
		if prev == nil && cur == nil {
			return nil
		}
		if err := b.flight(prev, cur); err != nil {
			return err
		}
		prev = nil
		if cur != nil {
			send, err := b.decide(cur)
			if err != nil {
				return err
			}
			if send {
				prev = cur
			}
		}
		if c.broken != nil {
			return c.broken
		}
	}
}

// flight writes prev's body (when prev is not nil), a RSET when a
// transaction is open, and cur's MAIL, RCPT and DATA (when cur is not nil
// and the recipient policy allows DATA in the flight), flushes once, and
// reads every reply in order: prev's final reply, RSET's, then cur's.
func (b *batch) flight(prev, cur *bmsg) error {
	c := b.c
	timeout := c.cfg.CommandTimeout * 2
	if cur != nil {
		timeout = c.cfg.CommandTimeout * time.Duration(3+len(cur.t.env.To))
	}
	if prev != nil {
		timeout += c.cfg.DataTimeout
	}
	stage, cmd := StageData, "DATA"
	prevDone := false
	err := c.withDeadline(b.ctx, timeout, func() error {
		if prev != nil {
			if err := b.writeBody(prev); err != nil {
				return err
			}
		}
		rset := c.needRset
		if rset {
			c.wc.Cmd("RSET", "")
		}
		if cur != nil {
			t := cur.t
			c.wc.Cmd(t.mail, "")
			for _, to := range t.env.To {
				c.rcptCmd(to, t.notify)
			}
			if t.oneFlight && !t.chunking {
				c.wc.Cmd("DATA", "")
				t.sentData = true
			}
		}
		if err := c.wc.Flush(); err != nil {
			return err
		}
		if prev != nil {
			for j := 0; j < prev.replies; j++ {
				var r Reply
				if err := c.read(&r); err != nil {
					return err
				}
				if prev.final.Code == 0 || prev.final.Code == 250 {
					prev.final = r
				}
			}
			prevDone = true
		}
		if rset {
			stage, cmd = StageReset, "RSET"
			var r Reply
			if err := c.read(&r); err != nil {
				return err
			}
			if r.Code != 250 {
				return c.replyErr(StageReset, "RSET", r)
			}
			c.needRset = false
		}
		if cur != nil {
			t := cur.t
			stage, cmd = StageMail, t.mail
			if err := c.read(&t.mailReply); err != nil {
				return err
			}
			stage = StageRcpt
			for i := range t.env.To {
				cmd = "RCPT TO:<" + t.env.To[i] + ">"
				if err := c.read(&t.res.Recipients[i].Reply); err != nil {
					return err
				}
			}
			if t.sentData {
				stage, cmd = StageData, "DATA"
				if err := c.read(&t.dataReply); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if prev != nil && prev.localErr != nil {
		// The body could not be read or sent as it is: the connection is
		// closed before its end, so the server discards it.
		e := &Error{Stage: StageData, Server: c.server, Message: "reading the message", Err: prev.localErr}
		if errors.Is(prev.localErr, Err8BitMIMENotSupported) {
			e = &Error{Stage: StageData, Server: c.server, Err: Err8BitMIMENotSupported}
		}
		c.breakWith(e)
		b.fail(prev, e)
		if cur != nil {
			b.out[cur.i].Err = e // nothing of it was written
		}
		return e
	}
	if err != nil {
		e := c.ioErr(stage, cmd, err)
		if prev != nil {
			switch {
			case prevDone:
				b.finish(prev)
			case prev.dotQueued:
				b.settle(prev, BatchUnknown, e)
			default:
				b.settle(prev, BatchNotSent, e)
			}
		}
		if cur != nil {
			b.settle(cur, BatchNotSent, e)
		}
		return e
	}
	if prev != nil {
		b.finish(prev)
	}
	return nil
}

// writeBody buffers m's body: after DATA, dot-stuffed with the final dot;
// with CHUNKING, as BDAT chunks, the last with LAST.
func (b *batch) writeBody(m *bmsg) error {
	c := b.c
	t := m.t
	if !t.chunking {
		c.body = wire.Body{W: c.wc.W, Stuff: true, Check8: !t.eight}
		body := &c.body
		_, err := io.CopyBuffer(m.meter.writer(body), b.items[m.i].Body, c.rbuf)
		t.res.Size = body.N
		if err != nil {
			if errors.Is(err, wire.ErrEightBit) {
				m.localErr = Err8BitMIMENotSupported
			} else if !body.WriteFailed {
				m.localErr = err
			}
			return err
		}
		if err := body.Close(); err != nil {
			return err
		}
		t.res.Size = body.N
		m.dotQueued, m.replies = true, 1
		if c.wc.Trace != nil {
			c.wc.Trace(true, "["+strconv.FormatInt(body.N, 10)+" bytes of message]")
			c.wc.Trace(true, ".")
		}
		return nil
	}
	c.cbuf.Reset()
	k := c.newChunker(b.items[m.i].Body, t.eight)
	c.prog = m.meter
	defer func() { c.prog = nil }()
	for {
		if k.more() {
			if err := k.fill(); err != nil {
				if errors.Is(err, wire.ErrEightBit) {
					m.localErr = Err8BitMIMENotSupported
				} else {
					m.localErr = err
				}
				return err
			}
		}
		last := k.eof // writeTo sends all that is left once the message has ended
		if err := k.writeTo(c); err != nil {
			return err
		}
		m.replies++
		t.res.Size = k.total
		if last {
			m.dotQueued = true
			return nil
		}
	}
}

// decide reads cur's envelope replies: whether its body may follow. A
// refusal is recorded; a transaction left open is reset in the next
// flight.
func (b *batch) decide(m *bmsg) (send bool, err error) {
	c := b.c
	t := m.t
	c.logRcpts(m.ctx, t)
	abort := func() {
		if t.sentData && t.dataReply.Code == 354 {
			c.abortData(b.ctx)
		}
	}
	if t.mailReply.Code != 250 {
		e := c.replyErr(StageMail, t.mail, t.mailReply)
		abort()
		b.fail(m, e)
		return false, nil
	}
	c.needRset = true
	var refused []RcptResult
	worst := Reply{}
	for _, r := range t.res.Recipients {
		if !r.Accepted() {
			refused = append(refused, r)
			if worst.Code == 0 || (r.Reply.Code >= 500 && worst.Code < 500) {
				worst = r.Reply
			}
		}
	}
	if len(refused) == len(t.res.Recipients) || (len(refused) > 0 && c.cfg.Recipients == AllRecipients) {
		abort()
		e := &Error{Stage: StageRcpt, Server: c.server, Code: worst.Code, Enhanced: worst.Enhanced, Message: worst.Text,
			Command: "RCPT TO:<" + refused[0].Addr + ">", Err: &RecipientsError{Refused: refused}}
		if worst.Code == 421 {
			c.breakWith(e)
		}
		b.fail(m, e)
		return false, nil
	}
	if !t.chunking {
		if !t.sentData {
			r, err := c.cmd(b.ctx, StageData, "DATA")
			if err != nil {
				b.settle(m, BatchNotSent, err)
				return false, err
			}
			t.sentData, t.dataReply = true, r
		}
		if t.dataReply.Code != 354 {
			b.fail(m, c.replyErr(StageData, "DATA", t.dataReply))
			return false, nil
		}
	}
	// The body's end closes the transaction, whatever the reply.
	c.needRset = false
	return true, nil
}

// finish records the final reply to m's body.
func (b *batch) finish(m *bmsg) {
	c := b.c
	t := m.t
	t.res.Reply = m.final
	if m.final.Code != 250 {
		cmd := "DATA"
		if t.chunking {
			cmd = "BDAT"
		}
		b.fail(m, c.replyErr(StageData, cmd, m.final))
		return
	}
	t.res.QueueID = ParseQueueID(m.final.Text)
	m.meter.finish(t.res, nil)
	b.settle(m, BatchAccepted, nil)
}

func (b *batch) fail(m *bmsg, err error) { b.settle(m, BatchFailed, err) }

// settle records m's outcome and logs its EventSend.
func (b *batch) settle(m *bmsg, s BatchState, err error) {
	m.t.res.Duration = time.Since(m.start)
	b.out[m.i] = BatchResult{State: s, Result: m.t.res, Err: err}
	b.c.logSend(m.ctx, m.t.env, m.t.res, err, m.start)
}
