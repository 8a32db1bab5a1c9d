package outbox

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"mailwarden/internal/robustio"
)

// An Envelope is the SMTP envelope of a queued message.
type Envelope struct {
	From      string   // MAIL FROM; "" is the null reverse path
	To        []string // RCPT TO, at least one
	SMTPUTF8  bool     // the message needs SMTPUTF8
	MessageID string   // the Message-ID header without angle brackets, for events and duplicate detection
	Size      int64    // message size in bytes (set by the Outbox)
}

// An Opener returns a fresh reader over the whole message each time it is
// called; the reader is also an io.Closer, which the Deliverer should
// close. A reader whose message changed on disk fails at its end with an
// error wrapping ErrCorrupt (before io.EOF), so the message is never sent
// altered.
type Opener func() (io.Reader, error)

// A Deliverer sends one message. queueID is the relay's queue id when its
// reply names one. The error decides what happens next (see Temporary).
type Deliverer interface {
	Deliver(ctx context.Context, env Envelope, open Opener) (queueID string, err error)
}

// DelivererFunc adapts a function to the Deliverer interface.
type DelivererFunc func(ctx context.Context, env Envelope, open Opener) (string, error)

// Deliver calls f.
func (f DelivererFunc) Deliver(ctx context.Context, env Envelope, open Opener) (string, error) {
	return f(ctx, env, open)
}

// Config configures an Outbox. Only Dir is required; the zero value of
// every other field is a safe default. A Config must not be modified after
// Open.
type Config struct {
	// Dir is the spool directory; it is created (0700) if missing.
	Dir string
	// Existing opens only a spool that is already there, creating
	// nothing: a missing directory, or a directory that is not a spool
	// (no quarantine directory), is an *Error wrapping ErrNoSpool. For
	// tools that only look at or act on queued entries (list, status,
	// retry, purge), where a mistyped path must not look like an empty
	// queue.
	Existing bool
	// Deliverer sends messages; nil allows everything but Run and
	// RunOnce (for tools that only inspect the spool).
	Deliverer Deliverer
	// Logger receives every state change; nil discards them.
	Logger *slog.Logger

	// MaxBytes and MaxMessages bound the spool (dead entries included);
	// zero means no limit. An Enqueue over a limit fails with ErrFull.
	MaxBytes    int64
	MaxMessages int

	// MaxAge is how long an entry is retried after temporary failures
	// before it is dead-lettered; zero means 24 hours.
	MaxAge time.Duration
	// MinBackoff is the delay after the first temporary failure, doubled
	// after each further one up to MaxBackoff; each delay is jittered to
	// between half and all of it. Zero means 30 seconds and 15 minutes.
	MinBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one delivery attempt; zero means 5 minutes.
	AttemptTimeout time.Duration

	// Concurrency is the number of deliveries (connections to the relay)
	// at once; zero means 1.
	Concurrency int
	// MaxBatch is the most due entries handed at once to a Deliverer that
	// is a BatchDeliverer (a Sender's is: one session, the transactions
	// pipelined); zero or 1 delivers one by one. DefaultMaxBatch is a
	// good value when the relay offers PIPELINING: a drain about 3.4x as
	// fast. Batching is opt-in because the records of a batch's messages
	// interleave: every intent is recorded (fail-closed) before the batch
	// is sent, so a collector that stops mid-batch holds the intents of
	// messages whose send records it never gets.
	MaxBatch int
	// RateLimit is the most messages sent in any RatePeriod (zero RatePeriod
	// means a minute): the worker waits rather than exceed it. Zero means
	// no limit. Exchange Online allows 30 a minute per mailbox.
	RateLimit  int
	RatePeriod time.Duration

	// PollInterval is how often Run looks for due entries when nothing
	// wakes it (entries queued by other processes, retries); zero means 1
	// second.
	PollInterval time.Duration

	// MeterProvider receives the outbox's OpenTelemetry metrics (see
	// Metrics; the same names for every store); nil records none.
	MeterProvider metric.MeterProvider

	// Now, Rand (a float in [0,1) for jitter) and Sleep (for rate pacing)
	// default to the real clock, math/rand/v2 and a timer. Tests inject
	// them.
	Now   func() time.Time
	Rand  func() float64
	Sleep func(ctx context.Context, d time.Duration) error
}

// State is an entry's state.
type State string

