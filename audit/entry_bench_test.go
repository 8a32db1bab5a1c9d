package audit

import (
	"log/slog"
	"testing"
	"time"
)

// benchRcpt is a recipient as the transport logs it (a slog.LogValuer in
// a slice).
type benchRcpt struct {
	Addr, Enhanced, Text string
	Code                 int
}

func (r benchRcpt) LogValue() slog.Value {
	return slog.GroupValue(slog.String("addr", r.Addr), slog.Int("code", r.Code), slog.String("enhanced", r.Enhanced), slog.String("text", r.Text))
}

// sendRecords are the records of one send as the transport and a sender
// make them: the intent, one recipient, the summary.
func sendRecords() []slog.Record {
	t := time.Date(2026, 12, 6, 20, 0, 0, 123456789, time.UTC)
	intent := slog.NewRecord(t, slog.LevelInfo, "smtp.intent", 0)
	intent.AddAttrs(slog.String("profile", "bench"), slog.String("from", "a@example.com"), slog.Any("rcpts", []string{"b@example.com"}),
		slog.String("message_id", "<x.1@example.com>"), slog.Int64("size", 2048))
	rcpt := slog.NewRecord(t, slog.LevelInfo, "smtp.rcpt", 0)
	rcpt.AddAttrs(slog.String("server", "127.0.0.1:2525"), slog.String("message_id", "<x.1@example.com>"),
		slog.Attr{Key: "rcpt", Value: benchRcpt{Addr: "b@example.com", Code: 250, Enhanced: "2.0.0", Text: "Ok"}.LogValue()})
	send := slog.NewRecord(t, slog.LevelInfo, "smtp.send", 0)
	send.AddAttrs(slog.String("server", "127.0.0.1:2525"), slog.String("addr", "127.0.0.1:2525"),
		slog.Group("tls", slog.String("mode", "starttls"), slog.String("version", "TLS 1.3"), slog.String("cipher", "TLS_AES_128_GCM_SHA256"), slog.String("peer_sha256", "00ff")),
		slog.Group("auth", slog.String("mech", "PLAIN"), slog.String("user", "u")),
		slog.String("from", "a@example.com"), slog.Any("rcpts", []benchRcpt{{Addr: "b@example.com", Code: 250, Enhanced: "2.0.0", Text: "Ok"}}),
		slog.String("message_id", "<x.1@example.com>"), slog.Int64("size", 2048),
		slog.Group("reply", slog.Int("code", 250), slog.String("enhanced", "2.0.0"), slog.String("text", "Ok: queued as Q")),
		slog.String("queue_id", "Q"), slog.Bool("pipelining", true), slog.Bool("chunking", true), slog.Int64("duration_ms", 0))
	return []slog.Record{intent, rcpt, send}
}

// BenchmarkEntrySend encodes the records of one send (no sink).
func BenchmarkEntrySend(b *testing.B) {
	h := NewHandler(nil, nil)
	recs := sendRecords()
	pre := []slog.Attr{slog.String("profile", "bench")}
	b.ReportAllocs()
	for b.Loop() {
		h.entry(recs[0], nil)
		h.entry(recs[1], pre)
		h.entry(recs[2], pre)
	}
}
