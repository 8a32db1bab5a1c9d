package audit

import (
	"context"
	"errors"
	"log/slog"
	"strings"
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
	got, want := flat.entry(r, nil), nested.entry(r, nil)
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

// TestIsSecretKeyAsContains: IsSecretKey says yes exactly when the key,
// lower-cased without '_', '-', '.' and spaces, contains a secret word (or
// is pin), for every word at the start, middle and end of other text.
func TestIsSecretKeyAsContains(t *testing.T) {
	ref := func(key string) bool {
		s := strings.ToLower(strings.NewReplacer("_", "", "-", "", ".", "", " ", "").Replace(key))
		for _, w := range secretWords {
			if w == "pin" && s == "pin" || w != "pin" && strings.Contains(s, w) {
				return true
			}
		}
		return false
	}
	keys := []string{"", "p", "pi", "pin", "PIN", "pins", "spin", "server", "message_id", "Proxy-Authorization", "x.Priv_Key", "tok", "toke", "to ken"}
	for _, w := range secretWords {
		keys = append(keys, w, w[:len(w)-1], "x"+w, w+"_x", strings.ToUpper(w[:1])+w[1:], "a"+w[1:], w[:len(w)-1]+"_"+w[len(w)-1:])
	}
	for _, k := range keys {
		if got, want := IsSecretKey(k), ref(k); got != want {
			t.Errorf("IsSecretKey(%q) = %v, want %v", k, got, want)
		}
	}
}

// TestHandleWithAsWithAttrs: HandleWith writes the entry WithAttrs and
// Handle would (attributes after the Handler's, before the record's, in a
// group when one is open), reports a failure to the tracker the same way,
// and leaves the caller's attribute slice alone.
func TestHandleWithAsWithAttrs(t *testing.T) {
	r := slog.NewRecord(time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC), slog.LevelInfo, "smtp.send", 0)
	r.AddAttrs(slog.String("server", "s:25"), slog.String("api_key", "k"), slog.Group("rcpt", slog.String("addr", "a@example.org")))
	pre := []slog.Attr{slog.String("profile", "p"), slog.String("level", "reserved"), slog.Group("smime", slog.Bool("signed", true))}
	for _, group := range []string{"", "g"} {
		sink := &memSink{}
		var base slog.Handler = NewHandler(sink, nil)
		base = base.WithAttrs([]slog.Attr{slog.String("first", "1")})
		if group != "" {
			base = base.WithGroup(group)
		}
		keep := append([]slog.Attr(nil), pre...)
		if err := base.WithAttrs(pre).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if err := base.(*Handler).HandleWith(context.Background(), r, pre); err != nil {
			t.Fatal(err)
		}
		if len(sink.entries) != 2 {
			t.Fatalf("group %q: %d entries", group, len(sink.entries))
		}
		want, got := sink.entries[0].JSON(), sink.entries[1].JSON()
		if string(got) != string(want) {
			t.Errorf("group %q:\nHandleWith:        %s\nWithAttrs+Handle: %s", group, got, want)
		}
		if !strings.Contains(string(got), `"first":"1"`) || !strings.Contains(string(got), `"profile":"p"`) {
			t.Errorf("group %q: attributes missing: %s", group, got)
		}
		for i := range pre {
			if !pre[i].Equal(keep[i]) {
				t.Errorf("group %q: attribute %d changed", group, i)
			}
		}
	}
	sink := &memSink{fail: errors.New("disk full")}
	tracked := NewHandler(sink, nil).Track()
	if err := tracked.HandleWith(context.Background(), r, pre); err == nil {
		t.Fatal("HandleWith returned nil for a failed write (fail-closed)")
	}
	if tracked.Err() == nil {
		t.Error("the tracker did not learn of HandleWith's failure")
	}
}

// TestAppendTimeUTC: the record time is what AppendFormat with timeFormat
// gives, at the extremes of every field and for times spread over the
// years, and for times not in UTC (through AppendFormat).
func TestAppendTimeUTC(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2000, 2, 29, 0, 0, 0, 1000, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 6, 1, 12, 0, 0, 123456789, time.FixedZone("x", 3600)),
		time.Now().UTC(),
	}
	for i := range 2000 {
		times = append(times, time.Unix(int64(i)*15_768_041+int64(i%7)*86_399, int64(i)*499_979%1_000_000_000).UTC())
	}
	for _, tm := range times {
		if got, want := string(appendTimeUTC([]byte("x"), tm)), "x"+tm.Format(timeFormat); got != want {
			t.Fatalf("%v: %s, want %s", tm, got, want)
		}
	}
}