// Entry states.
const (
	StateQueued   State = "queued"   // never tried
	StateDeferred State = "deferred" // tried, failed temporarily, will be tried again
	StateDead     State = "dead"     // failed permanently or expired; kept until retried or purged
	// StateDelivered (accepted.go): accepted by the relay, its record pending.
)

// An Entry describes a queued message.
type Entry struct {
	ID          string
	State       State
	Envelope    Envelope
	Created     time.Time
	Attempts    int
	NextAttempt time.Time // zero for dead entries
	LastError   string
	Reason      string // why a dead entry is dead: "permanent" or "expired"
}

// An Outbox is a spool directory and its delivery worker. It is safe for
// concurrent use.
type Outbox struct {
	cfg Config
	dir string
	log *slog.Logger

	mu       sync.Mutex
	cache    map[string]*loaded // verified entry files
	inflight map[string]bool
	sent     map[string]bool      // delivered, but the file could not be removed: never send again
	hold     map[string]time.Time // the state could not be saved: not before
	stuck    map[string]bool      // a corrupt state file that could not be quarantined (reported once)
	unread   map[string]string    // the error last reported for an entry that could not be read
	bytes    int64
	count    int
	closed   bool
	sends    []time.Time // rate window
	kick     chan struct{}
	slots    chan struct{} // one per delivery under way, Concurrency in all
	seq      uint32
	dsync    *dirSyncer // groups the directory fsyncs of removals
	m        *Metrics

	wmu     sync.Mutex // guards the worker lock (workerlock.go)
	workers int        // Run and RunOnce calls holding it
	lockf   *os.File
}

// A noSpoolError says why dir is not a spool; it wraps ErrNoSpool.
type noSpoolError struct{ dir, why string }

func (e *noSpoolError) Error() string { return "no outbox spool at " + e.dir + ": " + e.why }
func (e *noSpoolError) Unwrap() error { return ErrNoSpool }

// checkSpool is Open's test of Config.Existing; statErr is os.Stat(dir)'s.
func checkSpool(dir string, statErr error) error {
	if statErr != nil {
		if errors.Is(statErr, os.ErrNotExist) {
			return &Error{Op: "open", Path: dir, Err: &noSpoolError{dir, "the directory does not exist"},
				Hint: "check the spool path; 'outbox enqueue' and 'outbox run' create it, the commands that only look at it do not"}
		}
		return &Error{Op: "open", Path: dir, Err: statErr, Hint: "check that the spool directory is readable"}
	}
	if fi, err := os.Stat(filepath.Join(dir, quarantine)); err != nil || !fi.IsDir() {
		return &Error{Op: "open", Path: dir, Err: &noSpoolError{dir, "the directory has no " + quarantine + " directory, which every spool has"},
			Hint: "check the spool path: it must be the directory given to 'outbox enqueue' or 'outbox run'"}
	}
	return nil
}

// Open opens (creating if needed) the spool directory, removes leftovers
// of interrupted writes, verifies every entry and quarantines corrupt ones.
// Errors are *Error.
func Open(cfg Config) (*Outbox, error) {
	if cfg.Dir == "" {
		return nil, &Error{Op: "open", Err: errors.New("no spool directory")}
	}
	cfg.FillDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	_, statErr := os.Stat(cfg.Dir)
	if cfg.Existing {
		if err := checkSpool(cfg.Dir, statErr); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, quarantine), 0o700); err != nil {
		return nil, &Error{Op: "open", Path: cfg.Dir, Err: err, Hint: "check that the spool directory exists and is writable"}
	}
	// A spool directory created here must itself survive a crash, or the
	// entries fsync'd into it could vanish with it.
	if errors.Is(statErr, os.ErrNotExist) {
		if err := errors.Join(syncDir(filepath.Dir(filepath.Clean(cfg.Dir))), syncDir(cfg.Dir)); err != nil {
			return nil, &Error{Op: "open", Path: cfg.Dir, Err: err, Hint: "check that the spool directory's parent is readable"}
		}
	}
	o := &Outbox{cfg: cfg, dir: cfg.Dir, log: log, cache: map[string]*loaded{}, inflight: map[string]bool{},
		sent: map[string]bool{}, hold: map[string]time.Time{}, stuck: map[string]bool{}, unread: map[string]string{}, kick: make(chan struct{}, 1),
		slots: make(chan struct{}, cfg.Concurrency), dsync: newDirSyncer(cfg.Dir)}
	if _, err := o.scan(context.Background()); err != nil {
		return nil, err
	}
	m, err := NewMetrics(cfg.MeterProvider, o.Depth)
	if err != nil {
		return nil, &Error{Op: "open", Path: cfg.Dir, Err: err}
	}
	o.m = m
	return o, nil
}

