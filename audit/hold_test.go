package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// blocksOf returns how many blocks f wrote so far.
func blocksOf(f *File) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocks
}

// msgs returns the msg of each line, in order.
func msgs(lines []string) []string {
	var out []string
	for _, l := range lines {
		_, rest, _ := strings.Cut(l, `"msg":"`)
		m, _, _ := strings.Cut(rest, `"`)
		out = append(out, m)
	}
	return out
}

// TestHold: records a tracked Handler holds are written by its Wait, as
// one block after what other Handlers wrote meanwhile, in the order they
// were made (also through a derived Handler); holding ends with Wait. A
// File that fsyncs every record holds nothing.
func TestHold(t *testing.T) {
	for _, policy := range []SyncPolicy{SyncNone, SyncInterval, SyncEvery} {
		for _, named := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/named=%v", policy, named), func(t *testing.T) {
				f, path := openTrail(t, policy)
				a := NewAsync(f, 64)
				var sink Sink = a
				if named {
					sink = Named("file", a)
				}
				h := NewHandler(sink, nil)
				defer h.Close()
				ctx := context.Background()
				tr := h.Track()
				if err := tr.Record(ctx, slog.LevelInfo, "smtp.intent"); err != nil {
					t.Fatal(err)
				}
				if err := tr.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				tr.Hold()
				if err := tr.Record(ctx, slog.LevelInfo, "smtp.rcpt", slog.Int("i", 1)); err != nil {
					t.Fatal(err)
				}
				slog.New(tr.WithAttrs([]slog.Attr{slog.String("profile", "p")})).Info("smtp.send", "i", 2)
				if err := h.Record(ctx, slog.LevelInfo, "other"); err != nil {
					t.Fatal(err)
				}
				if err := h.Wait(ctx); err != nil { // the queue drained, the held records not written
					t.Fatal(err)
				}
				held := policy != SyncEvery
				before := blocksOf(f)
				got := strings.Join(msgs(readLines(t, path)), " ")
				want := map[bool]string{
					true:  "audit.open smtp.intent other",
					false: "audit.open smtp.intent smtp.rcpt smtp.send other",
				}[held]
				if got != want {
					t.Fatalf("before the tracker's Wait: %s, want %s", got, want)
				}
				if err := tr.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				lines := readLines(t, path)
				if held {
					if got := strings.Join(msgs(lines), " "); got != "audit.open smtp.intent other smtp.rcpt smtp.send" {
						t.Errorf("after Wait: %s", got)
					}
					if n := blocksOf(f) - before; n != 1 {
						t.Errorf("the held records took %d writes, want 1", n)
					}
				}
				if s := strings.Join(lines, ""); !strings.Contains(s, `"msg":"smtp.rcpt","i":1`) || !strings.Contains(s, `"msg":"smtp.send","profile":"p","i":2`) {
					t.Errorf("held records not as made:\n%s", s)
				}
				// Holding ended: the next record is written as it comes.
				if err := tr.Record(ctx, slog.LevelInfo, "late"); err != nil {
					t.Fatal(err)
				}
				if held {
					if l := readLines(t, path); !strings.Contains(l[len(l)-1], `"msg":"late"`) {
						t.Errorf("a record after Wait is not in the file when Record returns")
					}
				}
				if st := h.Stats(); st.Records != 5 || st.Failed != 0 {
					t.Errorf("stats %+v, want 5 records", st)
				}
				if err := h.Close(); err != nil {
					t.Fatal(err)
				}
				if rep, err := Verify(testKey, path); err != nil || !rep.Sealed || rep.Records != 7 {
					t.Errorf("verify: %+v, %v", rep, err)
				}
			})
		}
	}
}

// TestHoldFailure: a held record that cannot be written fails the
// tracker's Wait (named like any write of the sink) and is counted; it
// did not fail the Record that made it.
func TestHoldFailure(t *testing.T) {
	f, _ := openTrail(t, SyncNone)
	h := NewHandler(Named("file", NewAsync(f, 64)), nil)
	defer h.Close()
	ctx := context.Background()
	tr := h.Track()
	tr.Hold()
	for i := range 2 {
		if err := tr.Record(ctx, slog.LevelInfo, "smtp.rcpt", slog.Int("i", i)); err != nil {
			t.Fatalf("held Record: %v", err)
		}
	}
	if err := tr.Err(); err != nil {
		t.Fatalf("Err before Wait: %v", err)
	}
	f.Close() // the file goes away under the queue
	err := tr.Wait(ctx)
	var se *SinkError
	if !errors.Is(err, ErrClosed) || !errors.As(err, &se) || se.Sink != "file" {
		t.Errorf("Wait: %v, want the file's ErrClosed", err)
	}
	if st := h.Stats(); st.Failed != 2 {
		t.Errorf("stats %+v, want 2 failed", st)
	}
	if other := h.Track(); other.Err() != nil {
		t.Errorf("another tracker sees %v", other.Err())
	}
}

// TestHeldEntriesQueuedAsCopies: when the queue is busy at Wait, the held
// records are queued as copies (their pooled entries are reused at once)
// and reach the file as they were made, in order.
func TestHeldEntriesQueuedAsCopies(t *testing.T) {
	f, path := openTrail(t, SyncNone)
	a := newAsync(f, 64)
	h := NewHandler(Named("file", a), nil)
	ctx := context.Background()
	tr := h.Track()
	tr.Hold()
	for i := range 6 { // more than the tracker's inline room
		if err := tr.Record(ctx, slog.LevelInfo, "smtp.rcpt", slog.Int("i", i), slog.String("pad", strings.Repeat("x", i*10))); err != nil {
			t.Fatal(err)
		}
	}
	pretendWriting(a) // the held records are queued
	tr.writeHeld(ctx, tr.track)
	if n := a.Len(); n != 6 {
		t.Fatalf("%d entries queued, want 6", n)
	}
	for i := range 6 { // reuses the pooled entries
		if err := h.Record(ctx, slog.LevelInfo, "smtp.send", slog.Int("j", i), slog.String("pad", strings.Repeat("y", 60-i*10))); err != nil {
			t.Fatal(err)
		}
	}
	resumeQueue(a)
	if err := tr.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	h.Close()
	lines := readLines(t, path)
	if len(lines) != 14 {
		t.Fatalf("%d lines, want open, 12 records, seal", len(lines))
	}
	wantPadded(t, lines[1:7])
	if rep, err := Verify(testKey, path); err != nil || !rep.Sealed {
		t.Errorf("verify: %+v, %v", rep, err)
	}
}
