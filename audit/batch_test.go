package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"mailwarden/internal/faulttest"
)

// pretendWriting makes a (its goroutine not started) act as if a write
// were under way: what comes is queued, nothing is written inline.
func pretendWriting(a *Async) {
	a.mu.Lock()
	a.writing = true
	a.mu.Unlock()
}

// resumeQueue ends pretendWriting and starts a's goroutine on the queue.
func resumeQueue(a *Async) {
	a.mu.Lock()
	a.writing = false
	a.mu.Unlock()
	go a.run()
	a.wake()
}

// queueBatch makes n records through one Handler each (its own tracker, as
// n concurrent sends would) into a, whose goroutine is not running yet, so
// they are all queued when it starts: one batch. It returns the trackers.
func queueBatch(t *testing.T, h *Handler, n int, pad int) []*Handler {
	t.Helper()
	trs := make([]*Handler, n)
	for i := range trs {
		trs[i] = h.Track()
		if err := trs[i].Record(context.Background(), slog.LevelInfo, "smtp.send", slog.Int("i", i), slog.String("pad", strings.Repeat("x", pad))); err != nil {
			t.Fatalf("queueing record %d: %v", i, err)
		}
	}
	return trs
}

// TestAsyncBatchChainsAndVerifies: records that pile up in the queue are
// written as one block with one fsync and one anchor update (SyncEvery);
// each is reported written, the lines chain, and the trail verifies with
// its anchor.
func TestAsyncBatchChainsAndVerifies(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	anchor := filepath.Join(t.TempDir(), "anchor")
	f, err := OpenFile(FileConfig{Path: path, Key: testKey, AnchorFile: anchor})
	if err != nil {
		t.Fatal(err)
	}
	a := newAsync(Named("file", f), 64)
	h := NewHandler(a, nil)
	trs := queueBatch(t, h, 10, 50)
	go a.run()
	for i, tr := range trs {
		if err := tr.Wait(context.Background()); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	if a.batches != 1 || f.fsyncs != 1 {
		t.Errorf("10 queued records: %d batches, %d fsyncs; want 1 and 1", a.batches, f.fsyncs)
	}
	seq, sum := f.State()
	if seq != 11 {
		t.Errorf("chain at seq %d after the open record and 10 records", seq)
	}
	if got, err := ReadAnchor(anchor); err != nil || got.Seq != seq || got.Hash != sum {
		t.Errorf("anchor after the batch: %v %v, want %d", got, err, seq)
	}

	// The same records one at a time (each waited for): one fsync each.
	for i := range 10 {
		tr := h.Track()
		if err := tr.Record(context.Background(), slog.LevelInfo, "smtp.send", slog.Int("i", 10+i)); err != nil {
			t.Fatal(err)
		}
		if err := tr.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if f.fsyncs != 11 {
		t.Errorf("10 records waited for one by one: %d fsyncs in all, want 1+10", f.fsyncs)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 22 {
		t.Fatalf("%d lines, want open + 20 + seal", len(lines))
	}
	for i, l := range lines[1:11] {
		p, err := parseLine([]byte(strings.TrimSuffix(l, "\n")))
		if err != nil || p.seq != uint64(i+2) || !strings.Contains(l, fmt.Sprintf(`"i":%d,`, i)) {
			t.Errorf("line %d of the batch: %q (%v)", i+2, l, err)
		}
	}
	rep, err := VerifyAnchor(testKey, Anchor{Seq: seq, Hash: sum}, path)
	if err != nil || rep.Records != 22 || !rep.Sealed {
		t.Errorf("verify: %+v, %v", rep, err)
	}
}

// TestAsyncBatchFailureReportsEveryEntry: a write that fails fails every
// entry of the batch, each reported to its own tracker; the next record
// goes on in a new file and the chain verifies with the recorded recovery.
func TestAsyncBatchFailureReportsEveryEntry(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	f, err := OpenFile(FileConfig{Path: path, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	a := newAsync(Named("file", f), 64)
	h := NewHandler(a, nil)
	f.f.Close() // the disk goes away under the sink
	trs := queueBatch(t, h, 5, 10)
	go a.run()
	if err := a.drain(context.Background()); err != nil {
		t.Fatal(err) // the failures went to the entries' trackers, not here
	}
	if st := h.Stats(); st.Failed != 5 || st.Records != 5 {
		t.Errorf("stats %+v, want 5 records, 5 failed", st)
	}
	for i, tr := range trs {
		var se *SinkError
		if err := tr.Err(); !errors.As(err, &se) || se.Sink != "file" || !strings.Contains(err.Error(), "file already closed") {
			t.Errorf("record %d of the failed batch: Err = %v", i, err)
		}
	}
	recoversAfter(t, h, dir, path, 1)
}

// TestAsyncBatchRotates: a batch larger than what the file may hold is cut
// into blocks at the rotations; every record is written once, in order,
// and the chain runs on across the files.
func TestAsyncBatchRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	c := newClock()
	f, err := OpenFile(FileConfig{Path: path, Key: testKey, MaxSize: 4 << 10, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	a := newAsync(Named("file", f), 64)
	h := NewHandler(a, &Options{Now: c.Now})
	trs := queueBatch(t, h, 30, 300) // about 12 KB
	go a.run()
	for i, tr := range trs {
		if err := tr.Wait(context.Background()); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	if a.batches != 1 {
		t.Errorf("%d batches, want 1", a.batches)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	files := trailFiles(t, dir) // rotated names sort before audit.log
	if len(files) < 4 {
		t.Fatalf("%d files for 12 KB in 4 KB files", len(files))
	}
	next := 0
	for _, name := range files {
		if st, _ := os.Stat(name); st.Size() > 4<<10 {
			t.Errorf("%s: %d bytes, over MaxSize", name, st.Size())
		}
		for _, l := range readLines(t, name) {
			if strings.Contains(l, `"msg":"smtp.send"`) {
				if !strings.Contains(l, fmt.Sprintf(`"i":%d,`, next)) {
					t.Errorf("%s: record %d expected, got %q", name, next, l[:80])
				}
				next++
			}
		}
	}
	if next != 30 {
		t.Errorf("%d records in the files, want 30", next)
	}
	rep, err := Verify(testKey, files...)
	if err != nil || !rep.Sealed || len(rep.Gaps) != 0 {
		t.Errorf("verify: %+v, %v", rep, err)
	}
}

// TestChainedBatch: through a chained sink (file and syslog), a batch gives
// every syslog record the seq and hash of its own line in the file.
func TestChainedBatch(t *testing.T) {
	f, path := openTrail(t, SyncNone)
	m := &memSink{}
	a := newAsync(&chained{file: f, next: Named("syslog", m)}, 64)
	h := NewHandler(a, nil)
	trs := queueBatch(t, h, 8, 10)
	go a.run()
	for i, tr := range trs {
		if err := tr.Wait(context.Background()); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	if a.batches != 1 || len(m.entries) != 8 {
		t.Fatalf("%d batches, %d syslog records", a.batches, len(m.entries))
	}
	lines := readLines(t, path)
	for i, e := range m.entries {
		p, err := parseLine([]byte(strings.TrimSuffix(lines[i+1], "\n")))
		if err != nil || e.chainSeq != p.seq || e.chainHash != p.hash {
			t.Errorf("syslog record %d: chain %d %x, file line %+v (%v)", i, e.chainSeq, e.chainHash[:4], p, err)
		}
	}
	h.Close()
}

// TestAsyncBatchOnFullDisk: a batch whose block only partly fits on the
// disk fails as a whole; the lines that did reach the file whole stay in
// the chain, so the next file's recovery record names the last of them and
// the trail verifies.
func TestAsyncBatchOnFullDisk(t *testing.T) {
	dir := faulttest.Tmpfs(t, "256k")
	path := filepath.Join(dir, "audit.log")
	f, err := OpenFile(FileConfig{Path: path, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	a := newAsync(Named("file", f), 64)
	h := NewHandler(a, nil)
	t.Cleanup(func() { h.Close() }) // before the unmount
	filler := faulttest.Fill(t, dir)
	st, err := os.Stat(filler)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filler, st.Size()-8<<10); err != nil { // two pages free
		t.Fatal(err)
	}
	trs := queueBatch(t, h, 20, 1000) // about 22 KB
	go a.run()
	for i, tr := range trs {
		if err := tr.Wait(context.Background()); err == nil {
			t.Errorf("record %d of a batch that did not fit: no error", i)
		}
	}
	whole, _ := f.State()
	if whole <= 1 {
		t.Errorf("chain at seq %d: no line of the partly written block kept", whole)
	}
	os.Remove(filler)
	recoversAfter(t, h, dir, path, whole)
}

// TestAsyncConcurrentWaits: senders that each record and wait, so the
// queued entries are written now by the goroutine, now by a waiting
// sender: every record is written once, each sender's in its order, and
// the chain (rotated, anchored) verifies.
func TestAsyncConcurrentWaits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	anchor := filepath.Join(t.TempDir(), "anchor")
	f, err := OpenFile(FileConfig{Path: path, Key: testKey, MaxSize: 8 << 10, Sync: SyncNone, AnchorFile: anchor})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(NewAsync(Named("file", f), 64), nil)
	const senders, each = 8, 50
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				tr := h.Track()
				if err := tr.Record(context.Background(), slog.LevelInfo, "smtp.send", slog.Int("g", g), slog.Int("i", i)); err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 { // every other record left for the goroutine
					if err := tr.Wait(context.Background()); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	files := trailFiles(t, dir)
	last := make([]int, senders)
	for g := range last {
		last[g] = -1
	}
	n := 0
	for _, name := range files {
		for _, l := range readLines(t, name) {
			k := strings.Index(l, `"g":`)
			if k < 0 {
				continue // open and seal records
			}
			var g, i int
			if _, err := fmt.Sscanf(l[k:], `"g":%d,"i":%d`, &g, &i); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			if i != last[g]+1 {
				t.Errorf("sender %d: record %d after %d", g, i, last[g])
			}
			last[g] = i
			n++
		}
	}
	if n != senders*each {
		t.Errorf("%d records in the files, want %d", n, senders*each)
	}
	a, err := ReadAnchor(anchor)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := VerifyAnchor(testKey, a, files...); err != nil || !rep.Sealed {
		t.Errorf("verify: %+v, %v", rep, err)
	}
}

// recoversAfter records one more entry through h after a failed write,
// closes h, and checks that the trail in dir (active file path) verifies
// with one recovery gap after record lastSeq, sealed.
func recoversAfter(t *testing.T, h *Handler, dir, path string, lastSeq uint64) {
	t.Helper()
	tr := h.Track()
	if err := tr.Record(context.Background(), slog.LevelInfo, "after"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Wait(context.Background()); err != nil {
		t.Fatalf("after the failure: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	rep, err := Verify(testKey, append(files, path)...)
	if err != nil || len(rep.Gaps) != 1 || rep.Gaps[0].Reason != ReasonRecover || rep.Gaps[0].LastSeq != lastSeq || !rep.Sealed {
		t.Errorf("verify: %+v, %v; want one recovery after seq %d", rep, err, lastSeq)
	}
}

// TestAsyncInlineWrite: in front of a File that does not fsync every
// record, an idle Async writes a record in the caller: it is in the file
// when Record returns, without the goroutine (not started here), and a
// failure is the caller's error at once. Under SyncEvery the record is
// queued for the goroutine or a Wait, as before.
func TestAsyncInlineWrite(t *testing.T) {
	for _, policy := range []SyncPolicy{SyncNone, SyncInterval, SyncEvery} {
		t.Run(policy.String(), func(t *testing.T) {
			f, path := openTrail(t, policy)
			a := newAsync(f, 64)
			h := NewHandler(Named("file", a), nil)
			tr := h.Track()
			if err := tr.Record(context.Background(), slog.LevelInfo, "smtp.intent", slog.Int("i", 1)); err != nil {
				t.Fatal(err)
			}
			lines := readLines(t, path)
			inline := policy != SyncEvery
			if got := len(lines) == 2 && strings.Contains(lines[1], `"msg":"smtp.intent","i":1`); got != inline {
				t.Errorf("record in the file when Record returned: %v, want %v (%q)", got, inline, lines)
			}
			if got, want := a.Len(), map[bool]int{true: 0, false: 1}[inline]; got != want {
				t.Errorf("%d entries queued, want %d", got, want)
			}
			if err := tr.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			if lines := readLines(t, path); len(lines) != 2 {
				t.Fatalf("after Wait: %d lines, want 2", len(lines))
			}
			if a.batches != map[bool]uint64{true: 0, false: 1}[inline] {
				t.Errorf("%d batches through the queue", a.batches)
			}
			go a.run()
			if inline {
				// A write that fails inline fails the Record that made it.
				f.Close()
				tr := h.Track()
				err := tr.Record(context.Background(), slog.LevelInfo, "smtp.rcpt")
				var se *SinkError
				if !errors.Is(err, ErrClosed) || !errors.As(err, &se) || se.Sink != "file" {
					t.Errorf("Record on a closed file: %v, want the file's ErrClosed", err)
				}
				if !errors.Is(tr.Err(), ErrClosed) {
					t.Errorf("tracker after the failure: %v", tr.Err())
				}
			}
			h.Close()
			if rep, err := Verify(testKey, path); err != nil || !rep.Sealed {
				t.Errorf("verify: %+v, %v", rep, err)
			}
		})
	}
}

// TestLoanedEntriesQueuedAsCopies: a Handler in front of an Async encodes
// records into pooled entries it reuses once Write returns; the entries
// Async queues (here all of them: the queue is busy) are copies, so every
// record reaches the file as it was made, also for a Handler on a named
// Async and on a queue in front of a File chained to another sink.
func TestLoanedEntriesQueuedAsCopies(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprint("named=", named), func(t *testing.T) {
			f, path := openTrail(t, SyncNone)
			a := newAsync(f, 64)
			var sink Sink = a
			if named {
				sink = Named("file", a)
			}
			h := NewHandler(sink, nil)
			if h.c.lend == nil {
				t.Fatal("the Handler does not lend its entries to Async")
			}
			pretendWriting(a) // every record is queued
			for i := range 20 {
				if err := h.Record(context.Background(), slog.LevelInfo, "smtp.rcpt", slog.Int("i", i), slog.String("pad", strings.Repeat("x", i*10))); err != nil {
					t.Fatal(err)
				}
			}
			resumeQueue(a)
			if err := h.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.Close()
			lines := readLines(t, path)
			if len(lines) != 22 {
				t.Fatalf("%d lines, want open, 20 records, seal", len(lines))
			}
			wantPadded(t, lines[1:21])
			if rep, err := Verify(testKey, path); err != nil || !rep.Sealed {
				t.Errorf("verify: %+v, %v", rep, err)
			}
		})
	}
}
