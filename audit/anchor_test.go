package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRun opens the trail (rotating every few records), writes n records
// and closes it, as one process would: every run leaves a sealed end.
func writeRun(t *testing.T, cfg FileConfig, n int, tag string) {
	t.Helper()
	h, err := New(context.Background(), Config{File: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := h.Record(context.Background(), slog.LevelInfo, "smtp.send", slog.String("run", tag), slog.Int("i", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

func trailFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "audit*.log"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no trail files in %s: %v", dir, err)
	}
	return files
}

// TestAnchorDetectsDeletedNewestFiles: two writers (each with rotations)
// write a keyed trail with an anchor file kept elsewhere; then every file
// the second writer made is deleted. Verify alone accepts what is left (the
// first writer sealed its end): the deletion is invisible without the
// anchor. VerifyAnchor reports it (AnchorAhead), and a third writer
// refuses to start on the shortened trail.
func TestAnchorDetectsDeletedNewestFiles(t *testing.T) {
	dir := t.TempDir()
	anchor := filepath.Join(t.TempDir(), "elsewhere", "audit.anchor")
	if err := os.MkdirAll(filepath.Dir(anchor), 0o700); err != nil {
		t.Fatal(err)
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	cfg := FileConfig{Path: filepath.Join(dir, "audit.log"), Key: key, MaxSize: 1200, AnchorFile: anchor}

	writeRun(t, cfg, 12, "first")
	first := trailFiles(t, dir)
	firstRep, err := Verify(key, first...)
	if err != nil {
		t.Fatal(err)
	}
	writeRun(t, cfg, 12, "second")
	all := trailFiles(t, dir)
	if len(all)-len(first) < 2 {
		t.Fatalf("the second run made %d files, want rotations", len(all)-len(first))
	}
	full, err := Verify(key, all...)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ReadAnchor(anchor)
	if err != nil {
		t.Fatal(err)
	}
	if a.Seq != full.LastSeq || fmt.Sprintf("%x", a.Hash) != full.LastHash {
		t.Fatalf("anchor %v, trail ends at %d %s", a, full.LastSeq, full.LastHash)
	}
	if _, err := VerifyAnchor(key, a, all...); err != nil {
		t.Fatalf("the whole trail against its anchor: %v", err)
	}

	// Delete the second writer's files: the active one and its rotations
	// (the first writer's active file was renamed when the second began).
	var left []string
	for _, f := range all {
		line, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := parseLine([]byte(strings.SplitN(string(line), "\n", 2)[0]))
		if err != nil {
			t.Fatal(err)
		}
		if p.seq <= firstRep.LastSeq {
			left = append(left, f)
		} else if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	// Without the anchor the shortened trail passes: why it is needed.
	rep, err := Verify(key, left...)
	if err != nil || rep.LastSeq != firstRep.LastSeq || !rep.Sealed {
		t.Fatalf("verify without anchor: %+v %v (want it to pass, ending at %d)", rep, err, firstRep.LastSeq)
	}
	_, err = VerifyAnchor(key, a, left...)
	var ae *AnchorError
	if !errors.As(err, &ae) || ae.Kind != AnchorAhead || ae.LastSeq != firstRep.LastSeq || ae.Anchor.Seq != full.LastSeq {
		t.Fatalf("verify with anchor: %v, want AnchorAhead at %d", err, firstRep.LastSeq)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("ends at record %d, before its anchor (record %d", firstRep.LastSeq, full.LastSeq)) {
		t.Errorf("message: %v", err)
	}
	t.Logf("without anchor: ok, %d records; with anchor: %v", rep.Records, err)

	// The next writer finds the trail behind its anchor and refuses.
	_, err = OpenFile(cfg)
	if !errors.As(err, &ae) || ae.Kind != AnchorAhead || ae.Path != cfg.Path {
		t.Fatalf("OpenFile on a trail behind its anchor: %v", err)
	}
	if _, err := os.Stat(cfg.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused writer left an active file: %v", err)
	}
}

// TestAnchorMismatch: a trail rewritten from the anchor's record on (here:
// a new plain chain in place of the old one, same length) has another hash
// at the anchor's seq.
func TestAnchorMismatch(t *testing.T) {
	dir := t.TempDir()
	anchor := filepath.Join(t.TempDir(), "a")
	cfg := FileConfig{Path: filepath.Join(dir, "audit.log"), AnchorFile: anchor}
	writeRun(t, cfg, 5, "real")
	a, err := ReadAnchor(anchor)
	if err != nil {
		t.Fatal(err)
	}
	// Replace the trail by another one of the same length.
	for _, f := range trailFiles(t, dir) {
		os.Remove(f)
	}
	other := FileConfig{Path: cfg.Path}
	writeRun(t, other, 5, "forged")
	_, err = VerifyAnchor(nil, a, trailFiles(t, dir)...)
	var ae *AnchorError
	if !errors.As(err, &ae) || ae.Kind != AnchorMismatch {
		t.Fatalf("want AnchorMismatch, got %v", err)
	}
	if _, err := OpenFile(cfg); !errors.As(err, &ae) || ae.Kind != AnchorMismatch {
		t.Fatalf("OpenFile: want AnchorMismatch, got %v", err)
	}
}

// TestAnchorSources: an anchor file, a collector log with chain members
// (the highest wins) and the literal form give the same anchor; junk is
// ErrNoAnchor.
func TestAnchorSources(t *testing.T) {
	dir := t.TempDir()
	h := strings.Repeat("ab", 32)
	lit, err := ParseAnchor("42:" + h)
	if err != nil || lit.Seq != 42 {
		t.Fatalf("%v %v", lit, err)
	}
	log := filepath.Join(dir, "relp.log")
	os.WriteFile(log, []byte(
		`<86>1 2026-01-01T00:00:00Z h mailwarden 1 smtp.send - {"seq":1,"chain_seq":41,"chain_hash":"`+strings.Repeat("cd", 32)+`","msg":"x"}`+"\n"+
			`<86>1 2026-01-01T00:00:00Z h mailwarden 1 smtp.send - {"seq":2,"chain_seq":42,"chain_hash":"`+h+`","msg":"y"}`+"\n"+
			"unrelated line\n"+
			`{"seq":3,"chain_seq":40,"chain_hash":"`+strings.Repeat("ef", 32)+`","long":"`+strings.Repeat("x", 200<<10)+`"}`+"\n"), 0o600)
	got, err := ReadAnchor(log)
	if err != nil || got.Seq != 42 || got.Hash != lit.Hash {
		t.Fatalf("collector log: %v %v", got, err)
	}
	for _, bad := range []string{"", "42", "0:" + h, "42:" + strings.ToUpper(h), "x:y"} {
		if _, err := ParseAnchor(bad); !errors.Is(err, ErrNoAnchor) {
			t.Errorf("ParseAnchor(%q): %v", bad, err)
		}
	}
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("nothing here\n"), 0o600)
	if _, err := ReadAnchor(junk); !errors.Is(err, ErrNoAnchor) {
		t.Errorf("junk: %v", err)
	}
	// A damaged anchor file keeps a writer from starting.
	os.WriteFile(junk, []byte(`{"anchor":"mailwarden-audit-anchor","seq":"x"}`+"\n"), 0o600)
	if _, err := OpenFile(FileConfig{Path: filepath.Join(dir, "audit.log"), AnchorFile: junk}); !errors.Is(err, ErrNoAnchor) {
		t.Errorf("OpenFile with a damaged anchor: %v", err)
	}
}

// TestAnchorFollowsSyncPolicy: the anchor file holds the last record after
// each record under SyncEvery, and only after a sync under SyncInterval.
func TestAnchorFollowsSyncPolicy(t *testing.T) {
	for _, pol := range []SyncPolicy{SyncEvery, SyncInterval, SyncNone} {
		t.Run(pol.String(), func(t *testing.T) {
			dir := t.TempDir()
			anchor := filepath.Join(dir, "anchor")
			f, err := OpenFile(FileConfig{Path: filepath.Join(dir, "audit.log"), AnchorFile: anchor, Sync: pol, SyncInterval: 1 << 40})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			e := &Entry{members: []byte(`"time":"t","level":"INFO","msg":"m"`)}
			if err := f.Write(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			a, err := ReadAnchor(anchor)
			if err != nil {
				t.Fatal(err)
			}
			seq, _ := f.State()
			want := seq
			if pol == SyncInterval {
				want = seq - 1 // the open record, written and synced at start
			}
			if a.Seq != want {
				t.Fatalf("anchor at %d after a write, want %d (trail at %d)", a.Seq, want, seq)
			}
			if err := f.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if a, _ = ReadAnchor(anchor); a.Seq != seq {
				t.Fatalf("anchor at %d after Sync, want %d", a.Seq, seq)
			}
		})
	}
}

// TestAnchorAfterCrash: a writer that dies without its seal leaves the
// anchor at (or behind) its last record, never ahead: the next writer
// starts (recording the crash) and the trail verifies against the anchor.
func TestAnchorAfterCrash(t *testing.T) {
	dir := t.TempDir()
	anchor := filepath.Join(t.TempDir(), "anchor")
	cfg := FileConfig{Path: filepath.Join(dir, "audit.log"), AnchorFile: anchor}
	f, err := OpenFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := f.Write(context.Background(), &Entry{members: []byte(`"time":"t","level":"INFO","msg":"m"`)}); err != nil {
			t.Fatal(err)
		}
	}
	// The crash: the file and the lock are dropped without a seal, and a
	// torn line is left at the end.
	f.f.Write([]byte(`{"seq":7,"prev":"ab`))
	f.f.Close()
	if f.lock != nil {
		f.lock.Close()
	}
	a, err := ReadAnchor(anchor)
	if err != nil || a.Seq != 6 {
		t.Fatalf("anchor after the crash: %v %v", a, err)
	}
	f2, err := OpenFile(cfg)
	if err != nil {
		t.Fatalf("restart after a crash refused: %v", err)
	}
	if err := f2.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.log"))
	rep, err := VerifyAnchor(nil, a, files...)
	if err != nil || len(rep.Gaps) != 1 {
		t.Fatalf("verify against the anchor after a recorded crash: %+v %v", rep, err)
	}
}

// TestWaitFollowsSyncPolicy: Handler.Wait (what a send waits for) leaves
// a file under SyncInterval or SyncNone to its policy instead of forcing
// an fsync, which the anchor shows: under SyncInterval it stays at the
// last synced record after a Wait and moves on a forced Sync; under
// SyncEvery and SyncNone it follows every record.
func TestWaitFollowsSyncPolicy(t *testing.T) {
	for _, pol := range []SyncPolicy{SyncEvery, SyncInterval, SyncNone} {
		t.Run(pol.String(), func(t *testing.T) {
			dir := t.TempDir()
			anchor := filepath.Join(dir, "anchor")
			ctx := context.Background()
			h, err := New(ctx, Config{File: &FileConfig{Path: filepath.Join(dir, "audit.log"), AnchorFile: anchor, Sync: pol, SyncInterval: 1 << 40}})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			before, err := ReadAnchor(anchor)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if err := h.Record(ctx, slog.LevelInfo, "m"); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			a, err := ReadAnchor(anchor)
			if err != nil {
				t.Fatal(err)
			}
			want := before.Seq + 3
			if pol == SyncInterval {
				want = before.Seq
			}
			if a.Seq != want {
				t.Fatalf("anchor at %d after Wait, want %d (before the records: %d)", a.Seq, want, before.Seq)
			}
			if s, ok := h.c.sink.(Syncer); !ok {
				t.Fatal("the file sink is not a Syncer")
			} else if err := s.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if a, _ = ReadAnchor(anchor); a.Seq != before.Seq+3 {
				t.Fatalf("anchor at %d after Sync, want %d", a.Seq, before.Seq+3)
			}
		})
	}
}
