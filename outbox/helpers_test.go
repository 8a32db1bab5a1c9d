package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manual clock; Sleep advances it.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.slept = append(c.slept, d)
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// events records the slog records an Outbox writes.
type events struct {
	mu   sync.Mutex
	recs []rec
}

type rec struct {
	msg   string
	attrs map[string]string
}

func (e *events) Enabled(context.Context, slog.Level) bool { return true }
func (e *events) WithAttrs([]slog.Attr) slog.Handler       { return e }
func (e *events) WithGroup(string) slog.Handler            { return e }
func (e *events) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{}
	var walk func(prefix string, a slog.Attr)
	walk = func(prefix string, a slog.Attr) {
		if a.Value.Kind() == slog.KindGroup {
			for _, g := range a.Value.Group() {
				walk(prefix+a.Key+".", g)
			}
			return
		}
		m[prefix+a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { walk("", a); return true })
	e.mu.Lock()
	e.recs = append(e.recs, rec{r.Message, m})
	e.mu.Unlock()
	return nil
}

func (e *events) names() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, r := range e.recs {
		if r.msg != "outbox.paced" {
			out = append(out, r.msg)
		}
	}
	return out
}

func (e *events) find(msg string) []rec {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []rec
	for _, r := range e.recs {
		if r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// script is a Deliverer that answers from a list of outcomes and records
// what it received.
type script struct {
	mu      sync.Mutex
	answers []error // nil: accept
	got     []string
	ids     []string
	calls   int
	clock   *fakeClock
	times   []time.Time
}

func (s *script) Deliver(ctx context.Context, env Envelope, open Opener) (string, error) {
	r, err := open()
	if err != nil {
		return "", err
	}
	b, rerr := io.ReadAll(r)
	r.(io.Closer).Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.clock != nil {
		s.times = append(s.times, s.clock.Now())
	}
	if rerr != nil {
		return "", rerr
	}
	var ans error
	if len(s.answers) > 0 {
		ans, s.answers = s.answers[0], s.answers[1:]
	}
	if ans != nil {
		return "", ans
	}
	s.got = append(s.got, string(b))
	s.ids = append(s.ids, env.MessageID)
	return fmt.Sprintf("Q%d", len(s.got)), nil
}

// smtpErr imitates transport.Error's classification.
type smtpErr struct{ code int }

func (e *smtpErr) Error() string   { return fmt.Sprintf("fake: %d refused", e.code) }
func (e *smtpErr) Temporary() bool { return e.code/100 == 4 }

func open(t *testing.T, cfg Config) (*Outbox, *events) {
	t.Helper()
	ev := &events{}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.Logger = slog.New(ev)
	o, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o, ev
}

func body(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

func enqueue(t *testing.T, o *Outbox, mid, text string) Entry {
	t.Helper()
	e, err := o.Enqueue(context.Background(), Envelope{From: "a@example.com", To: []string{"b@example.org"}, MessageID: mid}, body(text))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustList(t *testing.T, o *Outbox) []Entry {
	t.Helper()
	l, err := o.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func message(n int) string {
	return fmt.Sprintf("Message-ID: <%d@example.com>\r\nSubject: alert %d\r\n\r\n%s\r\n", n, n, strings.Repeat("x", n%50))
}

var errPlain = errors.New("something permanent")

// deliverEach delivers a batch's entries with d one by one: a Deliverer
// as a BatchDeliverer.
func deliverEach(ctx context.Context, d Deliverer, entries []BatchEntry) []BatchOutcome {
	out := make([]BatchOutcome, len(entries))
	for i, e := range entries {
		out[i].QueueID, out[i].Err = d.Deliver(ctx, e.Envelope, e.Open)
	}
	return out
}
