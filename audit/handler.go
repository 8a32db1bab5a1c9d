package audit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// An Entry is one audit record as the Handler encoded it, handed to every
// Sink. An Entry is immutable once built and may be kept by a Sink after
// Write returns (the Async sink does).
type Entry struct {
	// Time is the record's time (the time it was handled when the slog
	// record carried none).
	Time time.Time
	// Level is the record's slog level.
	Level slog.Level
	// Msg is the record's message, e.g. "smtp.send".
	Msg string

	// members is the JSON object body without its braces:
	// "time":...,"level":...,"msg":...,<attributes>.
	members []byte
	// h is the Handler that made the entry: it receives the failure of a
	// write a Sink finished after its Write returned (see Async), unless
	// report is set, which then does.
	h      *Handler
	report func(error)
	// chainSeq and chainHash are the File sink's seq and hash of this
	// record, set on the copy a chained sink hands on to syslog (0 when
	// the record is not in the file).
	chainSeq  uint64
	chainHash [32]byte
}

// JSON returns the entry as a JSON object: time, level, msg and the
// attributes, without seq, prev or hash (those belong to the File sink's
// chain). The result is ASCII only and holds no newline.
func (e *Entry) JSON() []byte {
	b := make([]byte, 0, len(e.members)+2)
	b = append(b, '{')
	b = append(b, e.members...)
	return append(b, '}')
}

// reportErr hands the failure of a write finished after Write returned to
// whoever made the entry; it reports false when nobody listens.
func (e *Entry) reportErr(err error) bool {
	switch {
	case e.report != nil:
		e.report(err)
	case e.h != nil:
		e.h.fail(err)
	default:
		return false
	}
	return true
}

// appendMembers appends the entry's members (no braces) to dst.
func (e *Entry) appendMembers(dst []byte) []byte { return append(dst, e.members...) }

// A Sink stores entries: a File, a Syslog connection, the Windows Event Log,
// or a combination (Multi, Async). Write must be safe for concurrent use. A
// Sink that finishes a write after Write returned (Async) reports a failure
// through the Entry it was given; the Handler takes care of that.
type Sink interface {
	Write(ctx context.Context, e *Entry) error
	Close() error
}

// A Syncer is a Sink that can be asked to finish what it has accepted: Async
// waits for its queue to drain, File flushes to stable storage. Handler.Wait
// calls it.
type Syncer interface {
	Sync(ctx context.Context) error
}

// A Settler is a Syncer that can also finish what it has accepted only as
// far as its own durability policy promises: a File under SyncInterval or
// SyncNone has its records written to the operating system already and
// does not fsync them on Settle (its Sync does, whatever the policy).
// Handler.Wait calls Settle when the sink has it, so a profile that chose
// not to fsync every record does not pay for two fsyncs per send.
type Settler interface {
	Settle(ctx context.Context) error
}

// settle calls s's Settle, or its Sync when it has no Settle.
func settle(ctx context.Context, s Sink) error {
	if t, ok := s.(Settler); ok {
		return t.Settle(ctx)
	}
	if y, ok := s.(Syncer); ok {
		return y.Sync(ctx)
	}
	return nil
}

// Policy says what a sink failure does to the caller.
type Policy int

const (
	// FailClosed, the zero value and default, hands every sink failure to
	// the caller: Handle returns it, Record returns it, and the Handler (and
	// each tracker made with Track) remembers it for Err and Wait. A sender
	// uses it to refuse a send whose audit record cannot be written.
	FailClosed Policy = iota
	// FailOpen counts a failure (Stats), passes it to Options.OnError and
	// otherwise carries on: Handle, Record and Wait return nil.
	FailOpen
)

func (p Policy) String() string {
	switch p {
	case FailClosed:
		return "fail-closed"
	case FailOpen:
		return "fail-open"
	}
	return "Policy(?)"
}