// FillDefaults sets each zero field of c that has a default to that
// default, as Open does; a store other than the spool (such as pgstore)
// calls it so that both mean the same by a zero Config.
func (c *Config) FillDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = mrand.Float64
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 24 * time.Hour
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 30 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 15 * time.Minute
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = 5 * time.Minute
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 1
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.RatePeriod <= 0 {
		c.RatePeriod = time.Minute
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Dir returns the spool directory.
func (o *Outbox) Dir() string { return o.dir }

func (o *Outbox) msgPath(id string) string   { return filepath.Join(o.dir, id+msgExt) }
func (o *Outbox) statePath(id string) string { return filepath.Join(o.dir, id+stateExt) }

func (o *Outbox) newID() (string, error) {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	o.mu.Lock()
	o.seq++
	s := o.seq
	o.mu.Unlock()
	// Time-ordered: 16 hex digits of nanoseconds, 8 of randomness mixed
	// with a counter.
	return fmt.Sprintf("%016x%08x", uint64(o.cfg.Now().UnixNano()), (uint32(r[0])<<24|uint32(r[1])<<16|uint32(r[2])<<8|uint32(r[3]))^s), nil
}

// Enqueue stores a message: write writes it (exactly as it will be sent)
// and env is its envelope (Size is set by Enqueue). It returns once the
// entry is durable (file and directory fsync'd). Errors are *Error: one
// wrapping ErrFull (a *FullError) when a quota is reached, or the
// file-system error (a read-only or full disk, a missing directory).
// Nothing is queued when Enqueue fails.
func (o *Outbox) Enqueue(ctx context.Context, env Envelope, write func(io.Writer) error) (Entry, error) {
	fail := func(id string, err error, hint string) (Entry, error) {
		return Entry{}, &Error{Op: "enqueue", ID: id, Err: err, Hint: hint}
	}
	if len(env.To) == 0 {
		return fail("", errors.New("no recipient"), "")
	}
	for _, a := range append([]string{env.From, env.MessageID}, env.To...) {
		if strings.ContainsAny(a, "\r\n") {
			return fail("", errors.New("CR or LF in an envelope address or Message-ID"), "")
		}
	}
	if err := ctx.Err(); err != nil {
		return fail("", err, "")
	}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return fail("", ErrClosed, "")
	}
	if o.cfg.MaxMessages > 0 && o.count >= o.cfg.MaxMessages {
		used := o.count
		o.mu.Unlock()
		return fail("", &FullError{Limit: "max_messages", Max: int64(o.cfg.MaxMessages), Used: int64(used)}, "deliver or purge entries (smtpcheck outbox list / purge)")
	}
	left := o.cfg.MaxBytes - o.bytes
	o.mu.Unlock()
	id, err := o.newID()
	if err != nil {
		return fail("", err, "")
	}
	now := o.cfg.Now().UTC()
	hdr := header{ID: id, MessageID: env.MessageID, From: env.From, To: env.To, SMTPUTF8: env.SMTPUTF8, Created: now}
	line, err := json.Marshal(hdr)
	if err != nil {
		return fail(id, err, "")
	}
	line = append(line, '\n')
	if len(line) > maxHeader {
		return fail(id, fmt.Errorf("envelope too large (%d bytes, at most %d)", len(line), maxHeader), "split the recipients over several messages")
	}
	full := &FullError{Limit: "max_bytes", Max: o.cfg.MaxBytes, Used: o.cfg.MaxBytes - left}
	size, err := o.writeEntry(id, line, write, left, full)
	if err != nil {
		hint := ""
		if !errors.Is(err, ErrFull) {
			hint = "check that the spool directory is writable and its disk has room"
		} else {
			hint = "deliver or purge entries (smtpcheck outbox list / purge)"
		}
		return fail(id, err, hint)
	}
	env.Size = size
	o.m.Enqueued(ctx)
	o.log.LogAttrs(ctx, slog.LevelInfo, "outbox.queued", slog.String("message_id", env.MessageID),
		slog.String("from", env.From), slog.Any("rcpts", env.To), slog.Int64("size", size),
		slog.Group("outbox", slog.String("spool_id", id)))
	o.wake()
	return Entry{ID: id, State: StateQueued, Envelope: env, Created: now, NextAttempt: now}, nil
}

