package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"mailwarden/audit"
)

// Options selects what Build reads and reports. The zero value reports
// every record of a plain (unkeyed) trail.
type Options struct {
	// Key is the HMAC key the trail was written with (audit.LoadKey);
	// nil for a plain SHA-256 trail.
	Key []byte
	// Anchor, when not nil, is checked: the trail must hold that record
	// with that hash.
	Anchor *Anchor
	// From and To limit the report to records with From <= time < To; a
	// zero time leaves that end open. The verification always covers
	// every record of the files.
	From, To time.Time
	// Profile, when not empty, limits the messages, charts and failures to
	// that sender profile (records that do not name one are joined to
	// their message's profile).
	Profile string
	// Silence is the longest stretch without any record that is not
	// flagged; 0 means four times the usual (95th percentile) gap between
	// records, and at least an hour.
	Silence time.Duration
	// TempDir is where the message table is spilled while the trail is
	// read; "" means os.TempDir().
	TempDir string
	// Now is the report's generation time; nil means time.Now.
	Now func() time.Time
	// Title is shown at the top; "" means "Mailwarden audit report".
	Title string
	// Progress, when not nil, is called with each verified record as the
	// trail is read (to show how far a long trail is); it must not keep
	// the record's JSON.
	Progress func(audit.ScannedRecord)
}

// A Report is the outcome of Build: the verdict, the aggregates and the
// message table (spilled to a temporary file). Write it with WriteHTML,
// WriteCSV or WriteJSON (each may be called more than once), then Close it.
type Report struct {
	Title     string    `json:"title"`
	Generated time.Time `json:"generated"`
	From      time.Time `json:"from,omitzero"`
	To        time.Time `json:"to,omitzero"`
	Profile   string    `json:"profile,omitempty"`
	Verdict   Verdict   `json:"verdict"`
	Summary   Summary   `json:"summary"`

	spill     *os.File
	spillRows int
}

// Build reads the trail in files (rotated files and the active one, in any
// order), verifies its chain and gathers the report, in one pass and in
// memory bounded by the number of messages open at once (queued and not yet
// delivered, dead-lettered or purged) rather than by the size of the trail:
// each message's row is written to a temporary file as soon as its outcome
// is recorded. A tampered trail is reported up to its first bad record.
//
// Build returns an error only when a file cannot be read or the spill file
// cannot be written; a chain that does not verify is the report's verdict.
func Build(opts Options, files ...string) (*Report, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	rep := &Report{Title: opts.Title, Generated: now().UTC(), From: opts.From, To: opts.To, Profile: opts.Profile}
	if rep.Title == "" {
		rep.Title = "Mailwarden audit report"
	}
	sc, err := audit.NewScanner(audit.ScanConfig{Key: opts.Key, Restarts: true}, files...)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer sc.Close()
	spill, err := os.CreateTemp(opts.TempDir, "mailwarden-report-*.jsonl")
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	os.Remove(spill.Name()) // on Unix the open file stays readable; elsewhere Close removes it
	rep.spill = spill
	b := newBuilder(rep, &opts, bufio.NewWriterSize(spill, 256<<10))
	for sc.Next() {
		r := sc.Record()
		if opts.Progress != nil {
			opts.Progress(r)
		}
		rec, derr := decode(r.JSON)
		if derr != nil {
			// Verified, so written by the File sink: cannot happen unless
			// the writer had a bug. Say so rather than drop it.
			rep.Verdict.Warnings = append(rep.Verdict.Warnings, fmt.Sprintf("record %d: not readable as JSON: %v", r.Seq, derr))
			continue
		}
		if err := b.add(rec, r.JSON); err != nil {
			rep.Close()
			return nil, err
		}
	}
	scanErr := sc.Err()
	var te *audit.TamperError
	if scanErr != nil && !errors.As(scanErr, &te) && !errors.Is(scanErr, audit.ErrKeyRequired) {
		rep.Close()
		return nil, fmt.Errorf("report: %w", scanErr)
	}
	if err := b.finish(); err != nil {
		rep.Close()
		return nil, err
	}
	rep.Verdict.KeyID = keyID(opts.Key)
	rep.Verdict.finish(sc.Report(), scanErr, sc.Restarts(), opts.Anchor)
	return rep, nil
}