// Options configures a Handler. The zero value is usable: level Info,
// fail-closed, no extra secret keys.
type Options struct {
	// Level is the minimum level recorded; nil means slog.LevelInfo.
	Level slog.Leveler
	// Policy is what a sink failure does; the zero value is FailClosed.
	Policy Policy
	// OnError, when set, is called with every sink failure (under both
	// policies), including queue overflows. It must not block and must not
	// log through the same Handler.
	OnError func(error)
	// Secret, when set, marks extra attribute keys as secret in addition to
	// IsSecretKey.
	Secret func(key string) bool
	// Now is the clock used for records without a time; nil means time.Now.
	Now func() time.Time
}

// Stats counts what happened to the records a Handler was given.
type Stats struct {
	// Records is the number of records handed to the sink.
	Records uint64
	// Failed is the number of sink failures, overflows excluded.
	Failed uint64
	// Dropped is the number of records an Async queue refused because it
	// was full.
	Dropped uint64
}

// core is shared by a Handler and every Handler derived from it.
type core struct {
	sink   Sink
	opts   Options
	enc    encoder
	policy Policy
	// lend is sink when it takes entries on loan (see lender): then
	// records are encoded into pooled entries.
	lend lender
	// gather says lend writes several loaned entries as one block in the
	// caller (see Hold).
	gather bool

	records, failed, dropped atomic.Uint64

	mu  sync.Mutex
	err error // first failure under FailClosed

	closeOnce sync.Once
	closeErr  error
}

// tracker remembers the first failure of the records handled through it,
// and holds them until the next Wait when asked to (see Hold).
type tracker struct {
	mu   sync.Mutex
	err  error
	hold bool
	held []*Entry // encoded records waiting for Wait, oldest first
	buf  [4]*Entry
	errs [4]error // the outcomes of up to four held records
}

// keep holds e when the tracker holds records, and reports whether it did.
func (t *tracker) keep(e *Entry) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.hold {
		return false
	}
	t.held = append(t.held, e)
	return true
}

// take ends holding and returns the records held.
func (t *tracker) take() []*Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	es := t.held
	t.held, t.hold = nil, false
	return es
}

func (t *tracker) set(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
}

func (t *tracker) get() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// A Handler is a slog.Handler that turns records into audit entries and
// writes them to a Sink. It is safe for concurrent use.
//
// Every entry is a JSON object with time (UTC, microseconds), level, msg and
// all attributes: groups become nested objects (empty groups are left out),
// slog.LogValuer values are resolved first, slog.Any values are marshalled
// with encoding/json (errors as their message). Any attribute whose key
// IsSecretKey (or Options.Secret) is written as Redacted whatever its value,
// at any depth, including keys inside JSON marshalled from slog.Any values. A
// value that redacts itself (authmech.Secret, through its LogValue and
// MarshalText methods) is resolved before that check, so it is safe under any
// key. docs/audit-fields.md lists the field names.
//
// Because slog.Logger discards the error a Handler returns, a caller that
// must know whether its records were written (fail-closed) uses Record, or
// Track and then Wait or Err.
type Handler struct {
	c     *core
	goas  []groupOrAttrs
	flat  bool // no group in goas
	track *tracker
}

type groupOrAttrs struct {
	group string
	attrs []slog.Attr
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a Handler writing to sink. A nil opts is the zero
// Options. The Handler owns sink: Close closes it.
func NewHandler(sink Sink, opts *Options) *Handler {
	c := &core{sink: sink}
	if opts != nil {
		c.opts = *opts
	}
	c.policy = c.opts.Policy
	c.enc = encoder{secret: c.opts.Secret}
	if l, ok := sink.(lender); ok && l.lends() {
		c.lend = l
		c.gather = l.gathers()
	}
	return &Handler{c: c, flat: true}
}

// Enabled reports whether level is at least Options.Level.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	min := slog.LevelInfo
	if h.c.opts.Level != nil {
		min = h.c.opts.Level.Level()
	}
	return level >= min
}

