package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"mailwarden"
)

// An outboxSnapshot is the state of a spool at one moment: what 'outbox
// status' prints, what a running 'outbox run' prints on SIGUSR1, and what
// its status line shows.
type outboxSnapshot struct {
	Time        time.Time
	Queued      int
	Deferred    int
	Dead        int
	Delivered   int // accepted by the relay, the audit record pending
	Quarantined int
	// Live figures of a running worker; absent from 'outbox status'.
	InFlight         *int
	DeliveredThisRun *int
	Oldest           time.Time // created time of the oldest entry; zero when empty
	OldestID         string
	NextAttempt      time.Time // earliest due queued or deferred entry; zero when none
	Entries          []mailwarden.OutboxEntry
}

// snapshotOf counts list by state and finds the oldest entry and the next
// attempt.
func snapshotOf(list []mailwarden.OutboxEntry, quarantined int, now time.Time) outboxSnapshot {
	s := outboxSnapshot{Time: now, Quarantined: quarantined, Entries: list}
	for _, en := range list {
		switch string(en.State) {
		case "queued":
			s.Queued++
		case "deferred":
			s.Deferred++
		case "dead":
			s.Dead++
		case "delivered":
			s.Delivered++
		}
		if s.Oldest.IsZero() || en.Created.Before(s.Oldest) {
			s.Oldest, s.OldestID = en.Created, en.ID
		}
		if (en.State == "queued" || en.State == "deferred") && !en.NextAttempt.IsZero() &&
			(s.NextAttempt.IsZero() || en.NextAttempt.Before(s.NextAttempt)) {
			s.NextAttempt = en.NextAttempt
		}
	}
	sort.Slice(s.Entries, func(i, j int) bool { return s.Entries[i].Created.Before(s.Entries[j].Created) })
	return s
}

// age is d rounded for a status line: 45s, 9m3s, 44m, 5h2m, 3d4h.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < 10*time.Minute:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	days := int(d / (24 * time.Hour))
	return fmt.Sprintf("%dd%dh", days, int(d%(24*time.Hour)/time.Hour))
}

// nextText is when the next attempt is due: "now", "in 25s", or "-".
func (s outboxSnapshot) nextText() string {
	switch {
	case s.NextAttempt.IsZero():
		return "-"
	case !s.NextAttempt.After(s.Time):
		return "now"
	}
	return "in " + age(s.NextAttempt.Sub(s.Time))
}

func (s outboxSnapshot) oldestText() string {
	if s.Oldest.IsZero() {
		return "-"
	}
	return age(s.Time.Sub(s.Oldest))
}

// line is the one-line status of a running worker.
func (s outboxSnapshot) line() string {
	inFlight, run := 0, 0
	if s.InFlight != nil {
		inFlight = *s.InFlight
	}
	if s.DeliveredThisRun != nil {
		run = *s.DeliveredThisRun
	}
	return fmt.Sprintf("queued %d  in flight %d  deferred %d  dead %d  delivered %d  oldest %s  next %s",
		s.Queued, inFlight, s.Deferred, s.Dead, run, s.oldestText(), s.nextText())
}