// writeEntry writes <id>.msg durably and accounts for it. left is the byte
// quota left when MaxBytes is set.
func (o *Outbox) writeEntry(id string, line []byte, write func(io.Writer) error, left int64, full *FullError) (int64, error) {
	f, err := os.CreateTemp(o.dir, tmpPrefix+"*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			robustio.Remove(tmp)
		}
	}()
	if _, err := f.Write(make([]byte, firstLen)); err != nil {
		return 0, err
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(f, 64<<10)
	lw := &limitWriter{w: io.MultiWriter(bw, h)}
	if o.cfg.MaxBytes > 0 {
		lw.left, lw.full = left-int64(firstLen), full
		if lw.left < 0 {
			return 0, full
		}
	}
	if _, err := lw.Write(line); err != nil {
		return 0, err
	}
	cw := &countWriter{w: lw}
	if err := write(cw); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	total := int64(len(line)) + cw.n
	first := firstLine(total, h.Sum(nil))
	if _, err := f.WriteAt([]byte(first), 0); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	fileSize := int64(firstLen) + total
	o.mu.Lock()
	if (o.cfg.MaxBytes > 0 && o.bytes+fileSize > o.cfg.MaxBytes) || (o.cfg.MaxMessages > 0 && o.count >= o.cfg.MaxMessages) {
		o.mu.Unlock()
		return 0, full // another Enqueue took the room meanwhile
	}
	o.bytes += fileSize
	o.count++
	o.mu.Unlock()
	if err := robustio.Rename(tmp, o.msgPath(id)); err != nil {
		o.account(-fileSize)
		return 0, err
	}
	ok = true
	if err := syncDir(o.dir); err != nil {
		// Not known to be durable: take it back rather than claim it.
		robustio.Remove(o.msgPath(id))
		o.account(-fileSize)
		return 0, err
	}
	return cw.n, nil
}

func (o *Outbox) account(size int64) {
	o.mu.Lock()
	o.bytes += size
	if size < 0 {
		o.count--
	} else {
		o.count++
	}
	o.mu.Unlock()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// wake makes a running worker look at the spool now.
func (o *Outbox) wake() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// scanned is one entry found by scan.
type scanned struct {
	l  *loaded
	st state
}

// scan reads the spool: it verifies new entries (quarantining corrupt
// ones), reads states, removes stale temporary files and orphan states, and
// recounts usage.
func (o *Outbox) scan(ctx context.Context) (map[string]scanned, error) {
	des, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, &Error{Op: "scan", Path: o.dir, Err: err}
	}
	out := map[string]scanned{}
	msgs := map[string]bool{}
	var bytes int64
	now := time.Now()
	for _, de := range des {
		name := de.Name()
		switch {
		case strings.HasPrefix(name, tmpPrefix):
			if fi, err := de.Info(); err == nil && now.Sub(fi.ModTime()) > staleTmpAge {
				os.Remove(filepath.Join(o.dir, name)) // best effort: the next scan tries again
			}
		case strings.HasSuffix(name, msgExt) && validID(strings.TrimSuffix(name, msgExt)):
			msgs[strings.TrimSuffix(name, msgExt)] = true
		}
	}
	for _, de := range des {
		name := de.Name()
		if id, ok := strings.CutSuffix(name, stateExt); ok && validID(id) && !msgs[id] {
			os.Remove(filepath.Join(o.dir, name)) // the entry was delivered or purged; best effort
		}
	}
	for id := range msgs {
		o.mu.Lock()
		l, skip := o.cache[id], o.sent[id]
		o.mu.Unlock()
		if l == nil && skip {
			// A corrupt entry that could not be quarantined: it was
			// reported; do not verify and report it again at every scan.
			continue
		}
		if l == nil {
			l, err = loadMsg(o.msgPath(id))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				if errors.Is(err, ErrCorrupt) {
					o.quarantine(ctx, id, err, true)
				} else {
					o.unreadable(ctx, id, err)
				}
				continue
			}
			o.mu.Lock()
			o.cache[id] = l
			o.mu.Unlock()
		}
		st, err := o.readState(ctx, id)
		if err != nil {
			continue
		}
		bytes += l.fileSize
		out[id] = scanned{l: l, st: st}
		o.mu.Lock()
		delete(o.unread, id)
		o.mu.Unlock()
	}
	o.mu.Lock()
	for _, m := range []map[string]bool{o.sent, o.stuck} {
		for id := range m {
			if !msgs[id] {
				delete(m, id)
			}
		}
	}
	for id := range o.cache {
		if !msgs[id] {
			delete(o.cache, id)
			delete(o.hold, id)
		}
	}
	for id := range o.unread {
		if !msgs[id] {
			delete(o.unread, id)
		}
	}
	o.bytes, o.count = bytes, len(out)
	o.mu.Unlock()
	return out, nil
}