// WithAttrs returns a Handler whose entries carry attrs, inside the groups
// opened so far. It shares h's sink, statistics and tracker.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(groupOrAttrs{attrs: attrs})
}

// WithGroup returns a Handler that nests later attributes under name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(groupOrAttrs{group: name})
}

func (h *Handler) with(g groupOrAttrs) *Handler {
	h2 := *h
	h2.goas = make([]groupOrAttrs, len(h.goas)+1)
	copy(h2.goas, h.goas)
	h2.goas[len(h.goas)] = g
	h2.flat = h.flat && g.group == ""
	return &h2
}

// Track returns a Handler like h that also remembers the first failure of
// the records handled through it or through Handlers derived from it (with
// WithAttrs, WithGroup or slog.Logger.With). Err and Wait on the returned
// Handler report that failure only, so one send learns about its own
// records, not another's. Under FailOpen nothing is remembered.
func (h *Handler) Track() *Handler {
	// One allocation for both (one per send).
	t := &struct {
		h Handler
		t tracker
	}{h: *h}
	t.h.track = &t.t
	return &t.h
}

// Hold makes the records handled through h's tracker (h made by Track, or
// derived from it) wait, encoded, until the next Wait, which writes them
// together and ends holding: the records a send makes after its intent
// record cost one write to the file instead of one each. Their order and
// times are those they were handled at.
//
// Hold does so only where that write would otherwise be made at once in
// the caller: an Async queue in front of a File that does not fsync every
// record (SyncInterval, SyncNone), alone or Named. Elsewhere (SyncEvery,
// syslog, several sinks) it does nothing, and records are written as they
// come. Under Hold, Handle and Record return nil for a held record; its
// failure is reported by Wait. Records held are written by Wait only: a
// caller that holds must call Wait, or they are lost (also when the
// process ends before it).
func (h *Handler) Hold() {
	if h.track == nil || !h.c.gather {
		return
	}
	h.track.mu.Lock()
	h.track.hold = true
	if h.track.held == nil {
		h.track.held = h.track.buf[:0]
	}
	h.track.mu.Unlock()
}

// Handle encodes r and writes it to the sink. Under FailClosed it returns
// the sink's error (which the Handler and its tracker also remember); under
// FailOpen it returns nil after counting the failure and passing it to
// Options.OnError.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	return h.handle(ctx, r, nil)
}

// HandleWith handles r as h.WithAttrs(attrs).Handle(ctx, r) would: the
// entry has h's attributes, then attrs, then r's, and is written and
// tracked the same way; but no Handler is derived, so a caller that adds
// per-call attributes to every record (a sender's scope) does not
// allocate one per record. r is not retained.
func (h *Handler) HandleWith(ctx context.Context, r slog.Record, attrs []slog.Attr) error {
	if !h.flat && len(attrs) > 0 {
		// Inside a group: attrs belong in it (what WithAttrs does).
		// (attrs copied: the caller's slice is not retained.)
		return h.with(groupOrAttrs{attrs: slices.Clone(attrs)}).handle(ctx, r, nil)
	}
	return h.handle(ctx, r, attrs)
}

// handle is Handle with attributes after h's (h is flat when pre is set).
func (h *Handler) handle(ctx context.Context, r slog.Record, pre []slog.Attr) error {
	var err error
	if h.c.lend != nil {
		// The sink copies the entry if it keeps it: encode into a pooled
		// one, and take it back.
		e := loanEntries.Get().(*Entry)
		h.fill(e, r, pre)
		h.c.records.Add(1)
		e.h = h
		if h.track != nil && h.c.gather && h.track.keep(e) {
			return nil // written by Wait
		}
		err = h.c.lend.writeLoan(ctx, e)
		putLoan(e)
	} else {
		e := h.entry(r, pre)
		h.c.records.Add(1)
		e.h = h
		err = h.c.sink.Write(ctx, e)
	}
	if err == nil {
		return nil
	}
	return h.fail(err)
}

