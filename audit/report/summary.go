package report

import (
	"container/heap"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Outcome is what became of a message.
type Outcome string

const (
	OutcomeDelivered         Outcome = "delivered"           // accepted by the relay at the first attempt
	OutcomeDeferredDelivered Outcome = "deferred-delivered"  // accepted after one or more deferrals
	OutcomeDead              Outcome = "dead"                // dead-lettered by the outbox (permanent or expired)
	OutcomeFailed            Outcome = "failed"              // a direct send (no outbox) that failed
	OutcomeRefused           Outcome = "refused-fail-closed" // not sent because the audit trail could not record it
	OutcomeQueued            Outcome = "still-queued"        // in the outbox at the end of the period
	OutcomePurged            Outcome = "purged"              // deleted by an operator without being sent
	OutcomeNoOutcome         Outcome = "no-outcome"          // an intent with nothing after it (the sender stopped)
)

// Outcomes lists the outcomes in the order the report shows them.
var Outcomes = []Outcome{OutcomeDelivered, OutcomeDeferredDelivered, OutcomeDead, OutcomeFailed,
	OutcomeRefused, OutcomeQueued, OutcomePurged, OutcomeNoOutcome}

// Label is the outcome in words.
func (o Outcome) Label() string {
	switch o {
	case OutcomeDelivered:
		return "delivered"
	case OutcomeDeferredDelivered:
		return "deferred, then delivered"
	case OutcomeDead:
		return "dead-lettered"
	case OutcomeFailed:
		return "failed (direct send)"
	case OutcomeRefused:
		return "refused (fail-closed audit)"
	case OutcomeQueued:
		return "still queued"
	case OutcomePurged:
		return "purged by an operator"
	case OutcomeNoOutcome:
		return "no outcome recorded"
	}
	return string(o)
}

// bad reports whether the outcome is a message that did not go out.
func (o Outcome) bad() bool {
	return o == OutcomeDead || o == OutcomeFailed || o == OutcomeRefused || o == OutcomePurged || o == OutcomeNoOutcome
}

// A Message is one row of the message table (HTML, CSV, JSON).
type Message struct {
	Time            time.Time `json:"time"`
	OutcomeTime     time.Time `json:"outcome_time,omitzero"`
	MessageID       string    `json:"message_id"`
	From            string    `json:"from"`
	Rcpts           []string  `json:"rcpts"`
	Profile         string    `json:"profile"`
	Transport       string    `json:"transport"`
	Relay           string    `json:"relay"`
	QueueID         string    `json:"queue_id"`
	TLS             string    `json:"tls"`
	AuthMech        string    `json:"auth_mech"`
	AuthUser        string    `json:"auth_user"`
	SMIMESigner     string    `json:"smime_signer_sha256"`
	SMIMERecipients []string  `json:"smime_recipients_sha256"`
	Outcome         Outcome   `json:"outcome"`
	Attempts        int       `json:"attempts"`
	LatencyMS       *int64    `json:"latency_ms"`
	LastError       string    `json:"last_error"`
	Test            bool      `json:"test"`
	FirstSeq        uint64    `json:"first_seq"`
	LastSeq         uint64    `json:"last_seq"`

	key      string
	intent   bool
	queued   bool
	refused  bool // the last deferral was a fail-closed audit refusal
	deferred int
}

// fill takes what a record says about its message.
func (m *Message) fill(r *record) {
	if m.From == "" {
		m.From = r.From
	}
	if rc := r.rcpts(); len(rc) > 0 && len(m.Rcpts) == 0 {
		m.Rcpts = rc
	}
	if r.Transport != "" || strings.HasPrefix(r.Msg, "graph.") {
		m.Transport = r.transportName()
	} else if m.Transport == "" && strings.HasPrefix(r.Msg, "smtp.") {
		m.Transport = "smtp"
	}
	if rl := r.relay(); rl != "" {
		m.Relay = rl
	}
	if r.TLS != nil {
		m.TLS = strings.TrimSpace(r.TLS.Version + " " + r.TLS.Cipher)
		if m.TLS == "" {
			m.TLS = "none"
		}
	} else if r.Endpoint != "" && strings.HasPrefix(r.Endpoint, "https://") && m.TLS == "" {
		m.TLS = "HTTPS"
	}
	if r.Auth != nil {
		m.AuthMech, m.AuthUser = r.Auth.Mech, r.Auth.User
	}
	if r.SMIME != nil {
		if r.SMIME.Signer != "" {
			m.SMIMESigner = r.SMIME.Signer
		}
		if len(r.SMIME.Recipients) > 0 {
			m.SMIMERecipients = r.SMIME.Recipients
		}
	}
	if r.Test {
		m.Test = true
	}
}

// A Count is the messages of one group by outcome.
type Count struct {
	Key      string          `json:"key"`
	Messages int             `json:"messages"`
	By       map[Outcome]int `json:"by_outcome"`
}

// Delivered counts the messages that were delivered (at once or after deferrals).
func (c *Count) Delivered() int { return c.By[OutcomeDelivered] + c.By[OutcomeDeferredDelivered] }

// NotSent counts the messages that did not go out (dead, failed, refused, purged, no outcome).
func (c *Count) NotSent() int {
	n := 0
	for o, k := range c.By {
		if o.bad() {
			n += k
		}
	}
	return n
}

// A FailureGroup is the failures of one class and kind, with the hint.
type FailureGroup struct {
	Class   string    `json:"class"`
	What    string    `json:"what"` // stage and reply code, or Graph's code
	Hint    string    `json:"hint"`
	Example string    `json:"example"` // the error text of the first one
	Count   int       `json:"count"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
}

// An Action is an operator's (or the outbox's own) action on a spooled message.
type Action struct {
	Time      time.Time `json:"time"`
	Seq       uint64    `json:"seq"`
	Action    string    `json:"action"` // retry, purge, quarantine
	MessageID string    `json:"message_id"`
	SpoolID   string    `json:"spool_id"`
	Who       string    `json:"who"`
	Attempts  int       `json:"attempts"`
	Detail    string    `json:"detail"`
}

// A Bucket is one interval of the activity chart.
type Bucket struct {
	Start    time.Time `json:"start"`
	Sent     int       `json:"sent"`
	Failures int       `json:"failures"`
}

// A Silence is a stretch with no record at all.
type Silence struct {
	From     time.Time     `json:"from"`
	To       time.Time     `json:"to"`
	Duration time.Duration `json:"duration_ns"`
	// AfterSeq is the last record before the silence (0 at the start of
	// the period).
	AfterSeq uint64 `json:"after_seq"`
}

// Summary holds the aggregates of the report.
type Summary struct {
	Records        int             `json:"records"` // records in the period
	Messages       int             `json:"messages"`
	ByOutcome      map[Outcome]int `json:"by_outcome"`
	ByTransport    []*Count        `json:"by_transport"`
	ByProfile      []*Count        `json:"by_profile"`
	ByRelay        []*Count        `json:"by_relay"`
	Tests          int             `json:"test_sends"`
	Probes         int             `json:"probes"`
	Failures       []*FailureGroup `json:"failures"`
	FailureCount   int             `json:"failure_count"`
	Actions        []Action        `json:"actions"`
	ActionsDropped int             `json:"actions_not_listed"`
	// Step is the width of a chart bucket: an hour, or a day for periods
	// longer than three days.
	Step        time.Duration `json:"step_ns"`
	Activity    []Bucket      `json:"activity"`
	Latency     Latency       `json:"latency"`
	Silences    []Silence     `json:"silences"`
	SilenceOver time.Duration `json:"silence_threshold_ns"`
	UsualGap    time.Duration `json:"usual_gap_ns"`

	transports, profiles, relays map[string]*Count
	failures                     map[string]*FailureGroup
	hours                        map[int64]*Bucket
}

// maxGroups and maxActions bound what the summary keeps in memory; beyond
// them groups are merged into "other" and actions are counted only.
const (
	maxGroups  = 500
	maxActions = 10000
)

func (s *Summary) init() {
	s.ByOutcome = map[Outcome]int{}
	s.transports, s.profiles, s.relays = map[string]*Count{}, map[string]*Count{}, map[string]*Count{}
	s.failures = map[string]*FailureGroup{}
	s.hours = map[int64]*Bucket{}
}

func (s *Summary) bucket(t time.Time) *Bucket {
	h := t.Truncate(time.Hour).Unix()
	b := s.hours[h]
	if b == nil {
		b = &Bucket{Start: time.Unix(h, 0).UTC()}
		s.hours[h] = b
	}
	return b
}

func (s *Summary) sent(t time.Time) { s.bucket(t).Sent++ }

func (s *Summary) failure(t time.Time, e *errorInfo, hint string) {
	s.FailureCount++
	s.bucket(t).Failures++
	class := e.class()
	what := e.Stage
	switch {
	case e.GraphCode != "":
		what = strings.TrimSpace(fmt.Sprintf("HTTP %d %s", e.Status, e.GraphCode))
	case e.Code != 0:
		what = strings.TrimSpace(fmt.Sprintf("%s %d %s", e.Stage, e.Code, e.Enhanced))
	case e.Status != 0:
		what = fmt.Sprintf("HTTP %d", e.Status)
	}
	if hint == "" {
		hint = classHint(class)
	}
	key := class + "\x00" + what + "\x00" + hint
	g := s.failures[key]
	if g == nil {
		if len(s.failures) >= maxGroups {
			key = class + "\x00other"
			g = s.failures[key]
		}
		if g == nil {
			g = &FailureGroup{Class: class, What: what, Hint: hint, Example: e.Text, First: t}
			if len(s.failures) >= maxGroups {
				g.What, g.Example = "other", ""
			}
			s.failures[key] = g
		}
	}
	g.Count++
	g.Last = t
}

// classHint is the advice for a class when the record carries none.
func classHint(class string) string {
	switch class {
	case classConnection:
		return "check the relay's address, the proxy and the TLS settings (certificate, STARTTLS) from the sending host"
	case classAuth:
		return "check the credentials, token or Kerberos ticket of the profile and that the relay offers the mechanism"
	case classRejected:
		return "the relay refused the message permanently: see its reply text"
	case classTemporary:
		return "the relay asked to try again later; the outbox retries these"
	case classUsage:
		return "the profile or the message is invalid: see the error text"
	case classAudit:
		return "the audit trail could not record the send (disk full, permissions, syslog down); nothing was sent"
	}
	return ""
}

func (s *Summary) action(r *record) {
	a := Action{Time: r.Time, Seq: r.Seq, MessageID: r.MessageID, Who: r.Operator}
	switch r.Msg {
	case "outbox.retry":
		a.Action = "retry"
	case "outbox.purged":
		a.Action = "purge"
	case "outbox.quarantined":
		a.Action, a.Who = "quarantine", "outbox"
	}
	if r.Outbox != nil {
		a.SpoolID, a.Attempts = r.Outbox.SpoolID, r.Outbox.Attempt
		a.Detail = r.Outbox.Error
		if r.Outbox.Reason != "" {
			a.Detail = strings.TrimSpace(r.Outbox.Reason + "; " + a.Detail)
		}
	}
	if a.Who == "" {
		a.Who = "(not recorded)"
	}
	if len(s.Actions) >= maxActions {
		s.ActionsDropped++
		return
	}
	s.Actions = append(s.Actions, a)
}

func (s *Summary) message(m *Message) {
	s.Messages++
	s.ByOutcome[m.Outcome]++
	if m.Test {
		s.Tests++
	}
	count := func(set map[string]*Count, key string) {
		if key == "" {
			key = "(none)"
		}
		c := set[key]
		if c == nil {
			if len(set) >= maxGroups {
				key = "(other)"
				c = set[key]
			}
			if c == nil {
				c = &Count{Key: key, By: map[Outcome]int{}}
				set[key] = c
			}
		}
		c.Messages++
		c.By[m.Outcome]++
	}
	count(s.transports, m.Transport)
	count(s.profiles, m.Profile)
	count(s.relays, m.Relay)
	if m.LatencyMS != nil && (m.Outcome == OutcomeDelivered || m.Outcome == OutcomeDeferredDelivered) {
		s.Latency.add(time.Duration(*m.LatencyMS) * time.Millisecond)
	}
}

func sortedCounts(set map[string]*Count) []*Count {
	out := make([]*Count, 0, len(set))
	for _, c := range set {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Messages != out[j].Messages {
			return out[i].Messages > out[j].Messages
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// finish turns the maps into sorted lists and picks the chart's step.
func (s *Summary) finish(from, to time.Time) {
	s.ByTransport, s.ByProfile, s.ByRelay = sortedCounts(s.transports), sortedCounts(s.profiles), sortedCounts(s.relays)
	for _, g := range s.failures {
		s.Failures = append(s.Failures, g)
	}
	sort.Slice(s.Failures, func(i, j int) bool {
		a, b := s.Failures[i], s.Failures[j]
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.What < b.What
	})
	var lo, hi int64
	first := true
	for h := range s.hours {
		if first || h < lo {
			lo = h
		}
		if first || h > hi {
			hi = h
		}
		first = false
	}
	if !from.IsZero() {
		lo = from.Truncate(time.Hour).Unix()
		first = false
	}
	if !to.IsZero() {
		hi = to.Add(-time.Nanosecond).Truncate(time.Hour).Unix()
	}
	s.Step = time.Hour
	if first {
		return
	}
	if hi-lo > 3*24*3600 {
		s.Step = 24 * time.Hour
	}
	step := int64(s.Step / time.Second)
	lo -= lo % step
	days := map[int64]*Bucket{}
	for h, b := range s.hours {
		d := h - h%step
		if days[d] == nil {
			days[d] = &Bucket{Start: time.Unix(d, 0).UTC()}
		}
		days[d].Sent += b.Sent
		days[d].Failures += b.Failures
	}
	for t := lo; t <= hi; t += step {
		if b := days[t]; b != nil {
			s.Activity = append(s.Activity, *b)
		} else {
			s.Activity = append(s.Activity, Bucket{Start: time.Unix(t, 0).UTC()})
		}
	}
}

// Latency is the distribution of delivery latency (queued → delivered for
// the outbox, the session for a direct send).
type Latency struct {
	Count  int           `json:"count"`
	Max    time.Duration `json:"max_ns"`
	Sum    time.Duration `json:"sum_ns"`
	Counts []int         `json:"counts"` // per LatencyBounds bucket
}

// LatencyBounds are the upper bounds of the latency buckets; the last
// bucket has none.
var LatencyBounds = []time.Duration{time.Second, 10 * time.Second, time.Minute, 10 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}

func (l *Latency) add(d time.Duration) {
	if l.Counts == nil {
		l.Counts = make([]int, len(LatencyBounds)+1)
	}
	i := sort.Search(len(LatencyBounds), func(i int) bool { return d < LatencyBounds[i] })
	l.Counts[i]++
	l.Count++
	l.Sum += d
	l.Max = max(l.Max, d)
}

// BucketLabel names latency bucket i.
func BucketLabel(i int) string {
	if i == 0 {
		return "< " + short(LatencyBounds[0])
	}
	if i == len(LatencyBounds) {
		return "≥ " + short(LatencyBounds[i-1])
	}
	return short(LatencyBounds[i-1]) + "–" + short(LatencyBounds[i])
}

func short(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// gapTracker keeps, in bounded memory, a histogram of the gaps between
// consecutive records (for the usual gap) and the longest gaps (the
// candidate silences).
type gapTracker struct {
	first, last time.Time
	lastSeq     uint64
	n           int
	hist        [4 * 64]int // by gapBucket
	top         gapHeap
}

const keepGaps = 200

func (g *gapTracker) add(t time.Time, seq uint64) {
	if g.n > 0 {
		d := t.Sub(g.last)
		if d < 0 {
			d = 0
		}
		i := gapBucket(d)
		g.hist[i]++
		s := Silence{From: g.last, To: t, Duration: d, AfterSeq: g.lastSeq}
		if len(g.top) < keepGaps {
			heap.Push(&g.top, s)
		} else if d > g.top[0].Duration {
			g.top[0] = s
			heap.Fix(&g.top, 0)
		}
	} else {
		g.first = t
	}
	g.n++
	g.last, g.lastSeq = t, seq
}

// gapBucket is the histogram bucket of a gap: 0 below a millisecond, then
// four buckets per doubling (each about 19% wide).
func gapBucket(d time.Duration) int {
	ms := d.Milliseconds()
	if ms <= 0 {
		return 0
	}
	return min(int(4*math.Log2(float64(ms)))+1, 4*64-1)
}

// usual is the 95th percentile gap (the upper bound of its histogram
// bucket, so within about 19% above).
func (g *gapTracker) usual() time.Duration {
	total := 0
	for _, c := range g.hist {
		total += c
	}
	if total == 0 {
		return 0
	}
	want := (total*95 + 99) / 100
	seen := 0
	for i, c := range g.hist {
		seen += c
		if seen >= want {
			if i == 0 {
				return time.Millisecond
			}
			return time.Duration(math.Exp2(float64(i)/4)) * time.Millisecond
		}
	}
	return 0
}

// silences returns the gaps longer than the threshold, the edges of the
// period included, in time order.
func (g *gapTracker) silences(from, to time.Time, over time.Duration) []Silence {
	var out []Silence
	for _, s := range g.top {
		if s.Duration > over {
			out = append(out, s)
		}
	}
	if g.n > 0 {
		if !from.IsZero() && g.first.Sub(from) > over {
			out = append(out, Silence{From: from, To: g.first, Duration: g.first.Sub(from)})
		}
		if !to.IsZero() && to.Sub(g.last) > over {
			out = append(out, Silence{From: g.last, To: to, Duration: to.Sub(g.last), AfterSeq: g.lastSeq})
		}
	} else if !from.IsZero() && !to.IsZero() {
		out = append(out, Silence{From: from, To: to, Duration: to.Sub(from)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	return out
}

type gapHeap []Silence

func (h gapHeap) Len() int           { return len(h) }
func (h gapHeap) Less(i, j int) bool { return h[i].Duration < h[j].Duration }
func (h gapHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *gapHeap) Push(x any)        { *h = append(*h, x.(Silence)) }
func (h *gapHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
