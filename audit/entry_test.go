package audit

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestFlatEntryAsNested: a Handler with attributes but no group encodes a
// record straight from its attributes; the members are exactly those the
// general path (nest, then encode) gives, reserved keys, secrets, empty
// groups and LogValuers included.
func TestFlatEntryAsNested(t *testing.T) {
	h := NewHandler(&memSink{}, nil)
	var l slog.Handler = h
	l = l.WithAttrs([]slog.Attr{slog.String("profile", "p"), slog.String("msg", "reserved"), slog.Group("empty")})
	l = l.WithAttrs([]slog.Attr{slog.String("password", "hunter2"), slog.Any("tok", token("s3cret"))})
	flat := l.(*Handler)
	if !flat.flat {
		t.Fatal("a Handler with attributes only is not flat")
	}
	r := slog.NewRecord(time.Date(2026, 12, 6, 7, 0, 0, 123456789, time.UTC), slog.LevelWarn, "smtp.rcpt", 0)
	r.AddAttrs(slog.String("seq", "x"), slog.Group("rcpt", slog.String("addr", "a@example.org"), slog.Int("code", 250)),
		slog.Group("none", slog.Group("deeper")), slog.Any("rcpts", []string{"b@example.org"}), slog.String("Authorization", "Bearer x"))
	nested := *flat
	nested.flat = false
	got, want := flat.entry(r), nested.entry(r)
	if string(got.members) != string(want.members) {
		t.Errorf("flat:   %s\nnested: %s", got.members, want.members)
	}
	if h2 := l.WithGroup("g").(*Handler); h2.flat {
		t.Error("a Handler with a group is flat")
	}
	if err := h.Record(context.Background(), slog.LevelInfo, "x"); err != nil {
		t.Fatal(err)
	}
}