// print writes the full snapshot: the figures, then one line per entry.
// Entry fields that came from a message or a server pass through term().
func (s outboxSnapshot) print(w io.Writer, spool string) {
	fmt.Fprintf(w, "outbox %s at %s\n", term(spool), s.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  queued        %d\n", s.Queued)
	if s.InFlight != nil {
		fmt.Fprintf(w, "  in flight     %d\n", *s.InFlight)
	}
	fmt.Fprintf(w, "  deferred      %d\n", s.Deferred)
	fmt.Fprintf(w, "  dead          %d\n", s.Dead)
	if s.DeliveredThisRun != nil {
		fmt.Fprintf(w, "  delivered     %d this run\n", *s.DeliveredThisRun)
	}
	if s.Delivered > 0 {
		fmt.Fprintf(w, "  accepted      %d (audit record pending)\n", s.Delivered)
	}
	if s.Quarantined > 0 {
		fmt.Fprintf(w, "  quarantined   %d\n", s.Quarantined)
	}
	if s.Oldest.IsZero() {
		fmt.Fprintf(w, "  oldest        -\n")
	} else {
		fmt.Fprintf(w, "  oldest        %s (%s)\n", s.oldestText(), s.OldestID)
	}
	if s.NextAttempt.IsZero() {
		fmt.Fprintf(w, "  next attempt  -\n")
	} else {
		fmt.Fprintf(w, "  next attempt  %s (%s)\n", s.nextText(), s.NextAttempt.UTC().Format(time.RFC3339))
	}
	for _, en := range s.Entries {
		last := en.LastError
		if last == "" {
			last = "-"
		}
		fmt.Fprintf(w, "  %s  %-9s attempts %d  age %s  %s  %s\n", en.ID, en.State, en.Attempts, age(s.Time.Sub(en.Created)),
			term(en.Envelope.MessageID), term(last))
	}
}

type snapshotJSON struct {
	Time             string      `json:"time"`
	Queued           int         `json:"queued"`
	InFlight         *int        `json:"in_flight,omitempty"`
	Deferred         int         `json:"deferred"`
	Dead             int         `json:"dead"`
	Delivered        int         `json:"delivered_pending_record"`
	DeliveredThisRun *int        `json:"delivered_this_run,omitempty"`
	Quarantined      int         `json:"quarantined"`
	Oldest           string      `json:"oldest_created,omitempty"`
	OldestAgeSec     int64       `json:"oldest_age_seconds,omitempty"`
	OldestID         string      `json:"oldest_id,omitempty"`
	NextAttempt      string      `json:"next_attempt,omitempty"`
	Entries          []entryJSON `json:"entries"`
}

func (s outboxSnapshot) json() snapshotJSON {
	j := snapshotJSON{Time: s.Time.UTC().Format(time.RFC3339), Queued: s.Queued, InFlight: s.InFlight, Deferred: s.Deferred,
		Dead: s.Dead, Delivered: s.Delivered, DeliveredThisRun: s.DeliveredThisRun, Quarantined: s.Quarantined,
		OldestID: s.OldestID, Entries: []entryJSON{}}
	if !s.Oldest.IsZero() {
		j.Oldest = s.Oldest.UTC().Format(time.RFC3339)
		j.OldestAgeSec = int64(s.Time.Sub(s.Oldest) / time.Second)
	}
	if !s.NextAttempt.IsZero() {
		j.NextAttempt = s.NextAttempt.UTC().Format(time.RFC3339)
	}
	for _, en := range s.Entries {
		e := entryJSON{ID: en.ID, State: string(en.State), Attempts: en.Attempts, LastError: en.LastError, Reason: en.Reason,
			MessageID: en.Envelope.MessageID, From: en.Envelope.From, Rcpts: en.Envelope.To, Size: en.Envelope.Size,
			Created: en.Created.UTC().Format(time.RFC3339)}
		if !en.NextAttempt.IsZero() {
			e.NextAttempt = en.NextAttempt.UTC().Format(time.RFC3339)
		}
		j.Entries = append(j.Entries, e)
	}
	return j
}

const outboxStatusUsage = `usage: smtpcheck outbox status --spool DIR [--json]

Prints a snapshot of the spool: entries queued, deferred and dead (and
accepted with their audit record pending), the oldest entry's age, when the
next attempt is due, then one line per entry. A running 'outbox run' prints
the same, with what is in flight and what it delivered, on SIGUSR1 (Unix).`

func runOutboxStatus(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("outbox status", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	spool := fs.String("spool", "", "spool `DIR`")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := parseFlags(fs, e, args, "outbox status", outboxStatusUsage); done {
		return code
	}
	o, code := openSpool(e, "status", *spool)
	if o == nil {
		return code
	}
	defer o.Close()
	list, err := o.List(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck outbox status: %s\n", errLine(err))
		return exitCheck
	}
	q, _ := o.Quarantined()
	s := snapshotOf(list, len(q), time.Now())
	if *asJSON {
		writeJSON(e.stdout, s.json())
		return exitOK
	}
	s.print(e.stdout, *spool)
	return exitOK
}

// A runStatus follows a running worker: it passes the outbox's records on
// to next, counts what is in flight and what was delivered, and keeps the
// status line up to date (on a terminal, through d).
type runStatus struct {
	d     *display
	spool string
	list  func(context.Context) ([]mailwarden.OutboxEntry, error)
	quar  func() ([]string, error)
	now   func() time.Time

	mu        sync.Mutex
	inFlight  map[string]bool
	delivered int
	last      time.Time // last List
	snap      outboxSnapshot
	changed   chan struct{} // a state changed: redraw soon
}

func newRunStatus(d *display, spool string) *runStatus {
	return &runStatus{d: d, spool: spool, now: time.Now, inFlight: map[string]bool{}, changed: make(chan struct{}, 1)}
}

// statusHandler is the slog.Handler side of a runStatus.
type statusHandler struct {
	rs   *runStatus
	next slog.Handler
}

// Enabled is true for every level: the attempts are counted whatever the
// printer shows.
func (h statusHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h statusHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return statusHandler{h.rs, h.next.WithAttrs(a)}
}

func (h statusHandler) WithGroup(g string) slog.Handler {
	return statusHandler{h.rs, h.next.WithGroup(g)}
}

// Handle counts r first, then passes it on: once a state change is
// printed, a snapshot (SIGUSR1, the status line) already counts it.
func (h statusHandler) Handle(ctx context.Context, r slog.Record) error {
	h.rs.observe(r)
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

// observe counts a record: an attempt is in flight until its entry is
// delivered, deferred or dead.
func (rs *runStatus) observe(r slog.Record) {
	var id string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "outbox" && a.Value.Kind() == slog.KindGroup {
			for _, g := range a.Value.Group() {
				if g.Key == "spool_id" {
					id = g.Value.String()
				}
			}
		}
		return true
	})
	changed := true
	rs.mu.Lock()
	switch r.Message {
	case "outbox.attempt":
		rs.inFlight[id] = true
	case "outbox.delivered":
		if rs.inFlight[id] {
			rs.delivered++ // not a delivered record only retried
		}
		delete(rs.inFlight, id)
	case "outbox.deferred", "outbox.dead":
		delete(rs.inFlight, id)
	case "outbox.queued", "outbox.retry", "outbox.purged", "outbox.quarantined":
	default:
		changed = false
	}
	rs.mu.Unlock()
	if changed {
		// The watcher reads the spool, not this goroutine: the outbox may
		// log while it holds its own locks.
		select {
		case rs.changed <- struct{}{}:
		default:
		}
	}
}

// refresh reads the spool (at most every 250 ms unless forced) and, on a
// terminal, redraws the status line.
func (rs *runStatus) refresh(ctx context.Context, force bool) {
	now := rs.now()
	rs.mu.Lock()
	if !force && now.Sub(rs.last) < 250*time.Millisecond {
		rs.mu.Unlock()
		return
	}
	rs.last = now
	rs.mu.Unlock()
	list, err := rs.list(ctx)
	if err != nil {
		return
	}
	q, _ := rs.quar()
	s := snapshotOf(list, len(q), now)
	rs.mu.Lock()
	inFlight, run := len(rs.inFlight), rs.delivered
	s.InFlight, s.DeliveredThisRun = &inFlight, &run
	rs.snap = s
	rs.mu.Unlock()
	if rs.d.tty {
		rs.d.show("status", s.line(), true)
	}
}

// snapshot returns a fresh snapshot with the live figures.
func (rs *runStatus) snapshot(ctx context.Context) outboxSnapshot {
	rs.refresh(ctx, true)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.snap
}

// watch redraws the status line every second (ages and the next attempt
// move on) and prints the full snapshot to standard error on SIGUSR1 (Unix),
// until ctx ends.
func (rs *runStatus) watch(ctx context.Context, stderr io.Writer, usr1 <-chan os.Signal) {
	var tick <-chan time.Time
	var changed <-chan struct{}
	if rs.d.tty {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick, changed = t.C, rs.changed
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			rs.refresh(ctx, false)
		case <-changed:
			rs.refresh(ctx, false)
		case <-usr1:
			s := rs.snapshot(ctx)
			rs.d.clear()
			s.print(stderr, rs.spool)
			if rs.d.tty {
				rs.d.show("status", s.line(), true)
			}
		}
	}
}

// start takes SIGUSR1 (before it returns, so that the signal never meets
// its default action, which ends the process) and runs watch in a
// goroutine; the returned function stops it, waits for it and clears the
// status line (once; later calls do nothing).
func (rs *runStatus) start(ctx context.Context, stderr io.Writer) func() {
	usr1 := make(chan os.Signal, 1)
	stopSignal := notifySnapshot(usr1)
	if rs.d.tty {
		// The first status line shows the spool as the run finds it:
		// drawn here, before the worker starts, not whenever the
		// watcher's goroutine first runs.
		rs.refresh(ctx, true)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); rs.watch(ctx, stderr, usr1) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
			stopSignal()
			rs.d.clear()
		})
	}
}