// readState reads an entry's state; a missing file is the initial state,
// a corrupt one is quarantined and the state reset (the message itself is
// intact, so it is kept and retried).
func (o *Outbox) readState(ctx context.Context, id string) (state, error) {
	b, err := robustio.ReadFile(o.statePath(id))
	if errors.Is(err, os.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		o.unreadable(ctx, id, err)
		return state{}, err
	}
	st, err := parseState(b)
	st.onDisk = true // also when corrupt: a file that could not be quarantined is still there
	o.mu.Lock()
	stuck := o.stuck[id]
	if err == nil {
		delete(o.stuck, id)
	}
	o.mu.Unlock()
	if err != nil {
		if !stuck { // else reported already, and it could not be moved
			o.quarantine(ctx, id, err, false)
		}
		return state{onDisk: true}, nil
	}
	return st, nil
}

// unreadable reports an entry whose files cannot be read (a permission,
// an I/O error): once, and again only when the error changes, not at every
// scan.
func (o *Outbox) unreadable(ctx context.Context, id string, err error) {
	o.mu.Lock()
	same := o.unread[id] == err.Error()
	o.unread[id] = err.Error()
	o.mu.Unlock()
	if !same {
		o.log.LogAttrs(ctx, slog.LevelError, "outbox.error", slog.Group("outbox", slog.String("spool_id", id), slog.String("error", err.Error())))
	}
}

// quarantine moves a corrupt entry (whole, or only its state file) to the
// quarantine directory and reports it.
func (o *Outbox) quarantine(ctx context.Context, id string, why error, whole bool) {
	qdir := filepath.Join(o.dir, quarantine)
	names := []string{id + stateExt}
	if whole {
		names = append([]string{id + msgExt}, names...)
	}
	var moveErr error
	for _, n := range names {
		err := robustio.Rename(filepath.Join(o.dir, n), filepath.Join(qdir, n))
		if err == nil {
			continue
		}
		// A missing file is no failure (a state not written yet), but
		// Windows also says "not found" when the quarantine directory is
		// missing or not a directory: then the file is still there.
		if _, serr := os.Lstat(filepath.Join(o.dir, n)); errors.Is(serr, os.ErrNotExist) {
			continue
		}
		moveErr = errors.Join(moveErr, err)
	}
	syncDir(qdir) // the new names first: a crash must not lose both
	syncDir(o.dir)
	what := "entry"
	if !whole {
		what = "state (the message is kept and retried; its attempt count is reset)"
	}
	attrs := []slog.Attr{slog.String("spool_id", id), slog.String("reason", why.Error()),
		slog.String("what", what), slog.String("file", filepath.Join(qdir, names[0]))}
	if moveErr != nil {
		attrs = append(attrs, slog.String("error", moveErr.Error()))
	}
	o.log.LogAttrs(ctx, slog.LevelError, "outbox.quarantined", slog.Attr{Key: "outbox", Value: slog.GroupValue(attrs...)})
	o.mu.Lock()
	delete(o.cache, id)
	if moveErr != nil && whole {
		// It could not be moved: never look at it again in this process.
		o.sent[id] = true
	}
	if moveErr != nil && !whole {
		o.stuck[id] = true
	}
	o.mu.Unlock()
}

func (o *Outbox) entry(id string, s scanned) Entry {
	e := Entry{ID: id, Created: s.l.hdr.Created, Attempts: s.st.Attempts, LastError: s.st.LastError, Reason: s.st.Reason,
		Envelope: Envelope{From: s.l.hdr.From, To: s.l.hdr.To, SMTPUTF8: s.l.hdr.SMTPUTF8, MessageID: s.l.hdr.MessageID, Size: s.l.bodySize}}
	switch {
	case s.st.Delivered:
		e.State, e.NextAttempt = StateDelivered, s.st.Next
	case s.st.Dead:
		e.State = StateDead
	case s.st.Attempts > 0:
		e.State, e.NextAttempt = StateDeferred, s.st.Next
	default:
		e.State, e.NextAttempt = StateQueued, s.l.hdr.Created
		if !s.st.Next.IsZero() {
			e.NextAttempt = s.st.Next
		}
	}
	return e
}

