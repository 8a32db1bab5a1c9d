package audit

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"
)

// memSink keeps entries in memory; it is the sink for tests of the Handler
// itself. fail, when set, is returned by Write; gate, when set, blocks Write
// until it is closed.
type memSink struct {
	mu      sync.Mutex
	entries []*Entry
	fail    error
	gate    chan struct{}
	closed  bool
}

func (m *memSink) Write(_ context.Context, e *Entry) error {
	if m.gate != nil {
		<-m.gate
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.entries = append(m.entries, e)
	return nil
}

func (m *memSink) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}

func (m *memSink) objects(t *testing.T) []map[string]any {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []map[string]any
	for _, e := range m.entries {
		var o map[string]any
		if err := json.Unmarshal(e.JSON(), &o); err != nil {
			t.Fatalf("entry is not JSON: %v: %s", err, e.JSON())
		}
		out = append(out, o)
	}
	return out
}

// TestSlogtest runs the standard library's conformance tests for handlers.
// One rule is deliberately broken: an audit record always has a time, so a
// record with a zero time gets the time it was handled.
func TestSlogtest(t *testing.T) {
	m := &memSink{}
	h := NewHandler(m, nil)
	err := slogtest.TestHandler(h, func() []map[string]any { return m.objects(t) })
	for _, e := range unjoin(err) {
		if strings.Contains(e.Error(), "zero Record.Time") {
			continue
		}
		t.Error(e)
	}
}

func unjoin(err error) []error {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		return u.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}

type token string

func (token) LogValue() slog.Value { return slog.StringValue(Redacted) }

type proxyConf struct {
	URL      string
	User     string
	Password string
	Nested   struct {
		APIKey string `json:"api_key"`
		Keep   []int
	}
}

func TestEncoding(t *testing.T) {
	m := &memSink{}
	h := NewHandler(m, &Options{Secret: func(k string) bool { return k == "kerberos_keytab" }})
	pc := proxyConf{URL: "socks5://127.0.0.1:1080", User: "u", Password: "s3cr3t-proxy"}
	pc.Nested.APIKey = "s3cr3t-api"
	pc.Nested.Keep = []int{1, 2}
	log := slog.New(h).With("profile", "exchange").WithGroup("send")
	log.Info("smtp.send",
		slog.Group("auth", "mech", "PLAIN", "user", "alice", "password", "s3cr3t-pw"),
		slog.Group("tls"), // empty: left out
		"rcpts", []string{"a@example.com", "ü@example.com"},
		"proxy", pc,
		"token", token("s3cr3t-token"),
		"Proxy-Authorization", "Basic czNjcjN0",
		"kerberos_keytab", "s3cr3t-keytab",
		"err", errors.New("boom"),
		"took", 1500*time.Millisecond,
		"line", "a\nb\x00\"",
	)
	raw := string(m.entries[0].JSON())
	for _, s := range []string{"s3cr3t", "czNjcjN0"} {
		if strings.Contains(raw, s) {
			t.Errorf("secret %q in %s", s, raw)
		}
	}
	for _, c := range raw {
		if c < 0x20 || c > 0x7e {
			t.Fatalf("non-ASCII or control character %q in %s", c, raw)
		}
	}
	o := m.objects(t)[0]
	if o["profile"] != "exchange" || o["msg"] != "smtp.send" || o["level"] != "INFO" {
		t.Errorf("top level: %v", o)
	}
	send := o["send"].(map[string]any)
	auth := send["auth"].(map[string]any)
	if auth["mech"] != "PLAIN" || auth["user"] != "alice" || auth["password"] != Redacted {
		t.Errorf("auth = %v", auth)
	}
	if _, ok := send["tls"]; ok {
		t.Error("empty group written")
	}
	if r := send["rcpts"].([]any); r[1] != "ü@example.com" {
		t.Errorf("rcpts = %v", r)
	}
	p := send["proxy"].(map[string]any)
	if p["URL"] != "socks5://127.0.0.1:1080" || p["Password"] != Redacted || p["Nested"].(map[string]any)["api_key"] != Redacted ||
		len(p["Nested"].(map[string]any)["Keep"].([]any)) != 2 {
		t.Errorf("proxy = %v", p)
	}
	if send["token"] != Redacted || send["Proxy-Authorization"] != Redacted || send["kerberos_keytab"] != Redacted {
		t.Errorf("secrets: %v", send)
	}
	if send["err"] != "boom" || send["took"] != float64(1500*time.Millisecond) || send["line"] != "a\nb\x00\"" {
		t.Errorf("values: %v", send)
	}
	if _, err := time.Parse(time.RFC3339Nano, o["time"].(string)); err != nil {
		t.Error(err)
	}
}