// Close removes the spilled message table.
func (r *Report) Close() error {
	if r.spill == nil {
		return nil
	}
	name := r.spill.Name()
	err := r.spill.Close()
	os.Remove(name)
	r.spill = nil
	return err
}

// rows calls fn for every message row in table order (the order their
// outcome was recorded; messages still open at the end of the period last).
func (r *Report) rows(fn func(*Message) error) error {
	if r.spill == nil {
		return errors.New("report: closed")
	}
	if _, err := r.spill.Seek(0, 0); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	br := bufio.NewReaderSize(r.spill, 256<<10)
	for n := 0; n < r.spillRows; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return fmt.Errorf("report: reading the message table: %w", err)
		}
		var m Message
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("report: reading the message table: %w", err)
		}
		if err := fn(&m); err != nil {
			return err
		}
	}
	return nil
}

// builder aggregates records as they stream by.
type builder struct {
	rep  *Report
	opts *Options
	out  *bufio.Writer
	enc  *json.Encoder

	open map[string]*Message // messages without an outcome yet, by Message-ID
	// lastIntent is, per profile, the latest direct send with an intent
	// and no outcome yet.
	lastIntent map[string]*Message
	seq        uint64 // a counter for rows without a Message-ID
	gaps       gapTracker
	firstRec   bool
}

func newBuilder(rep *Report, opts *Options, out *bufio.Writer) *builder {
	b := &builder{rep: rep, opts: opts, out: out, enc: json.NewEncoder(out), open: map[string]*Message{}, lastIntent: map[string]*Message{}, firstRec: true}
	rep.Summary.init()
	return b
}

func (b *builder) inPeriod(t time.Time) bool {
	return (b.opts.From.IsZero() || !t.Before(b.opts.From)) && (b.opts.To.IsZero() || t.Before(b.opts.To))
}

// add takes one verified record.
func (b *builder) add(r *record, raw []byte) error {
	v := &b.rep.Verdict
	if b.firstRec {
		v.FirstHash, v.FirstTime, b.firstRec = r.Hash, r.Time, false
	}
	v.LastTime = r.Time
	v.checkAnchor(b.opts.Anchor, r.Seq, r.Hash)
	if strings.HasPrefix(r.Msg, "audit.") {
		b.trailEvent(r, raw)
	}
	if !b.inPeriod(r.Time) {
		return nil
	}
	b.gaps.add(r.Time, r.Seq)
	s := &b.rep.Summary
	s.Records++
	switch r.Msg {
	case "smtp.intent", "graph.intent":
		m := b.message(r)
		m.intent = true
		m.fill(r)
		if !r.OutboxDelivery {
			b.lastIntent[r.Profile] = m
		}
	case "outbox.queued":
		m := b.message(r)
		m.queued = true
		m.fill(r)
	case "outbox.attempt":
		m := b.message(r)
		m.queued = true
		if r.Outbox != nil && r.Outbox.Attempt > m.Attempts {
			m.Attempts = r.Outbox.Attempt
		}
	case "smtp.send", "graph.send":
		return b.send(r)
	case "smtp.error":
		return b.connectError(r)
	case "outbox.deferred":
		m := b.message(r)
		if r.Outbox != nil && r.Outbox.Reason != "interrupted" {
			m.deferred++
			m.LastError = r.Outbox.Error
			m.refused = strings.Contains(r.Outbox.Error, "audit trail could not record")
			if m.refused && b.wanted(m) {
				s.failure(r.Time, &errorInfo{Text: r.Outbox.Error, Class: classAudit}, "")
			}
		}
	case "outbox.delivered":
		m := b.message(r)
		if r.QueueID != "" {
			m.QueueID = r.QueueID
		}
		if r.Outbox != nil && r.Outbox.AgeMS != nil {
			age := *r.Outbox.AgeMS
			m.LatencyMS = &age
		}
		out := OutcomeDelivered
		if m.deferred > 0 {
			out = OutcomeDeferredDelivered
		}
		return b.close(m, out, r)
	case "outbox.dead":
		m := b.message(r)
		if r.Outbox != nil {
			m.LastError = r.Outbox.Error
		}
		if m.refused && b.wanted(m) {
			return b.close(m, OutcomeRefused, r)
		}
		return b.close(m, OutcomeDead, r)
	case "outbox.purged", "outbox.retry", "outbox.quarantined":
		m := b.message(r)
		if b.wanted(m) {
			s.action(r)
		}
		if r.Msg == "outbox.retry" {
			m.queued = true
		}
		if r.Msg == "outbox.purged" {
			return b.close(m, OutcomePurged, r)
		}
	case "smtp.probe", "graph.check":
		if b.opts.Profile == "" || r.Profile == b.opts.Profile {
			s.Probes++
		}
	}
	return nil
}