// A lender is a Sink that can take an Entry on loan: writeLoan writes e as
// Write would, but e (and its members) may be reused once it returns, so
// the sink copies it if it keeps it (Async queueing it, see clone). lends
// reports whether the sink can (a named sink can when it wraps an Async).
//
// writeLoans writes es in order as writeLoan would each, setting errs[i]
// to the outcome of es[i]; gathers reports whether it writes them as one
// block in the caller when it can (an Async in front of a File that does
// not fsync every record: see Async and Handler.Hold).
type lender interface {
	writeLoan(ctx context.Context, e *Entry) error
	writeLoans(ctx context.Context, es []*Entry, errs []error)
	lends() bool
	gathers() bool
}

// loanEntries are the entries records are encoded into for a lender.
var loanEntries = sync.Pool{New: func() any { return &Entry{members: make([]byte, 0, 2048)} }}

// putLoan gives a loaned entry back once its sink is done with it.
func putLoan(e *Entry) {
	if cap(e.members) <= 64<<10 { // keep no huge buffer for later records
		*e = Entry{members: e.members[:0]}
		loanEntries.Put(e)
	}
}

// writeHeld writes the records t held (see Hold) as one block where the
// sink can, and reports each failure to the Handler that made the record.
func (h *Handler) writeHeld(ctx context.Context, t *tracker) {
	es := t.take()
	if len(es) == 0 {
		return
	}
	// Only Wait's caller uses the tracker's errs (holding has ended).
	errs := t.errs[:0]
	if len(es) > len(t.errs) {
		errs = make([]error, 0, len(es))
	}
	errs = errs[:len(es)]
	h.c.lend.writeLoans(ctx, es, errs)
	for i, e := range es {
		if errs[i] != nil {
			e.h.fail(errs[i])
		}
		putLoan(e)
	}
	clear(errs)
}

// clone returns a copy of e that owns its members.
func (e *Entry) clone() *Entry {
	c := *e
	c.members = bytes.Clone(e.members)
	return &c
}

// fail applies the policy to err and returns what the caller gets.
func (h *Handler) fail(err error) error {
	if errors.Is(err, ErrQueueFull) {
		h.c.dropped.Add(1)
	} else {
		h.c.failed.Add(1)
	}
	if h.c.opts.OnError != nil {
		h.c.opts.OnError(err)
	}
	if h.c.policy == FailOpen {
		return nil
	}
	h.c.mu.Lock()
	if h.c.err == nil {
		h.c.err = err
	}
	h.c.mu.Unlock()
	if h.track != nil {
		h.track.set(err)
	}
	return err
}

// Record writes one entry with the given level, message and attributes and
// returns what Handle returned: under FailClosed the sink's error, under
// FailOpen nil. It is the path a sender uses for records it must not lose,
// for example an intent record written before DATA.
func (h *Handler) Record(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if !h.Enabled(ctx, level) {
		return nil
	}
	// No caller's PC: Handle is called directly, and an entry has no
	// source.
	r := slog.NewRecord(h.now(), level, msg, 0)
	r.AddAttrs(attrs...)
	return h.Handle(ctx, r)
}

// Err returns the first failure remembered: for a Handler made by Track,
// the first failure of its own records; otherwise the first failure of any
// record since the Handler was made. It is always nil under FailOpen.
func (h *Handler) Err() error {
	if h.track != nil {
		return h.track.get()
	}
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return h.c.err
}

