package report

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/audit"
)

// testKey is the HMAC key of the fixed trails (test only).
var testKey = []byte("mailwarden-report-test-key-32byt")

// fixedClock is the trail writer's clock: it moves only when told, plus one
// millisecond per reading so records are ordered.
type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time {
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *fixedClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// trailWriter writes records with the real audit writer (File sink and
// Handler) under a fixed clock and key, shaped as the transport, the root
// package, graph and the outbox write them (docs/audit-fields.md).
type trailWriter struct {
	t     testing.TB
	path  string
	clock *fixedClock
	h     *audit.Handler
}

func newTrailWriter(t testing.TB, dir string, clock *fixedClock, maxSize int64) *trailWriter {
	t.Helper()
	w := &trailWriter{t: t, path: filepath.Join(dir, "audit.log"), clock: clock}
	w.open(maxSize)
	return w
}

func (w *trailWriter) open(maxSize int64) {
	f, err := audit.OpenFile(audit.FileConfig{Path: w.path, Key: testKey, Now: w.clock.Now, MaxSize: maxSize, Sync: audit.SyncNone})
	if err != nil {
		w.t.Fatal(err)
	}
	w.h = audit.NewHandler(f, &audit.Options{Now: w.clock.Now})
}

func (w *trailWriter) rec(level slog.Level, msg string, attrs ...slog.Attr) {
	if err := w.h.Record(context.Background(), level, msg, attrs...); err != nil {
		w.t.Fatal(err)
	}
}

func (w *trailWriter) close() {
	if err := w.h.Close(); err != nil {
		w.t.Fatal(err)
	}
}

// crash stops the writer the way a killed process does: the active file
// keeps what was written, without a seal, and torn adds half a record.
func (w *trailWriter) crash(torn bool) {
	w.close()
	b, err := os.ReadFile(w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	lines = lines[:len(lines)-1] // the seal Close wrote
	out := strings.Join(lines, "")
	if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	if torn {
		out += `{"seq":999,"prev":"00`
	}
	if err := os.WriteFile(w.path, []byte(out), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// files returns the trail's files, rotated ones first.
func (w *trailWriter) files() []string {
	rot, _ := filepath.Glob(filepath.Join(filepath.Dir(w.path), "audit-*.log"))
	return append(rot, w.path)
}

// Record shapes.

type msgInfo struct {
	profile, id, from string
	rcpts             []string
	server            string
	smime             bool
	test              bool
}

func (m msgInfo) smimeAttr() []slog.Attr {
	if !m.smime {
		return nil
	}
	return []slog.Attr{slog.Group("smime", slog.Bool("signed", true), slog.Bool("encrypted", true),
		slog.String("signer_sha256", "5c1a0f4c9e2b7d3a8f6e1b0c2d4e6f8a9b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e"),
		slog.Any("recipients_sha256", []string{"a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192"}),
		slog.String("hash", "sha256"), slog.String("cipher", "aes256-gcm"))}
}

func (w *trailWriter) intent(m msgInfo, outbox bool) {
	a := []slog.Attr{slog.String("profile", m.profile), slog.String("from", m.from), slog.Any("rcpts", m.rcpts),
		slog.String("message_id", m.id), slog.Int64("size", 2048)}
	if outbox {
		a = append(a, slog.Bool("outbox_delivery", true))
	}
	if m.test {
		a = append(a, slog.Bool("test", true))
	}
	w.rec(slog.LevelInfo, "smtp.intent", append(a, m.smimeAttr()...)...)
}

type rcptReply struct {
	Addr     string `json:"addr"`
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced"`
	Text     string `json:"text"`
}

// send writes an smtp.send summary; code is the final reply (250 or a
// failure at DATA).
func (w *trailWriter) send(m msgInfo, outbox bool, code int, enh, text, qid string) {
	var rr []rcptReply
	for _, r := range m.rcpts {
		rr = append(rr, rcptReply{Addr: r, Code: 250, Enhanced: "2.1.5", Text: "OK"})
	}
	a := []slog.Attr{slog.String("profile", m.profile)}
	if outbox {
		a = append(a, slog.Bool("outbox_delivery", true))
	}
	if m.test {
		a = append(a, slog.Bool("test", true))
	}
	a = append(a, m.smimeAttr()...)
	a = append(a, slog.String("server", m.server), slog.String("addr", "192.0.2.25:587"),
		slog.Group("tls", slog.String("mode", "starttls"), slog.String("version", "TLS 1.3"), slog.String("cipher", "TLS_AES_128_GCM_SHA256"),
			slog.String("peer_sha256", "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0")),
		slog.Group("auth", slog.String("mech", "PLAIN"), slog.String("user", "alerts@example.com")),
		slog.String("from", m.from), slog.Any("rcpts", rr), slog.String("message_id", m.id), slog.Int64("size", 2048),
		slog.Group("reply", slog.Int("code", code), slog.String("enhanced", enh), slog.String("text", text)))
	level := slog.LevelInfo
	if qid != "" {
		a = append(a, slog.String("queue_id", qid))
	}
	a = append(a, slog.Bool("pipelining", true), slog.Bool("chunking", false))
	if code >= 400 {
		level = slog.LevelError
		a = append(a, slog.Group("error", slog.String("stage", "data"), slog.Int("code", code), slog.String("enhanced", enh),
			slog.String("text", text), slog.Bool("temporary", code < 500)))
	}
	a = append(a, slog.Int64("duration_ms", 840))
	w.rec(level, "smtp.send", a...)
}

// connErr writes the smtp.error of a session that failed before any
// message was sent (no Message-ID, as the transport writes it).
func (w *trailWriter) connErr(m msgInfo, outbox bool, stage string, code int, enh, text, hint string) {
	a := []slog.Attr{slog.String("profile", m.profile)}
	if outbox {
		a = append(a, slog.Bool("outbox_delivery", true))
	}
	a = append(a, slog.String("server", m.server), slog.Group("error", slog.String("stage", stage), slog.Int("code", code),
		slog.String("enhanced", enh), slog.String("text", text), slog.Bool("temporary", code == 0 || code < 500)))
	if hint != "" {
		a = append(a, slog.String("hint", hint))
	}
	w.rec(slog.LevelError, "smtp.error", a...)
}

func outboxAttr(spool string, attempt int, extra ...any) slog.Attr {
	return slog.Group("outbox", append([]any{slog.String("spool_id", spool), slog.Int("attempt", attempt)}, extra...)...)
}

func (w *trailWriter) queued(m msgInfo, spool string) {
	w.rec(slog.LevelInfo, "outbox.queued", slog.String("message_id", m.id), slog.String("from", m.from),
		slog.Any("rcpts", m.rcpts), slog.Int64("size", 2048), slog.Group("outbox", slog.String("spool_id", spool)))
}

func (w *trailWriter) outbox(level slog.Level, msg string, m msgInfo, spool string, attempt int, extra ...any) {
	w.rec(level, msg, slog.String("message_id", m.id), outboxAttr(spool, attempt, extra...))
}

func (w *trailWriter) graphSend(m msgInfo) {
	w.rec(slog.LevelInfo, "graph.intent", slog.String("profile", m.profile), slog.String("endpoint", "https://graph.microsoft.com"),
		slog.String("sender", m.from), slog.Int64("size", 4096), slog.String("transport", "graph"), slog.String("from", m.from),
		slog.Any("rcpts", m.rcpts), slog.String("message_id", m.id))
	w.rec(slog.LevelInfo, "graph.send", slog.String("profile", m.profile), slog.String("transport", "graph"), slog.String("from", m.from),
		slog.Any("rcpts", m.rcpts), slog.String("message_id", m.id), slog.String("endpoint", "https://graph.microsoft.com"),
		slog.String("sender", m.from), slog.Int("status", 202), slog.String("request_id", "9b0c1d2e-0000-4000-8000-000000000001"),
		slog.String("client_request_id", "c0ffee00-0000-4000-8000-000000000002"), slog.Int("attempts", 1),
		slog.Int64("duration_ms", 1250), slog.Int64("size", 4096))
}

// story is the fixed trail: two days of an alerting platform's mail with
// every outcome, a silent night, and hostile values.
type story struct {
	crash bool // the writer crashes mid-way (torn line) and a new one resumes
	purge bool // an operator purges a stuck entry and retries a dead one
}

func writeStory(t testing.TB, dir string, st story) []string {
	clock := &fixedClock{t: time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)}
	w := newTrailWriter(t, dir, clock, 16<<10)
	alerts := func(id string, rcpts ...string) msgInfo {
		return msgInfo{profile: "alerts", id: id, from: "alerts@example.com", rcpts: rcpts, server: "mail.example.com:587", smime: true}
	}
	m1 := alerts("m1.disk-full@alerts.example.com", "oncall@example.com")
	w.intent(m1, false)
	w.send(m1, false, 250, "2.0.0", "Ok: queued as 4XyZ1", "4XyZ1")

	m2 := alerts("m2.cpu@alerts.example.com", "ops@example.com", "noc@example.com")
	w.queued(m2, "0001a2b3c4d5e6f708090a0b")
	w.outbox(slog.LevelInfo, "outbox.attempt", m2, "0001a2b3c4d5e6f708090a0b", 1)
	w.intent(m2, true)
	w.send(m2, true, 451, "4.3.0", "Temporary lookup failure", "")
	w.outbox(slog.LevelWarn, "outbox.deferred", m2, "0001a2b3c4d5e6f708090a0b", 1, slog.String("reason", "temporary failure"),
		slog.String("error", "transport: data: 451 4.3.0 Temporary lookup failure"), slog.Time("next_attempt", clock.t.Add(30*time.Second)))
	clock.advance(90 * time.Second)
	w.outbox(slog.LevelInfo, "outbox.attempt", m2, "0001a2b3c4d5e6f708090a0b", 2)
	w.intent(m2, true)
	w.send(m2, true, 250, "2.0.0", "Ok: queued as 5AbC2", "5AbC2")
	w.outbox(slog.LevelInfo, "outbox.delivered", m2, "0001a2b3c4d5e6f708090a0b", 2, slog.Int64("age_ms", 91_000))
	w.rec(slog.LevelInfo, "outbox.delivered", slog.String("queue_id", "5AbC2"), slog.String("message_id", "m2b.cpu@alerts.example.com"),
		outboxAttr("0001a2b3c4d5e6f708090a0c", 1, slog.Int64("age_ms", 1500)))

	for h := range 20 {
		clock.advance(50 * time.Minute)
		m := alerts(fmt.Sprintf("hb%02d@alerts.example.com", h), "heartbeat@example.com")
		if h%3 == 0 {
			m.smime = false
		}
		w.intent(m, false)
		w.send(m, false, 250, "2.0.0", "Ok: queued as HB"+fmt.Sprint(h), "HB"+fmt.Sprint(h))
		if h == 9 {
			w.rec(slog.LevelInfo, "smtp.probe", slog.String("profile", "alerts"), slog.Bool("probe", true), slog.String("server", m.server),
				slog.Int64("duration_ms", 310))
		}
	}

	m3 := alerts("m3.backup@alerts.example.com", "nobody@example.com")
	w.queued(m3, "0002a2b3c4d5e6f708090a0b")
	w.outbox(slog.LevelInfo, "outbox.attempt", m3, "0002a2b3c4d5e6f708090a0b", 1)
	w.intent(m3, true)
	w.send(m3, true, 550, "5.1.1", "<nobody@example.com>: Recipient address rejected", "")
	w.outbox(slog.LevelError, "outbox.dead", m3, "0002a2b3c4d5e6f708090a0b", 1, slog.String("reason", "permanent"),
		slog.String("error", "transport: data: 550 5.1.1 <nobody@example.com>: Recipient address rejected"))

	if st.crash {
		clock.advance(10 * time.Minute)
		w.crash(true)
		clock.advance(25 * time.Minute)
		w.open(16 << 10)
	}

	// A silent night.
	clock.advance(9 * time.Hour)
	m4 := alerts("m4.raid@alerts.example.com", "storage@example.com")
	w.queued(m4, "0003a2b3c4d5e6f708090a0b")
	w.outbox(slog.LevelInfo, "outbox.attempt", m4, "0003a2b3c4d5e6f708090a0b", 1)
	w.intent(m4, true)
	w.connErr(m4, true, "dial", 0, "", "dial tcp 192.0.2.25:587: connect: connection refused", "")
	w.outbox(slog.LevelWarn, "outbox.deferred", m4, "0003a2b3c4d5e6f708090a0b", 1, slog.String("reason", "temporary failure"),
		slog.String("error", "transport: dial: dial tcp 192.0.2.25:587: connect: connection refused"), slog.Time("next_attempt", clock.t.Add(time.Minute)))

	m5 := msgInfo{profile: "o365", id: "m5.report@example.onmicrosoft.com", from: "reports@example.onmicrosoft.com", rcpts: []string{"cfo@example.com"}}
	clock.advance(20 * time.Minute)
	w.graphSend(m5)

	m6 := alerts("m6.auth@alerts.example.com", "oncall@example.com")
	m6.smime = false
	m6.test = true
	clock.advance(5 * time.Minute)
	w.intent(m6, false)
	w.connErr(m6, false, "auth", 535, "5.7.8", "Error: authentication failed", "check the user name and password of the profile")

	// Values that must not become markup, formulas or a broken table.
	evil := alerts(`m7"><script>alert(1)</script>@evil.example`, "=HYPERLINK(\"http://evil.example\")@evil.example", `"<img src=x onerror=alert(2)>"@evil.example`)
	evil.smime = false
	clock.advance(3 * time.Minute)
	w.intent(evil, false)
	w.send(evil, false, 250, "2.0.0", "Ok: queued as </td><td>", "</td><b>X")

	if st.purge {
		clock.advance(40 * time.Minute)
		w.rec(slog.LevelWarn, "outbox.purged", slog.String("operator", "jdoe@ops-01"), slog.String("message_id", m4.id),
			outboxAttr("0003a2b3c4d5e6f708090a0b", 1, slog.String("error", "transport: dial: dial tcp 192.0.2.25:587: connect: connection refused")))
		w.rec(slog.LevelInfo, "outbox.retry", slog.String("operator", "jdoe@ops-01"), slog.String("message_id", m3.id),
			outboxAttr("0002a2b3c4d5e6f708090a0b", 1))
		w.outbox(slog.LevelInfo, "outbox.attempt", m3, "0002a2b3c4d5e6f708090a0b", 2)
	}
	clock.advance(2 * time.Minute)
	w.close()
	return w.files()
}
