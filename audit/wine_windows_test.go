//go:build windows

package audit

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mailwarden/internal/robustio"
	"mailwarden/internal/winetest"
	_ "mailwarden/internal/winetest/removeall"
)

func later(release func()) {
	go func() {
		time.Sleep(200 * time.Millisecond)
		release()
	}()
}

// record writes one record through h and returns the sink's verdict.
func record(h *Handler, i int) error {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "smtp.send", 0)
	r.AddAttrs(slog.Int("i", i), slog.String("server", "mail.example.com:587"))
	return h.Handle(context.Background(), r)
}

func anchorSeq(t *testing.T, path string) uint64 {
	t.Helper()
	a, err := ReadAnchor(path)
	if err != nil {
		t.Fatal(err)
	}
	return a.Seq
}

// TestAnchorUpdateWaitsForReader: a reader holding the anchor file while
// a record is written delays the anchor's replacement; the record and the
// anchor are written once it lets go.
func TestAnchorUpdateWaitsForReader(t *testing.T) {
	dir := t.TempDir()
	anchor := filepath.Join(dir, "anchor.json")
	f, err := OpenFile(FileConfig{Path: filepath.Join(dir, "audit.log"), AnchorFile: anchor})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(f, nil)
	defer h.Close()
	if err := record(h, 1); err != nil {
		t.Fatal(err)
	}
	release, released := winetest.HoldFile(t, anchor)
	later(release)
	if err := record(h, 2); err != nil {
		t.Fatalf("record while the anchor is held for a moment: %v", err)
	}
	if !released.Load() {
		t.Fatal("the anchor was replaced while held: nothing was proved")
	}
	if seq, _ := f.State(); anchorSeq(t, anchor) != seq {
		t.Errorf("anchor at %d, trail at %d", anchorSeq(t, anchor), seq)
	}
}

// TestAnchorHeldForGoodFailsClosed: an anchor that cannot be replaced
// within the bound fails the record, as any audit write failure does, with
// the error naming the held file; the anchor catches up at the next record
// once the file is free, and the trail verifies against it.
func TestAnchorHeldForGoodFailsClosed(t *testing.T) {
	dir := t.TempDir()
	path, anchor := filepath.Join(dir, "audit.log"), filepath.Join(dir, "anchor.json")
	f, err := OpenFile(FileConfig{Path: path, AnchorFile: anchor})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(f, nil)
	if err := record(h, 1); err != nil {
		t.Fatal(err)
	}
	release, _ := winetest.HoldFile(t, anchor)
	err = record(h, 2)
	if !robustio.IsHeld(err) {
		t.Fatalf("record with the anchor held for good: %v, want a *robustio.HeldError", err)
	}
	t.Logf("fail-closed: %v", err)
	release()
	if err := record(h, 3); err != nil {
		t.Fatalf("record once the anchor is free: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := ReadAnchor(anchor)
	if err != nil {
		t.Fatal(err)
	}
	if seq, _ := f.State(); a.Seq != seq {
		t.Errorf("anchor at %d after Close, trail at %d", a.Seq, seq)
	}
	if _, err := VerifyAnchor(nil, a, path); err != nil {
		t.Errorf("VerifyAnchor: %v", err)
	}
}

// rotating opens a File that rotates before every second record.
func rotating(t *testing.T, dir string) (*File, *Handler, string) {
	t.Helper()
	path := filepath.Join(dir, "audit.log")
	f, err := OpenFile(FileConfig{Path: path, MaxSize: 600})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(f, nil)
	t.Cleanup(func() { h.Close() })
	for i := range 2 {
		if err := record(h, i); err != nil {
			t.Fatal(err)
		}
	}
	return f, h, path
}

func trail(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "audit*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestRotationWaitsForReader: a program holding the active file when it is
// rotated delays the rotation; the record is written once it lets go.
func TestRotationWaitsForReader(t *testing.T) {
	dir := t.TempDir()
	f, h, path := rotating(t, dir)
	n := len(trail(t, dir))
	release, released := winetest.HoldFile(t, path)
	later(release)
	for i := 2; len(trail(t, dir)) == n; i++ {
		if err := record(h, i); err != nil {
			t.Fatalf("record %d with the active file held for a moment: %v", i, err)
		}
		if i > 50 {
			t.Fatal("no rotation")
		}
	}
	if !released.Load() {
		t.Fatal("the active file was rotated while held: nothing was proved")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	_ = f
	if rep, err := Verify(nil, trail(t, dir)...); err != nil || len(rep.Gaps) != 0 {
		t.Errorf("Verify: %+v, %v", rep, err)
	}
}

// TestRotationHeldForGoodFailsClosed: an active file held past the bound
// fails the record that needed the rotation (fail-closed, naming the held
// file); the next record once it is free rotates it away and the chain
// goes on, with the break recorded.
func TestRotationHeldForGoodFailsClosed(t *testing.T) {
	dir := t.TempDir()
	_, h, path := rotating(t, dir)
	release, _ := winetest.HoldFile(t, path)
	var err error
	for i := 2; err == nil; i++ {
		err = record(h, i)
		if i > 50 {
			t.Fatal("no rotation")
		}
	}
	if !robustio.IsHeld(err) {
		t.Fatalf("rotation with the active file held for good: %v, want a *robustio.HeldError", err)
	}
	t.Logf("fail-closed: %v", err)
	release()
	if err := record(h, 100); err != nil {
		t.Fatalf("record once the file is free: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(nil, trail(t, dir)...)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	t.Logf("trail: %d records in %d files, gaps %+v", rep.Records, len(rep.Files), rep.Gaps)
}

// TestVerifyBesideWriter: the trail's own readers never stop the writer.
// Records written from inside a Verify, while it holds the active file
// open, rotate that file away at once (a reader opening without
// FILE_SHARE_DELETE would make each rotation fail after the bound). What
// the Verify itself reports about a trail changing under it is not the
// point; the trail verifies once the writer is closed.
func TestVerifyBesideWriter(t *testing.T) {
	dir := t.TempDir()
	_, h, path := rotating(t, dir)
	before := len(trail(t, dir))
	i, calls := 10, 0
	_, err := VerifyProgress(nil, func(ScannedRecord) {
		calls++
		if calls > 1 {
			return
		}
		for range 6 {
			i++
			if err := record(h, i); err != nil {
				t.Errorf("record %d during a verify: %v", i, err)
			}
		}
	}, path)
	t.Logf("the verify that ran beside the writer: %v", err)
	if n := len(trail(t, dir)); n <= before {
		t.Errorf("no rotation during the verify (%d files)", n)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(nil, trail(t, dir)...); err != nil {
		t.Errorf("Verify after: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "audit.log")); err != nil {
		t.Error(err)
	}
}

// TestSecondWriterRefusedAtOnce: the trail lock (LockFileEx) stops a
// second writer with a clear error, without waiting for a rotation to fail.
func TestSecondWriterRefusedAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	f, err := OpenFile(FileConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = OpenFile(FileConfig{Path: path})
	if err == nil || robustio.IsHeld(err) {
		t.Fatalf("second writer: %v, want the lock's error", err)
	}
	t.Logf("second writer: %v", err)
}