func TestReservedKeysRenamed(t *testing.T) {
	m := &memSink{}
	slog.New(NewHandler(m, nil)).Info(MsgSeal, "seq", 7, "HASH", "x", "msg", "y")
	o := m.objects(t)[0]
	if o["msg"] != "x_"+MsgSeal || o["x_seq"] != 7.0 || o["x_HASH"] != "x" || o["x_msg"] != "y" {
		t.Errorf("got %v", o)
	}
}

func TestIsSecretKey(t *testing.T) {
	for _, k := range []string{"password", "Password", "proxy_password", "smtp.passwd", "client_secret", "access_token",
		"Authorization", "Proxy-Authorization", "auth_payload", "credentials", "private_key", "privateKey",
		"cookie", "Set-Cookie", "key_passphrase", "api-key", "pin", "PIN"} {
		if !IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = false", k)
		}
	}
	for _, k := range []string{"user", "mech", "auth", "server", "from", "rcpts", "peer_sha256", "message_id",
		"queue_id", "cipher", "spinner", "key_usage", "size"} {
		if IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = true", k)
		}
	}
}

func TestFailClosed(t *testing.T) {
	boom := errors.New("disk on fire")
	m := &memSink{fail: boom}
	var reported []error
	h := NewHandler(Named("file", m), &Options{OnError: func(err error) { reported = append(reported, err) }})
	tr := h.Track()
	other := h.Track()
	err := tr.Record(context.Background(), slog.LevelInfo, "smtp.intent")
	var se *SinkError
	if !errors.Is(err, boom) || !errors.As(err, &se) || se.Sink != "file" {
		t.Fatalf("Record = %v", err)
	}
	if err.Error() != "audit: file: disk on fire" {
		t.Errorf("message = %q", err)
	}
	if !errors.Is(tr.Err(), boom) || !errors.Is(tr.Wait(context.Background()), boom) || !errors.Is(h.Err(), boom) {
		t.Error("failure not remembered")
	}
	if other.Err() != nil {
		t.Error("another tracker saw this failure")
	}
	if len(reported) != 1 || h.Stats().Failed != 1 {
		t.Errorf("reported %v, stats %+v", reported, h.Stats())
	}
	// Handle via a Logger derived from the tracker: the error is remembered
	// even though slog.Logger drops it.
	tr2 := h.Track()
	slog.New(tr2).With("profile", "p").Info("smtp.send")
	if !errors.Is(tr2.Err(), boom) {
		t.Error("tracker lost the failure of a derived logger")
	}
}

func TestFailOpen(t *testing.T) {
	boom := errors.New("disk on fire")
	m := &memSink{fail: boom}
	var reported []error
	h := NewHandler(m, &Options{Policy: FailOpen, OnError: func(err error) { reported = append(reported, err) }})
	tr := h.Track()
	if err := tr.Record(context.Background(), slog.LevelInfo, "smtp.send"); err != nil {
		t.Errorf("Record = %v, want nil under fail-open", err)
	}
	if tr.Err() != nil || tr.Wait(context.Background()) != nil || h.Err() != nil {
		t.Error("fail-open remembered a failure")
	}
	if len(reported) != 1 || !errors.Is(reported[0], boom) || h.Stats().Failed != 1 {
		t.Errorf("reported %v, stats %+v", reported, h.Stats())
	}
}