// send takes an smtp.send or graph.send summary.
func (b *builder) send(r *record) error {
	if r.Probe {
		return nil
	}
	s := &b.rep.Summary
	m := b.pending(r)
	m.fill(r)
	if r.DurationMS != nil && !r.OutboxDelivery {
		d := *r.DurationMS
		m.LatencyMS = &d
	}
	if r.QueueID != "" {
		m.QueueID = r.QueueID
	}
	if !r.OutboxDelivery && !m.queued {
		m.Attempts++
	}
	if r.failed() {
		text := ""
		if r.errInfo != nil {
			text = r.errInfo.Text
			if b.wanted(m) {
				s.failure(r.Time, r.errInfo, r.Hint)
			}
		}
		m.LastError = text
		if !r.OutboxDelivery && !m.queued {
			return b.close(m, OutcomeFailed, r)
		}
		return nil
	}
	if b.wanted(m) {
		s.sent(r.Time)
	}
	if !r.OutboxDelivery && !m.queued {
		return b.close(m, OutcomeDelivered, r)
	}
	return nil
}

// connectError takes an smtp.error record. Failures after the connection
// was set up (MAIL, RCPT, DATA) are counted from the smtp.send summary that
// follows; the others end a session before any summary. They carry no
// Message-ID: a direct send's failure is joined to the latest send of the
// same profile that has an intent and no outcome yet.
func (b *builder) connectError(r *record) error {
	if r.Probe || r.errInfo == nil {
		return nil
	}
	switch r.errInfo.Stage {
	case "mail", "rcpt", "data", "quit", "bdat":
		return nil
	}
	if b.opts.Profile == "" || r.Profile == b.opts.Profile {
		b.rep.Summary.failure(r.Time, r.errInfo, r.Hint)
	}
	if r.OutboxDelivery {
		return nil // the outbox.deferred or outbox.dead that follows decides
	}
	m := b.pending(r)
	m.fill(r)
	m.LastError = r.errInfo.Text
	m.Attempts++
	return b.close(m, OutcomeFailed, r)
}

// pending returns the message a direct send's summary or error belongs to:
// by Message-ID, or else the latest intent of the profile still without an
// outcome.
func (b *builder) pending(r *record) *Message {
	if r.MessageID == "" && !r.OutboxDelivery {
		if m := b.lastIntent[r.Profile]; m != nil && b.open[m.key] == m {
			m.LastSeq = r.Seq
			return m
		}
	}
	return b.message(r)
}