// List returns the entries in the spool, oldest first. Corrupt entries
// found on the way are quarantined (and reported to the Logger).
func (o *Outbox) List(ctx context.Context) ([]Entry, error) {
	m, err := o.scan(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(m))
	for id, s := range m {
		out = append(out, o.entry(id, s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Quarantined returns the names of the files in the quarantine directory.
func (o *Outbox) Quarantined() ([]string, error) {
	des, err := os.ReadDir(filepath.Join(o.dir, quarantine))
	if err != nil {
		return nil, &Error{Op: "list quarantine", Path: o.dir, Err: err}
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out, nil
}

func (o *Outbox) lookup(ctx context.Context, op, id string) (scanned, error) {
	if !validID(id) {
		return scanned{}, &Error{Op: op, ID: id, Err: ErrNotFound, Hint: "a spool id is 24 hex digits, as 'list' shows"}
	}
	m, err := o.scan(ctx)
	if err != nil {
		return scanned{}, err
	}
	s, ok := m[id]
	if !ok {
		return scanned{}, &Error{Op: op, ID: id, Err: ErrNotFound}
	}
	return s, nil
}

// Retry makes a deferred or dead entry due now (keeping its attempt count;
// its maximum age counts again from now). Errors are *Error, wrapping
// ErrNotFound for an unknown id.
func (o *Outbox) Retry(ctx context.Context, id string) error {
	s, err := o.lookup(ctx, "retry", id)
	if err != nil {
		return err
	}
	now := o.cfg.Now().UTC()
	st := s.st
	st.Dead, st.Reason, st.Next, st.Retried = false, "", now, now
	if err := writeAtomic(o.dir, id+stateExt, marshalState(st)); err != nil {
		return &Error{Op: "retry", ID: id, Err: err}
	}
	o.mu.Lock()
	delete(o.hold, id)
	o.mu.Unlock()
	o.log.LogAttrs(ctx, slog.LevelInfo, "outbox.retry", slog.String("message_id", s.l.hdr.MessageID),
		slog.Group("outbox", slog.String("spool_id", id), slog.Int("attempt", st.Attempts)))
	o.wake()
	return nil
}

// Purge deletes an entry without sending it. Errors are *Error, wrapping
// ErrNotFound for an unknown id.
func (o *Outbox) Purge(ctx context.Context, id string) error {
	s, err := o.lookup(ctx, "purge", id)
	if err != nil {
		return err
	}
	if err := o.remove(id, true); err != nil {
		return &Error{Op: "purge", ID: id, Err: err}
	}
	o.log.LogAttrs(ctx, slog.LevelWarn, "outbox.purged", slog.String("message_id", s.l.hdr.MessageID),
		slog.Group("outbox", slog.String("spool_id", id), slog.Int("attempt", s.st.Attempts), slog.String("error", s.st.LastError)))
	return nil
}

// remove deletes an entry's files durably (see unlink). The directory
// fsync is shared with the removals made meanwhile (dirSyncer): the worker
// frees an entry's delivery slot once the relay is done with it, so the
// next delivery runs during this fsync and its removal joins the next one.
// stateFile says whether the entry may have a state file.
func (o *Outbox) remove(id string, stateFile bool) error {
	if err := o.unlink(id, stateFile); err != nil {
		return err
	}
	return o.dsync.sync()
}

// unlink deletes an entry's files (the message first: without it the state
// is an orphan, removed at the next scan) and takes them out of the
// spool's usage; the removal is durable only after a directory fsync
// (remove). A state file is removed only when stateFile is set: most
// entries are delivered at their first attempt, before any state is
// written, and removing a file that is not there costs two system calls
// on Unix (os.Remove tries unlink, then rmdir).
func (o *Outbox) unlink(id string, stateFile bool) error {
	o.mu.Lock()
	l := o.cache[id]
	o.mu.Unlock()
	if err := removeIfExists(o.msgPath(id)); err != nil {
		return err
	}
	if stateFile {
		removeIfExists(o.statePath(id))
	}
	o.mu.Lock()
	delete(o.cache, id)
	if l != nil {
		o.bytes -= l.fileSize
		o.count--
	}
	o.mu.Unlock()
	return nil
}

// Close stops new Enqueues. It does not stop Run: cancel its context.
func (o *Outbox) Close() error {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	return nil
}
