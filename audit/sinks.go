package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrQueueFull is returned (wrapped) by an Async sink whose queue is full.
// Under FailOpen the Handler counts it in Stats.Dropped.
var ErrQueueFull = errors.New("audit: queue full, record dropped")

// ErrClosed is returned by a sink that was closed.
var ErrClosed = errors.New("audit: sink closed")

// A SinkError is the failure of one named sink.
type SinkError struct {
	Sink string // "file", "syslog", "eventlog" or the name given to Named
	Err  error
}

func (e *SinkError) Error() string { return "audit: " + e.Sink + ": " + trimPrefix(e.Err.Error()) }
func (e *SinkError) Unwrap() error { return e.Err }

func trimPrefix(s string) string {
	const p = "audit: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// Named wraps sink so its failures are *SinkError values carrying name.
func Named(name string, sink Sink) Sink { return &named{name: name, Sink: sink} }

type named struct {
	name string
	Sink
}

func (n *named) Write(ctx context.Context, e *Entry) error {
	if a, ok := n.Sink.(*Async); ok {
		// Async names the failures it reports later itself: no copy of
		// the entry with a wrapped report.
		return n.wrap(a.write(ctx, e, n, false))
	}
	inner := *e
	inner.h = nil
	if e.h != nil || e.report != nil {
		inner.report = func(err error) { e.reportErr(n.wrap(err)) }
	}
	return n.wrap(n.Sink.Write(ctx, &inner))
}

// lends: a named Async takes entries on loan (Async copies what it
// queues); other sinks may keep what they are given.
func (n *named) lends() bool {
	_, ok := n.Sink.(*Async)
	return ok
}

func (n *named) writeLoan(ctx context.Context, e *Entry) error {
	return n.wrap(n.Sink.(*Async).write(ctx, e, n, true))
}

func (n *named) writeLoans(ctx context.Context, es []*Entry, errs []error) {
	n.Sink.(*Async).writeLoansNamed(ctx, es, n, errs)
	for i, err := range errs {
		errs[i] = n.wrap(err)
	}
}

func (n *named) gathers() bool {
	a, ok := n.Sink.(*Async)
	return ok && a.gathers()
}

func (n *named) writeBatch(items []asyncItem, errs []error) {
	n.Sink.(batchWriter).writeBatch(items, errs)
	for i, err := range errs {
		errs[i] = n.wrap(err)
	}
}

func (n *named) local() bool { return n.Sink.(batchWriter).local() }

func (n *named) inline() bool { return n.Sink.(batchWriter).inline() }

func (n *named) wrap(err error) error {
	if err == nil {
		return nil
	}
	return &SinkError{Sink: n.name, Err: err}
}

func (n *named) Close() error { return n.wrap(n.Sink.Close()) }

func (n *named) Sync(ctx context.Context) error {
	if s, ok := n.Sink.(Syncer); ok {
		return n.wrap(s.Sync(ctx))
	}
	return nil
}

func (n *named) Settle(ctx context.Context) error { return n.wrap(settle(ctx, n.Sink)) }

// Multi returns a Sink that writes every entry to each of sinks in turn. A
// failing sink does not keep the entry from the others; Write returns the
// failures joined with errors.Join (nil when all succeeded). Close closes
// every sink, Sync syncs every Syncer.
func Multi(sinks ...Sink) Sink {
	if len(sinks) == 1 {
		return sinks[0]
	}
	return multi(append([]Sink(nil), sinks...))
}

type multi []Sink

func (m multi) Write(ctx context.Context, e *Entry) error {
	var errs []error
	for _, s := range m {
		if err := s.Write(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m multi) Close() error {
	var errs []error
	for _, s := range m {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m multi) Sync(ctx context.Context) error {
	var errs []error
	for _, s := range m {
		if y, ok := s.(Syncer); ok {
			if err := y.Sync(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (m multi) Settle(ctx context.Context) error {
	var errs []error
	for _, s := range m {
		if err := settle(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Async is a Sink that hands entries to another sink from a goroutine, so a
// slow sink (a syslog server over TCP, a file on a slow disk) delays the
// caller by at most the time to queue an entry. The queue is bounded: when
// it is full Write returns ErrQueueFull at once and the entry is lost, which
// the Handler turns into an error (FailClosed) or a counted drop (FailOpen).
// A failure of the wrapped sink after Write returned is reported through the
// Entry to the Handler that made it (before Sync returns), or, for an entry
// that did not come from a Handler, returned by the next Sync.
//
// The goroutine writes an entry as soon as it is queued, never waiting for
// more; when it finds several queued (they came while it was writing), it
// takes them all (up to maxBatch) and, when the sink is a File (alone,
// Named, or chained to syslog), has them written as one block: one write,
// and under SyncEvery one fsync and anchor update, for the lot (group
// commit). Each entry is still reported written only once its line is
// written (and fsynced under SyncEvery); a block that fails fails every
// entry in it. In front of a File that is not chained to syslog, a Sync
// that finds entries queued and no write under way writes them itself, the
// same way, rather than wake the goroutine and wait for it. In front of a
// File that does not fsync every record (SyncInterval, SyncNone), a Write
// that finds nothing queued and no write under way writes its entry
// itself and returns its outcome: a system call in the caller instead of
// a hand-off to the goroutine, whose wake-up costs more than the write.
// Entries that come while it writes are queued and written by the
// goroutine after it, in order.
type Async struct {
	sink   Sink
	batch  batchWriter // sink, when it writes blocks
	local  bool        // a Sync may write the queued entries itself
	inline bool        // a Write may write its entry itself when the queue is idle
	size   int

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []asyncItem // oldest first
	writing bool        // a batch is out of the queue, being written
	pending int         // queued or being written
	queued  uint64      // entries accepted, ever
	written uint64      // entries written (or failed), ever, in queue order
	err     error       // first background failure since the last Sync
	closed  bool
	batches uint64 // batches written, for tests

	// cur and errs are the batch being written and its results: used by
	// the writer only.
	cur  []asyncItem
	errs []error

	kick chan struct{} // wakes the goroutine
	done chan struct{}
}

type asyncItem struct {
	ctx  context.Context
	e    *Entry
	name *named // names the entry's failures, when Async is a named sink
}

// maxBatch is the most entries Async hands to its sink at once.
const maxBatch = 64

// A batchWriter is a Sink that can write several entries as one block (the
// File, and the wrappers around one). writeBatch writes items in order and
// sets errs[i] to the outcome of items[i]; it is called by one Async writer
// at a time.
type batchWriter interface {
	writeBatch(items []asyncItem, errs []error)
	// local reports whether a write stays on this machine (a File, not
	// a File chained to syslog): Async lets a Sync waiting for it write
	// the batch itself.
	local() bool
	// inline reports whether a write is local and never waits for the
	// disk (a File that does not fsync every record): Async lets Write
	// make it in the caller when nothing else is queued or being
	// written.
	inline() bool
}

var (
	_ batchWriter = (*File)(nil)
	_ batchWriter = (*named)(nil)
	_ batchWriter = (*chained)(nil)
)

// NewAsync starts an Async sink in front of sink with room for size queued
// entries; size < 1 means DefaultQueue. Close drains the queue, then closes sink.
func NewAsync(sink Sink, size int) *Async {
	a := newAsync(sink, size)
	go a.run()
	return a
}

// newAsync is NewAsync without starting the goroutine (a test starts it
// with entries queued, to have them written as one batch).
func newAsync(sink Sink, size int) *Async {
	if size < 1 {
		size = DefaultQueue
	}
	a := &Async{sink: sink, size: size, kick: make(chan struct{}, 1), done: make(chan struct{})}
	if b, ok := sink.(batchWriter); ok && canBatch(sink) {
		a.batch = b
		a.local = b.local()
		a.inline = b.inline()
	}
	a.cond = sync.NewCond(&a.mu)
	return a
}

// canBatch reports whether sink, a batchWriter, has a File at its end
// (named passes batches on only to a sink that takes them).
func canBatch(sink Sink) bool {
	if n, ok := sink.(*named); ok {
		_, ok := n.Sink.(batchWriter)
		return ok && canBatch(n.Sink)
	}
	return true
}

func (a *Async) run() {
	defer close(a.done)
	for range a.kick {
		a.mu.Lock()
		for a.writeLocked() {
		}
		stop := a.closed && len(a.queue) == 0 && !a.writing
		a.mu.Unlock()
		if stop {
			return
		}
	}
}

// writeLocked takes what is queued (up to maxBatch entries) and writes it,
// unless another writer is at work or nothing is queued. It is called with
// a.mu held and returns with it held, having released it while writing. It
// reports whether it wrote anything.
func (a *Async) writeLocked() bool {
	if a.writing || len(a.queue) == 0 {
		return false
	}
	n := 1 // a sink without blocks gets one entry at a time, as it always did
	if a.batch != nil {
		n = min(len(a.queue), maxBatch)
	}
	items := append(a.cur[:0], a.queue[:n]...)
	rest := copy(a.queue, a.queue[n:])
	clear(a.queue[rest:])
	a.queue = a.queue[:rest]
	a.writing = true
	a.errs = grow(a.errs, n)
	errs := a.errs
	a.mu.Unlock()

	if a.batch != nil {
		a.batch.writeBatch(items, errs)
	} else {
		for i, it := range items {
			errs[i] = a.sink.Write(it.ctx, it.e)
		}
	}
	var other error
	for i, it := range items {
		if err := errs[i]; err != nil {
			if it.name != nil {
				err = it.name.wrap(err)
			}
			if !it.e.reportErr(err) && other == nil {
				other = err
			}
		}
	}
	clear(items)
	clear(errs)

	a.mu.Lock()
	a.cur = items[:0]
	if other != nil && a.err == nil {
		a.err = other
	}
	a.writing = false
	a.pending -= n
	a.written += uint64(n)
	a.batches++
	a.cond.Broadcast()
	return true
}

// Write queues e without waiting for the wrapped sink. It returns an error
// wrapping ErrQueueFull when the queue is full and ErrClosed after Close.
func (a *Async) Write(ctx context.Context, e *Entry) error { return a.write(ctx, e, nil, false) }

func (a *Async) lends() bool { return true }

// gathers: a Write may be made in the caller (see writeLoans).
func (a *Async) gathers() bool { return a.inline }

var (
	_ lender = (*Async)(nil)
	_ lender = (*named)(nil)
)

// writeLoan is Write for an entry the caller reuses once it returns: a
// copy is queued, the entry itself only written inline.
func (a *Async) writeLoan(ctx context.Context, e *Entry) error {
	return a.write(ctx, e, nil, true)
}

// writeLoans writes es (see lender): as one block in the caller when the
// queue is idle and the sink takes inline writes, else each queued as
// writeLoan would.
func (a *Async) writeLoans(ctx context.Context, es []*Entry, errs []error) {
	a.writeLoansNamed(ctx, es, nil, errs)
}

// writeLoansNamed is writeLoans for the named sink name (nil when Async is
// not in one).
func (a *Async) writeLoansNamed(ctx context.Context, es []*Entry, name *named, errs []error) {
	ctx = a.entryContext(ctx)
	a.mu.Lock()
	if !a.closed && a.idleInline(len(es)) {
		a.writeInline(ctx, es, errs)
		return
	}
	a.mu.Unlock()
	for i, e := range es {
		errs[i] = a.write(ctx, e, name, true)
	}
}

// entryContext is the context an entry is written with.
func (a *Async) entryContext(ctx context.Context) context.Context {
	switch {
	case a.local:
		// A File does not look at the context.
		return context.Background()
	case ctx.Done() != nil:
		// The record outlives the caller's call: keep its values, not
		// its cancellation.
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// write is Write for the named sink name (nil when Async is not in one);
// loan says e must be copied to be queued.
func (a *Async) write(ctx context.Context, e *Entry, name *named, loan bool) error {
	ctx = a.entryContext(ctx)
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	if len(a.queue) >= a.size {
		a.mu.Unlock()
		return fmt.Errorf("%w (%d entries queued)", ErrQueueFull, a.size)
	}
	if a.idleInline(1) {
		var err [1]error
		a.writeInline(ctx, []*Entry{e}, err[:])
		return err[0]
	}
	if loan {
		e = e.clone()
	}
	a.queue = append(a.queue, asyncItem{ctx: ctx, e: e, name: name})
	a.pending++
	a.queued++
	a.mu.Unlock()
	a.wake()
	return nil
}

// idleInline reports, with a.mu held, whether n entries may be written in
// the caller (writeInline): the sink takes inline writes, nothing is
// queued or being written, and they fit in one batch.
func (a *Async) idleInline(n int) bool {
	return a.inline && !a.writing && len(a.queue) == 0 && n <= maxBatch
}

// writeInline writes es in the caller as one block, the one writer at
// work, setting errs[i] to the outcome of es[i]: called with a.mu held
// when nothing is queued or being written, it returns with a.mu released
// (entries queued meanwhile wait for it and are then written by the
// goroutine, in order). A record is then in the file when Write returns,
// without a hand-off to the goroutine and back; the write is what the
// goroutine would have made.
func (a *Async) writeInline(ctx context.Context, es []*Entry, errs []error) {
	n := len(es)
	a.writing = true
	a.pending += n
	a.queued += uint64(n)
	// The writer's batch slices, free while nobody else writes.
	items := a.cur[:0]
	for _, e := range es {
		items = append(items, asyncItem{ctx: ctx, e: e})
	}
	a.errs = grow(a.errs, n)
	werrs := a.errs
	a.mu.Unlock()

	a.batch.writeBatch(items, werrs)
	copy(errs, werrs)
	clear(items)
	clear(werrs)

	a.mu.Lock()
	a.cur = items[:0]
	a.writing = false
	a.pending -= n
	a.written += uint64(n)
	a.cond.Broadcast()
	more := len(a.queue) > 0 || a.closed
	a.mu.Unlock()
	if more {
		// Entries came while these were written (or Close is waiting):
		// hand them to the goroutine.
		a.wake()
	}
}

// wake makes the goroutine look at the queue.
func (a *Async) wake() {
	select {
	case a.kick <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Sync waits until every entry queued so far was written (or ctx is done),
// then syncs the wrapped sink if it is a Syncer. Failures of entries made by
// a Handler were already reported to it; Sync returns the first other
// background failure since the previous Sync, or the sync's failure.
func (a *Async) Sync(ctx context.Context) error {
	if err := a.drain(ctx); err != nil {
		return err
	}
	if s, ok := a.sink.(Syncer); ok {
		return s.Sync(ctx)
	}
	return nil
}

// Settle waits for the queue to drain and settles the sink (see Settler).
func (a *Async) Settle(ctx context.Context) error {
	if err := a.drain(ctx); err != nil {
		return err
	}
	return settle(ctx, a.sink)
}

// drain waits until every entry queued before the call was handed to the
// sink and returns the first failure since the last drain.
//
// When the sink is local (a File) and no write is under way, the caller
// writes what is queued itself rather than waking the goroutine and waiting
// for it (it would wait for that write anyway): the same batch, written the
// same way, without two goroutine switches per Sync.
func (a *Async) drain(ctx context.Context) error {
	a.mu.Lock()
	target := a.queued
	wrote := false
	var stop func() bool
	for a.written < target && ctx.Err() == nil {
		if a.local && a.writeLocked() {
			wrote = true
			continue
		}
		if stop == nil && ctx.Done() != nil {
			stop = context.AfterFunc(ctx, func() {
				a.mu.Lock()
				a.cond.Broadcast()
				a.mu.Unlock()
			})
			defer stop()
		}
		a.cond.Wait()
	}
	if wrote && (len(a.queue) > 0 || a.closed) {
		// The goroutine may have looked while this caller was writing and
		// gone back to sleep: hand it the rest (or let it end).
		a.wake()
	}
	err := a.err
	a.err = nil
	a.mu.Unlock()
	if ctx.Err() != nil {
		return fmt.Errorf("audit: waiting for queued records: %w", ctx.Err())
	}
	return err
}

// Len returns the number of entries queued or being written.
func (a *Async) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pending
}

// Close stops accepting entries, waits for the queued ones to be written and
// closes the wrapped sink.
func (a *Async) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	a.wake()
	<-a.done
	return a.sink.Close()
}

// chained writes each entry to a File and then hands it, with the seq and
// hash the File gave it (chain_seq, chain_hash), to the next sink, so that
// sink (syslog) carries the trail's head as it grows: an anchor outside the
// files. A failing File does not keep the entry from next (without chain
// members then).
type chained struct {
	file *File
	next Sink
	res  []fileResult // writeBatch's, used by one writer at a time
}

// local is false: the syslog write goes over the network.
func (c *chained) local() bool { return false }

// inline is false: the syslog write goes over the network.
func (c *chained) inline() bool { return false }

// writeBatch writes items to the File as one block (see File.writeEntries),
// then each to next with its chain members.
func (c *chained) writeBatch(items []asyncItem, errs []error) {
	c.res = grow(c.res, len(items))
	c.file.writeEntries(items, c.res)
	for i, it := range items {
		r := c.res[i]
		var ferr error
		if r.err != nil {
			ferr = &SinkError{Sink: "file", Err: r.err}
		}
		inner := *it.e
		inner.chainSeq, inner.chainHash = r.seq, r.sum
		errs[i] = errors.Join(ferr, c.next.Write(it.ctx, &inner))
	}
	clear(c.res)
}

func (c *chained) Write(ctx context.Context, e *Entry) error {
	seq, sum, ferr := c.file.write(e)
	if ferr != nil {
		ferr = &SinkError{Sink: "file", Err: ferr}
	}
	inner := *e
	inner.chainSeq, inner.chainHash = seq, sum
	return errors.Join(ferr, c.next.Write(ctx, &inner))
}

func (c *chained) Close() error {
	var ferr error
	if err := c.file.Close(); err != nil {
		ferr = &SinkError{Sink: "file", Err: err}
	}
	return errors.Join(ferr, c.next.Close())
}

func (c *chained) Settle(ctx context.Context) error {
	var ferr error
	if err := c.file.Settle(ctx); err != nil {
		ferr = &SinkError{Sink: "file", Err: err}
	}
	return errors.Join(ferr, settle(ctx, c.next))
}

func (c *chained) Sync(ctx context.Context) error {
	var ferr, nerr error
	if err := c.file.Sync(ctx); err != nil {
		ferr = &SinkError{Sink: "file", Err: err}
	}
	if s, ok := c.next.(Syncer); ok {
		nerr = s.Sync(ctx)
	}
	return errors.Join(ferr, nerr)
}