// message returns the open message the record belongs to, creating it.
func (b *builder) message(r *record) *Message {
	key := r.MessageID
	if key == "" {
		b.seq++
		key = fmt.Sprintf("\x00%d", b.seq) // never joined with another record
	}
	m := b.open[key]
	if m == nil {
		m = &Message{Time: r.Time, MessageID: r.MessageID, FirstSeq: r.Seq, key: key}
		b.open[key] = m
	}
	m.LastSeq = r.Seq
	if m.Profile == "" && r.Profile != "" {
		m.Profile = r.Profile
	}
	return m
}

func (b *builder) wanted(m *Message) bool {
	return b.opts.Profile == "" || m.Profile == b.opts.Profile
}

// close gives a message its outcome and writes its row.
func (b *builder) close(m *Message, out Outcome, r *record) error {
	delete(b.open, m.key)
	if b.lastIntent[m.Profile] == m {
		delete(b.lastIntent, m.Profile)
	}
	m.Outcome = out
	m.OutcomeTime = r.Time
	return b.emit(m)
}

func (b *builder) emit(m *Message) error {
	if !b.wanted(m) {
		return nil
	}
	if m.Transport == "" {
		m.Transport = "smtp"
	}
	b.rep.Summary.message(m)
	if err := b.enc.Encode(m); err != nil {
		return fmt.Errorf("report: writing the message table: %w", err)
	}
	b.rep.spillRows++
	return nil
}

// finish writes the messages still open, oldest first, and flushes.
func (b *builder) finish() error {
	rest := make([]*Message, 0, len(b.open))
	for _, m := range b.open {
		rest = append(rest, m)
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].FirstSeq < rest[j].FirstSeq })
	for _, m := range rest {
		switch {
		case m.refused:
			m.Outcome = OutcomeRefused
		case m.queued:
			m.Outcome = OutcomeQueued
		default:
			m.Outcome = OutcomeNoOutcome
		}
		if err := b.emit(m); err != nil {
			return err
		}
	}
	b.open = nil
	s := &b.rep.Summary
	s.UsualGap = b.gaps.usual()
	s.SilenceOver = b.opts.Silence
	if s.SilenceOver <= 0 {
		s.SilenceOver = max(4*s.UsualGap, time.Hour)
	}
	s.Silences = b.gaps.silences(b.opts.From, b.opts.To, s.SilenceOver)
	s.finish(b.opts.From, b.opts.To)
	if err := b.out.Flush(); err != nil {
		return fmt.Errorf("report: writing the message table: %w", err)
	}
	return nil
}

// trailEvent notes the trail's own records a reviewer should see.
func (b *builder) trailEvent(r *record, raw []byte) {
	v := &b.rep.Verdict
	switch {
	case r.Msg == audit.MsgOpen && (r.Reason == "start" || r.Reason == "rotate" || r.Reason == "resume"):
		return
	case r.Msg == audit.MsgSeal:
		return
	case r.Msg == audit.MsgOpen && r.Reason == "recover":
		v.Events = append(v.Events, TrailEvent{Seq: r.Seq, Time: r.Time, Msg: r.Msg,
			Detail: "a write to the trail failed and the writer continued in a new file (reason recover): under fail-closed the sends of that moment were refused"})
	case r.Msg == audit.MsgOpen && r.Reason == audit.ReasonActiveMissing:
		v.Events = append(v.Events, TrailEvent{Seq: r.Seq, Time: r.Time, Msg: r.Msg,
			Detail: "the writer found its active file missing when it started: records written to it may have been deleted"})
	default:
		// A gap or crash record, or another of the trail's own events:
		// shown with all its fields.
		d := eventFields(raw)
		if d == "" {
			d = "(no details)"
		}
		v.Events = append(v.Events, TrailEvent{Seq: r.Seq, Time: r.Time, Msg: r.Msg, Detail: d})
	}
}

// eventFields renders the fields of a trail record other than the chain and
// time fields as "key=value" pairs in key order (values as JSON).
func eventFields(raw []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		switch k {
		case "seq", "prev", "hash", "time", "level", "msg":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := string(m[k])
		var str string
		if json.Unmarshal(m[k], &str) == nil {
			v = str
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}