// Wait asks the sink to finish what it accepted (an Async queue drains, a
// File's records are on disk as its Sync policy says: fsynced under
// SyncEvery, written under SyncInterval and SyncNone) and then returns
// Err. Records h's tracker held (see Hold) are written first. Under
// FailOpen a failure to sync is counted and reported like any other, and
// Wait returns nil.
func (h *Handler) Wait(ctx context.Context) error {
	if h.track != nil && h.c.gather {
		h.writeHeld(ctx, h.track)
	}
	if _, ok := h.c.sink.(Syncer); ok {
		if err := settle(ctx, h.c.sink); err != nil {
			if ctx.Err() != nil {
				return err
			}
			if err := h.fail(err); err != nil {
				return err
			}
		}
	}
	return h.Err()
}

// Stats returns the counters shared by h and all Handlers derived from it.
func (h *Handler) Stats() Stats {
	return Stats{Records: h.c.records.Load(), Failed: h.c.failed.Load(), Dropped: h.c.dropped.Load()}
}

// Close closes the sink (a File writes its seal record). Closing a derived
// Handler closes the shared sink; later calls return the first result.
func (h *Handler) Close() error {
	h.c.closeOnce.Do(func() { h.c.closeErr = h.c.sink.Close() })
	return h.c.closeErr
}

func (h *Handler) now() time.Time {
	if h.c.opts.Now != nil {
		return h.c.opts.Now()
	}
	return time.Now()
}

// entry encodes r with the handler's attributes and groups, and then pre
// (only when h is flat: no group open), into a new Entry a sink may keep:
// encoded in a pooled entry, then copied at its size.
func (h *Handler) entry(r slog.Record, pre []slog.Attr) *Entry {
	l := loanEntries.Get().(*Entry)
	h.fill(l, r, pre)
	e := l.clone()
	putLoan(l)
	return e
}

// fill encodes r (see entry) into e: its time, level and message, and its
// members, written over e.members (its array reused).
func (h *Handler) fill(e *Entry, r slog.Record, pre []slog.Attr) {
	b := e.members[:0]
	t := r.Time
	if t.IsZero() {
		t = h.now()
	}
	t = t.UTC()
	b = append(b, `"time":"`...)
	b = appendTimeUTC(b, t) // digits, '-', ':', '.', 'T', 'Z': nothing to escape
	b = append(b, `","level":`...)
	b = appendString(b, r.Level.String())
	b = append(b, `,"msg":`...)
	msg := r.Message
	if msg == MsgOpen || msg == MsgSeal {
		// Only the File sink writes these; keep a caller from faking one.
		msg = "x_" + msg
	}
	b = appendString(b, msg)

	if h.flat {
		// No group opened: the attributes of WithAttrs, then the record's,
		// all at the top level: what nest would give, without building it.
		for _, g := range h.goas {
			b, _ = h.c.enc.appendAttrs(b, g.attrs, true, true)
		}
		b, _ = h.c.enc.appendAttrs(b, pre, true, true)
		r.Attrs(func(a slog.Attr) bool {
			b, _ = h.c.enc.appendAttr(b, a, true, true)
			return true
		})
	} else {
		var rec []slog.Attr
		if r.NumAttrs() > 0 {
			rec = make([]slog.Attr, 0, r.NumAttrs())
			r.Attrs(func(a slog.Attr) bool {
				rec = append(rec, a)
				return true
			})
		}
		b, _ = h.c.enc.appendAttrs(b, nest(h.goas, rec), true, true)
	}
	e.Time, e.Level, e.Msg, e.members = t, r.Level, msg, b
}

// nest builds the attribute tree: the attributes added with WithAttrs in
// order, each group opened with WithGroup containing everything after it,
// and the record's own attributes in the innermost group.
func nest(goas []groupOrAttrs, rec []slog.Attr) []slog.Attr {
	var out []slog.Attr
	for i, g := range goas {
		if g.group != "" {
			inner := nest(goas[i+1:], rec)
			if len(inner) > 0 {
				out = append(out, slog.Attr{Key: g.group, Value: slog.GroupValue(inner...)})
			}
			return out
		}
		out = append(out, g.attrs...)
	}
	return append(out, rec...)
}
