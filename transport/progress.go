package transport

import (
	"context"
	"io"
	"strconv"
	"time"
)

// A Phase is a step of a send, as a ProgressEvent reports it.
type Phase uint8

// The phases, in the order a send goes through them. The transport reports
// PhaseConnecting (a Relay, before it opens a new session; not when it
// reuses one), PhaseTransferring (with the bytes written) and PhaseDone;
// the earlier ones are for the layers that build the message (the
// mailwarden Sender reports them through the same observer).
const (
	PhaseBuilding     Phase = iota + 1 // the message is being written
	PhaseSigning                       // S/MIME signing (streamed with the building)
	PhaseEncrypting                    // S/MIME encryption (streamed with the building)
	PhaseSpooling                      // the message is stored (spool file or outbox)
	PhaseConnecting                    // a session is being opened
	PhaseTransferring                  // the body is being written to the server
	PhaseDone                          // the server accepted the message
)

var phaseNames = [...]string{"", "building", "signing", "encrypting", "spooling", "connecting", "transferring", "done"}

// String returns the phase's lower-case name, e.g. "transferring".
func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// A ProgressEvent reports where a send is. It carries no message content,
// addresses or credentials: only the phase, the message's ID and counts.
type ProgressEvent struct {
	Phase Phase
	// MessageID is the Envelope's MessageID (empty when not given), so
	// that an observer shared by concurrent sends can tell them apart.
	MessageID string
	// Written is the number of message bytes handed to the connection so
	// far (PhaseTransferring and PhaseDone). It rises monotonically within
	// one attempt; a retry on another session starts again from zero
	// after a new PhaseConnecting.
	Written int64
	// Total is the message size when known (Envelope.Size), else 0. The
	// last PhaseTransferring event and PhaseDone carry Written == Total ==
	// the bytes sent.
	Total int64
}

// Progress reporting is rate-limited: an event at most every
// progressBytes bytes or progressEvery, whichever comes first, plus the
// first (0 bytes) and the last (Written == Total).
const (
	progressBytes = 64 << 10
	progressEvery = 100 * time.Millisecond
)

// meter counts the body's bytes for Config.Progress. A nil *meter (no
// observer) costs nothing: writer returns the writer it is given.
type meter struct {
	fn     func(ProgressEvent)
	id     string
	total  int64
	n      int64
	last   int64
	lastAt time.Time
	w      io.Writer
}

// newMeter returns a meter for one send, nil when fn is nil.
func newMeter(fn func(ProgressEvent), env *Envelope) *meter {
	if fn == nil {
		return nil
	}
	return &meter{fn: fn, id: env.MessageID, total: env.Size}
}

// report sends one event of the phase with the current count.
func (m *meter) report(p Phase) {
	if m == nil {
		return
	}
	m.fn(ProgressEvent{Phase: p, MessageID: m.id, Written: m.n, Total: m.total})
}

// writer returns w itself without an observer, else a counting writer
// over w.
func (m *meter) writer(w io.Writer) io.Writer {
	if m == nil {
		return w
	}
	if m.w == nil {
		m.lastAt = time.Now()
		m.fn(ProgressEvent{Phase: PhaseTransferring, MessageID: m.id, Total: m.total})
	}
	m.w = w
	return m
}

// Write writes p to the wrapped writer in pieces of at most progressBytes,
// so that a large BDAT chunk on a slow link still shows progress, and
// reports the count at most every progressBytes or progressEvery.
func (m *meter) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		q := p
		if len(q) > progressBytes {
			q = q[:progressBytes]
		}
		n, err := m.w.Write(q)
		if err == nil && n < len(q) {
			err = io.ErrShortWrite
		}
		done += n
		m.n += int64(n)
		if m.n-m.last >= progressBytes || time.Since(m.lastAt) >= progressEvery {
			m.last, m.lastAt = m.n, time.Now()
			m.report(PhaseTransferring)
		}
		if err != nil {
			return done, err
		}
		p = p[n:]
	}
	return done, nil
}

// finish reports the final count (Written == Total) and PhaseDone after
// the server accepted the message; nothing after a failure.
func (m *meter) finish(res *Result, err error) {
	if m == nil || err != nil || res == nil {
		return
	}
	m.n, m.total = res.Size, res.Size
	m.report(PhaseTransferring)
	m.report(PhaseDone)
}

// sendMetered runs sendLocked with a meter for Config.Progress (none when
// it is nil) and reports the end of a successful send.
func (c *Client) sendMetered(ctx context.Context, env Envelope, msg io.Reader) (*Result, error) {
	c.prog = newMeter(c.cfg.Progress, &env)
	res, err := c.sendLocked(ctx, env, msg)
	c.prog.finish(res, err)
	c.prog = nil
	return res, err
}

// progress returns cfg.Progress; a nil Config has none.
func (cfg *Config) progress() func(ProgressEvent) {
	if cfg == nil {
		return nil
	}
	return cfg.Progress
}