// TestAsyncBoundedQueue: a sink that blocks never blocks the caller for
// longer than queueing; overflow is an error under fail-closed and a
// counted drop under fail-open.
func TestAsyncBoundedQueue(t *testing.T) {
	for _, policy := range []Policy{FailClosed, FailOpen} {
		t.Run(policy.String(), func(t *testing.T) {
			slow := &memSink{gate: make(chan struct{})}
			a := NewAsync(slow, 4)
			h := NewHandler(a, &Options{Policy: policy})
			tr := h.Track()
			ctx := context.Background()
			var errs []error
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range 10 {
					errs = append(errs, tr.Record(ctx, slog.LevelInfo, "smtp.send"))
				}
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the caller was stalled by a slow sink")
			}
			// One entry is in the sink's Write, four queued, five refused.
			// The goroutine may not have taken the first yet, so 5 or 6
			// were refused.
			refused := 0
			for _, err := range errs {
				if err != nil {
					if !errors.Is(err, ErrQueueFull) {
						t.Errorf("err = %v", err)
					}
					refused++
				}
			}
			st := h.Stats()
			switch policy {
			case FailClosed:
				if refused < 5 || refused > 6 || !errors.Is(tr.Err(), ErrQueueFull) {
					t.Errorf("refused %d, Err %v", refused, tr.Err())
				}
			case FailOpen:
				if refused != 0 || tr.Err() != nil {
					t.Errorf("fail-open returned errors: %v", errs)
				}
			}
			if st.Dropped < 5 || st.Dropped > 6 || st.Records != 10 {
				t.Errorf("stats = %+v", st)
			}
			close(slow.gate)
			if err := a.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if got := len(slow.entries); uint64(got) != 10-st.Dropped {
				t.Errorf("sink got %d entries, want %d", got, 10-st.Dropped)
			}
			h.Close()
			if !slow.closed {
				t.Error("Close did not reach the sink")
			}
		})
	}
}

// TestAsyncLateFailure: a failure in the background reaches the tracker of
// the record that failed by the time Wait returns.
func TestAsyncLateFailure(t *testing.T) {
	boom := errors.New("syslog gone")
	m := &memSink{fail: boom}
	h := NewHandler(Multi(Named("syslog", NewAsync(m, 8)), &memSink{}), nil)
	tr := h.Track()
	if err := tr.Record(context.Background(), slog.LevelInfo, "smtp.send"); err != nil {
		t.Fatalf("Record = %v, want nil (queued)", err)
	}
	err := tr.Wait(context.Background())
	var se *SinkError
	if !errors.Is(err, boom) || !errors.As(err, &se) || se.Sink != "syslog" {
		t.Errorf("Wait = %v", err)
	}
	if h.Stats().Failed != 1 {
		t.Errorf("stats = %+v", h.Stats())
	}
}

func TestMultiKeepsGoing(t *testing.T) {
	boom := errors.New("boom")
	a, b := &memSink{fail: boom}, &memSink{}
	h := NewHandler(Multi(Named("a", a), Named("b", b)), nil)
	if err := h.Record(context.Background(), slog.LevelInfo, "x"); !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
	if len(b.entries) != 1 {
		t.Error("a failing sink kept the entry from the next")
	}
}

func TestLevel(t *testing.T) {
	m := &memSink{}
	h := NewHandler(m, &Options{Level: slog.LevelWarn})
	slog.New(h).Info("quiet")
	slog.New(h).Warn("loud")
	if len(m.entries) != 1 || m.entries[0].Msg != "loud" {
		t.Errorf("entries = %d", len(m.entries))
	}
	if eventID(slog.LevelError) != EventIDError || eventID(slog.LevelWarn) != EventIDWarning || eventID(slog.LevelInfo) != EventIDInfo {
		t.Error("event IDs")
	}
}
