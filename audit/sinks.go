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
	inner := *e
	if e.report != nil {
		inner.report = func(err error) { e.report(n.wrap(err)) }
	}
	return n.wrap(n.Sink.Write(ctx, &inner))
}

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
type Async struct {
	sink  Sink
	queue chan asyncItem

	mu      sync.Mutex
	cond    *sync.Cond
	pending int   // queued or being written
	err     error // first background failure since the last Sync
	closed  bool
	done    chan struct{}
}

type asyncItem struct {
	ctx context.Context
	e   *Entry
}

// NewAsync starts an Async sink in front of sink with room for size queued
// entries; size < 1 means DefaultQueue. Close drains the queue, then closes sink.
func NewAsync(sink Sink, size int) *Async {
	if size < 1 {
		size = DefaultQueue
	}
	a := &Async{sink: sink, queue: make(chan asyncItem, size), done: make(chan struct{})}
	a.cond = sync.NewCond(&a.mu)
	go a.run()
	return a
}

func (a *Async) run() {
	defer close(a.done)
	for it := range a.queue {
		err := a.sink.Write(it.ctx, it.e)
		report := err != nil && it.e.report != nil
		if report {
			it.e.report(err)
		}
		a.mu.Lock()
		if err != nil && !report && a.err == nil {
			a.err = err
		}
		a.pending--
		a.cond.Broadcast()
		a.mu.Unlock()
	}
}

// Write queues e without waiting for the wrapped sink. It returns an error
// wrapping ErrQueueFull when the queue is full and ErrClosed after Close.
func (a *Async) Write(ctx context.Context, e *Entry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	// The record outlives the caller's call: keep its values, not its
	// cancellation.
	it := asyncItem{ctx: context.WithoutCancel(ctx), e: e}
	select {
	case a.queue <- it:
		a.pending++
		return nil
	default:
		return fmt.Errorf("%w (%d entries queued)", ErrQueueFull, cap(a.queue))
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

// drain waits until every queued entry was handed to the sink and returns
// the first failure since the last drain.
func (a *Async) drain(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		a.mu.Lock()
		a.cond.Broadcast()
		a.mu.Unlock()
	})
	defer stop()
	a.mu.Lock()
	for a.pending > 0 && ctx.Err() == nil {
		a.cond.Wait()
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
	close(a.queue)
	a.mu.Unlock()
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
