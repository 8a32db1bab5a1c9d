package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a deterministic clock that advances one millisecond per reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

// writeTrail writes n records through a Handler into a File sink at path
// and closes it. The file holds the open record (seq 1), records seq 2 to
// n+1 and the seal (seq n+2).
func writeTrail(t *testing.T, cfg FileConfig, n int) {
	t.Helper()
	f, err := OpenFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(f, &Options{Now: cfg.Now})
	log := slog.New(h)
	for i := range n {
		log.Info("smtp.send", "server", "mail.example.com:587", "rcpts", []string{fmt.Sprintf("r%d@example.com", i)}, "size", 1000+i)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

// openTrail opens a File with testKey and the given policy in a new
// temporary directory and returns it with its path.
func openTrail(t *testing.T, policy SyncPolicy) (*File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	f, err := OpenFile(FileConfig{Path: path, Key: testKey, Sync: policy})
	if err != nil {
		t.Fatal(err)
	}
	return f, path
}

// wantPadded checks that lines hold, in order, the records
// "smtp.rcpt" i=0..len(lines)-1 with pad strings of i*10 'x' (as the
// queued-as-copies tests make them).
func wantPadded(t *testing.T, lines []string) {
	t.Helper()
	for i, l := range lines {
		if want := fmt.Sprintf(`"msg":"smtp.rcpt","i":%d,"pad":"%s"`, i, strings.Repeat("x", i*10)); !strings.Contains(l, want) {
			t.Errorf("record %d: %s, want %s", i, l, want)
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(b), "\n")[:strings.Count(string(b), "\n")]
}

func writeLines(t *testing.T, path string, lines []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFileChainVerifies(t *testing.T) {
	for _, key := range [][]byte{nil, testKey} {
		t.Run(fmt.Sprintf("key=%v", key != nil), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			writeTrail(t, FileConfig{Path: path, Key: key, Now: newClock().Now}, 10)
			rep, err := Verify(key, path)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Records != 12 || rep.FirstSeq != 1 || rep.LastSeq != 12 || !rep.Anchored || !rep.Sealed {
				t.Errorf("report = %+v", rep)
			}
			want := AlgSHA256
			if key != nil {
				want = AlgHMACSHA256
			}
			if rep.Alg != want {
				t.Errorf("alg = %q, want %q", rep.Alg, want)
			}
			lines := readLines(t, path)
			if !strings.Contains(lines[0], `"msg":"audit.open"`) || !strings.Contains(lines[11], `"msg":"audit.seal"`) {
				t.Errorf("open/seal records missing:\n%s\n%s", lines[0], lines[11])
			}
		})
	}
}

func TestVerifyKeyMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeTrail(t, FileConfig{Path: path, Key: testKey, Now: newClock().Now}, 3)
	if _, err := Verify(nil, path); !errors.Is(err, ErrKeyRequired) {
		t.Errorf("no key: err = %v, want ErrKeyRequired", err)
	}
	_, err := Verify([]byte("another key, just as long as the other"), path)
	var te *TamperError
	if !errors.As(err, &te) || te.Seq != 1 || te.Kind != Edited {
		t.Errorf("wrong key: err = %v", err)
	}

	plain := filepath.Join(t.TempDir(), "audit.log")
	writeTrail(t, FileConfig{Path: plain, Now: newClock().Now}, 3)
	if _, err := Verify(testKey, plain); !errors.As(err, &te) || !strings.Contains(te.Detail, "plain SHA-256") {
		t.Errorf("downgrade: err = %v", err)
	}
}

// TestTamper is the tamper list: each change is found, classified,
// with the right record number and line.
func TestTamper(t *testing.T) {
	for _, key := range [][]byte{nil, testKey} {
		for _, tc := range []struct {
			name   string
			tamper func(lines []string) []string
			kind   Kind
			seq    uint64
			line   int
		}{
			{"flip a byte in a value", func(l []string) []string {
				l[4] = strings.Replace(l[4], "r3@", "r3#", 1)
				return l
			}, Edited, 5, 5},
			{"flip a byte in the seq", func(l []string) []string {
				l[4] = strings.Replace(l[4], `"seq":5`, `"seq":7`, 1)
				return l
			}, Edited, 5, 5},
			{"flip a byte in the hash", func(l []string) []string {
				b := []byte(l[6])
				i := len(b) - 5
				b[i] ^= 1
				if !(b[i] >= '0' && b[i] <= '9' || b[i] >= 'a' && b[i] <= 'f') {
					b[i] = '0'
				}
				l[6] = string(b)
				return l
			}, Edited, 7, 7},
			{"delete a line", func(l []string) []string {
				return append(l[:3:3], l[4:]...)
			}, Removed, 4, 4},
			{"delete two lines", func(l []string) []string {
				return append(l[:3:3], l[5:]...)
			}, Removed, 4, 4},
			{"swap two lines", func(l []string) []string {
				l[5], l[6] = l[6], l[5]
				return l
			}, Reordered, 6, 6},
			{"insert a forged line", func(l []string) []string {
				forged := strings.Replace(l[3], "r2@", "evil@", 1)
				return append(l[:3:3], append([]string{forged}, l[3:]...)...)
			}, Inserted, 4, 4},
			{"insert a line with a recomputed hash", func(l []string) []string {
				// What someone without the key can do to a plain chain.
				p, _ := parseLine([]byte(strings.TrimSuffix(l[3], "\n")))
				forged := strings.Replace(string(p.signed), "r2@", "evil@", 1)
				forged = forged[:len(forged)-1] + `,"hash":"` + hex.EncodeToString(sha256Sum([]byte(forged))) + "\"}\n"
				return append(l[:3:3], append([]string{forged}, l[3:]...)...)
			}, Inserted, 4, 4},
			{"duplicate a line", func(l []string) []string {
				return append(l[:5:5], append([]string{l[2]}, l[5:]...)...)
			}, Inserted, 6, 6},
			{"truncate at a line boundary", func(l []string) []string {
				return l[:8]
			}, Truncated, 9, 9},
			{"truncate mid-line", func(l []string) []string {
				l = l[:8]
				l[7] = l[7][:len(l[7])/2]
				return l
			}, Truncated, 8, 8},
			{"drop the seal", func(l []string) []string {
				return l[:len(l)-1]
			}, Truncated, 12, 12},
		} {
			t.Run(fmt.Sprintf("%s/key=%v", tc.name, key != nil), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "audit.log")
				writeTrail(t, FileConfig{Path: path, Key: key, Now: newClock().Now}, 10)
				writeLines(t, path, tc.tamper(readLines(t, path)))
				_, err := Verify(key, path)
				var te *TamperError
				if !errors.As(err, &te) {
					t.Fatalf("err = %v, want a *TamperError", err)
				}
				if te.Kind != tc.kind || te.Seq != tc.seq || te.Line != tc.line || te.File != path {
					t.Errorf("got %v (kind %v seq %d line %d), want kind %v seq %d line %d", err, te.Kind, te.Seq, te.Line, tc.kind, tc.seq, tc.line)
				}
			})
		}
	}
}

// rotatingTrail writes n records with a size limit small enough to rotate
// every few records and returns the files, oldest first.
func rotatingTrail(t *testing.T, dir string, key []byte, n int) []string {
	t.Helper()
	path := filepath.Join(dir, "audit.log")
	writeTrail(t, FileConfig{Path: path, Key: key, MaxSize: 1500, Now: newClock().Now}, n)
	files, err := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return append(files, path)
}

func TestRotationChainContinues(t *testing.T) {
	dir := t.TempDir()
	files := rotatingTrail(t, dir, testKey, 20)
	if len(files) < 4 {
		t.Fatalf("only %d files; want rotation", len(files))
	}
	// Any order on the command line: Verify sorts by sequence number.
	rev := append([]string(nil), files...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	rep, err := Verify(testKey, rev...)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Sealed || !rep.Anchored || rep.Files[len(rep.Files)-1] != files[len(files)-1] {
		t.Errorf("report = %+v", rep)
	}
	for _, f := range files {
		if st, _ := os.Stat(f); st.Size() > 1500+400 {
			t.Errorf("%s is %d bytes, limit 1500", f, st.Size())
		}
	}

	// Leaving out a middle file, the active file or the first one.
	_, err = Verify(testKey, append(append([]string(nil), files[:1]...), files[2:]...)...)
	var te *TamperError
	if !errors.As(err, &te) || te.Kind != Removed || te.File != files[2] || te.Line != 1 {
		t.Errorf("middle file missing: %v", err)
	}
	_, err = Verify(testKey, files[:len(files)-1]...)
	if !errors.As(err, &te) || te.Kind != Truncated || te.Tail {
		t.Errorf("active file missing: %v", err)
	}
	rep, err = Verify(testKey, files[1:]...)
	if err != nil || rep.Anchored {
		t.Errorf("oldest file pruned: report %+v, err %v", rep, err)
	}
}

// TestSplice joins the head of one file to the tail of another.
func TestSplice(t *testing.T) {
	t.Run("two files of one chain", func(t *testing.T) {
		dir := t.TempDir()
		files := rotatingTrail(t, dir, testKey, 20)
		a, b := readLines(t, files[0]), readLines(t, files[2])
		// The first two records of file 1, then file 3 from its third line.
		writeLines(t, files[0], append(a[:2:2], b[2:]...))
		_, err := Verify(testKey, files[0])
		var te *TamperError
		if !errors.As(err, &te) || te.Kind != Removed || te.Line != 3 || te.Seq != 3 {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("two chains", func(t *testing.T) {
		d1, d2 := filepath.Join(t.TempDir(), "audit.log"), filepath.Join(t.TempDir(), "audit.log")
		writeTrail(t, FileConfig{Path: d1, Key: testKey, Now: newClock().Now}, 10)
		c := newClock()
		c.Advance(time.Hour)
		writeTrail(t, FileConfig{Path: d2, Key: testKey, Now: c.Now}, 10)
		a, b := readLines(t, d1), readLines(t, d2)
		writeLines(t, d1, append(a[:5:5], b[5:]...))
		_, err := Verify(testKey, d1)
		var te *TamperError
		if !errors.As(err, &te) || te.Kind != Spliced || te.Line != 6 || te.Seq != 6 {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRotationByAgeAndRetention(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	c := newClock()
	f, err := OpenFile(FileConfig{Path: path, MaxAge: time.Hour, MaxFiles: 2, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(f, &Options{Now: c.Now})
	for i := range 6 {
		if err := h.Record(context.Background(), slog.LevelInfo, "smtp.probe", slog.Int("i", i)); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Hour)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	rotated, _ := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	if len(rotated) != 2 {
		t.Fatalf("rotated files = %v, want 2 kept", rotated)
	}
	rep, err := Verify(nil, append(rotated, path)...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Anchored {
		t.Error("chain reported anchored although older files were pruned")
	}
}

func TestReopenContinuesChain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	c := newClock()
	writeTrail(t, FileConfig{Path: path, Key: testKey, Now: c.Now}, 3)
	writeTrail(t, FileConfig{Path: path, Key: testKey, Now: c.Now}, 3)

	// A crash: the writer is gone without sealing, mid-line.
	f, err := OpenFile(FileConfig{Path: path, Key: testKey, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(f, nil)
	h.Record(context.Background(), slog.LevelInfo, "smtp.send", slog.String("from", "a@example.com"))
	f.f.Write([]byte(`{"seq":99,"prev":"ab`))
	f.f.Close()
	f.lock.Close() // the process is gone, and its lock with it

	writeTrail(t, FileConfig{Path: path, Key: testKey, Now: c.Now}, 3)
	files, _ := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	files = append(files, path)
	if len(files) != 4 {
		t.Fatalf("files = %v", files)
	}
	// The restart recorded the crash: Verify reports it as a gap, with
	// the torn line set aside, and checks the rest.
	rep, err := Verify(testKey, files...)
	if err != nil || len(rep.Gaps) != 1 || rep.Gaps[0].File != files[2] || rep.Gaps[0].Reason != ReasonCrash || !rep.Gaps[0].Torn || !rep.Sealed {
		t.Fatalf("crashed file: %+v, %v; want one recorded crash gap", rep, err)
	}
	// Without the file after the crash, the crashed file is cut short.
	_, err = Verify(testKey, files[:3]...)
	var te *TamperError
	if !errors.As(err, &te) || te.Kind != Truncated || te.File != files[2] {
		t.Fatalf("crashed file alone: err = %v", err)
	}
	// The chain across the clean restarts verifies on its own.
	if _, err := Verify(testKey, files[:2]...); err != nil {
		t.Errorf("clean restarts: %v", err)
	}
	last := readLines(t, path)
	crashed := readLines(t, files[2])
	if raw, _ := os.ReadFile(files[2]); !bytes.HasSuffix(raw, []byte(`"prev":"ab`)) {
		t.Fatal("the torn line is not at the end of the crashed file")
	}
	whole, _ := parseLine([]byte(strings.TrimSuffix(crashed[len(crashed)-1], "\n")))
	first, _ := parseLine([]byte(strings.TrimSuffix(last[0], "\n")))
	if whole == nil || first == nil || first.prev != whole.hash || first.seq != whole.seq+1 || first.reason != ReasonCrash ||
		first.lastSeq != whole.seq || first.lastHash != hex.EncodeToString(whole.hash[:]) || rep.Gaps[0].LastSeq != whole.seq {
		t.Errorf("resume after crash does not link: %+v -> %+v", whole, first)
	}
}

func TestOpenRefusesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	os.WriteFile(path, []byte("hello\n"), 0o600)
	if _, err := OpenFile(FileConfig{Path: path}); err == nil || !strings.Contains(err.Error(), "audit: file:") {
		t.Errorf("err = %v", err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, []byte("hello\n")) {
		t.Error("foreign file was changed")
	}
}

func TestFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no group/other mode bits: Go reports 0666 for any writable file")
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	writeTrail(t, FileConfig{Path: path}, 1)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
}

// TestConcurrentWriters: records from many goroutines form one valid chain,
// across rotations, with an Async queue in front.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	f, err := OpenFile(FileConfig{Path: path, Key: testKey, MaxSize: 4096, Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(NewAsync(f, 64), &Options{Policy: FailOpen})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log := slog.New(h).With("g", g)
			for i := range 50 {
				log.Info("smtp.rcpt", "i", i)
			}
		}()
	}
	wg.Wait()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	rep, err := Verify(testKey, files...)
	if err != nil {
		t.Fatal(err)
	}
	st := h.Stats()
	seals := len(files) // one audit.open and one audit.seal per file
	if uint64(rep.Records) != st.Records-st.Dropped+uint64(2*seals) {
		t.Errorf("verified %d records; stats %+v, %d files", rep.Records, st, len(files))
	}
}

// TestWriteFailureRecovers: a failed write is returned to the caller, and
// the next write continues the chain in a new file.
func TestWriteFailureRecovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	c := newClock()
	f, err := OpenFile(FileConfig{Path: path, Key: testKey, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(f, &Options{Now: c.Now})
	ctx := context.Background()
	if err := h.Record(ctx, slog.LevelInfo, "one"); err != nil {
		t.Fatal(err)
	}
	f.f.Close() // the disk goes away under the sink
	if err := h.Record(ctx, slog.LevelInfo, "two"); err == nil || !strings.HasPrefix(err.Error(), "audit: file: ") {
		t.Fatalf("write to a broken file: %v", err)
	}
	if err := h.Record(ctx, slog.LevelInfo, "three"); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	if len(files) != 1 {
		t.Fatalf("rotated files: %v", files)
	}
	// The broken file ends without a seal, and the new file continues the
	// chain from its last record, saying so: Verify reports the gap.
	rep, err := Verify(testKey, files[0], path)
	if err != nil || len(rep.Gaps) != 1 || rep.Gaps[0].Reason != ReasonRecover || rep.Gaps[0].LastSeq != 2 || rep.Gaps[0].File != files[0] {
		t.Errorf("recorded recovery: %+v, %v", rep, err)
	}
	lines := readLines(t, path)
	p, _ := parseLine([]byte(strings.TrimSuffix(lines[0], "\n")))
	if p == nil || p.seq != 3 || p.reason != "recover" || p.lastSeq != 2 {
		t.Errorf("first record of the new file: %q", lines[0])
	}
	if rep, err := Verify(testKey, path); err != nil || rep.Anchored {
		t.Errorf("new file alone: %+v %v", rep, err)
	}
}

// TestResumeFromRotatedOnly: with the active file gone, the chain continues
// from the rotated file with the highest sequence number. Deleting the
// newest file is truncation, which the chain cannot show, but the writer
// notes what it found and Verify warns.
func TestResumeFromRotatedOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	c := newClock()
	writeTrail(t, FileConfig{Path: path, Now: c.Now}, 2)
	writeTrail(t, FileConfig{Path: path, Now: c.Now}, 2) // rotates the first away
	os.Remove(path)                                      // someone deletes the active file
	writeTrail(t, FileConfig{Path: path, Now: c.Now}, 2)
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	rep, err := Verify(nil, files...)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "record 5: the writer found its active file missing") {
		t.Errorf("warnings = %q", rep.Warnings)
	}
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func TestOneWriterPerTrail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	f, err := OpenFile(FileConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(FileConfig{Path: path}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second writer: %v", err)
	}
	f.Close()
	f, err = OpenFile(FileConfig{Path: path})
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	f.Close()
}

// TestEmptiedActiveFile: an active file emptied while the writer was down is
// kept as evidence, the chain goes on, and Verify reports the empty file.
func TestEmptiedActiveFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	c := newClock()
	writeTrail(t, FileConfig{Path: path, Now: c.Now}, 2)
	writeTrail(t, FileConfig{Path: path, Now: c.Now}, 2)
	os.Truncate(path, 0)
	writeTrail(t, FileConfig{Path: path, Now: c.Now}, 2)
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	// The first trail, the emptied second one, the third.
	if len(files) != 3 {
		t.Fatalf("files = %v", files)
	}
	_, err := Verify(nil, files...)
	var te *TamperError
	if !errors.As(err, &te) || te.Kind != Truncated || !strings.Contains(te.Detail, "empty") {
		t.Errorf("err = %v", err)
	}
	lines := readLines(t, path)
	if !strings.Contains(lines[0], `"reason":"active-missing"`) || !strings.Contains(lines[0], `"seq":5,`) {
		t.Errorf("first record after the emptied file: %s", lines[0])
	}

	// A writer that died between creating the file and its first record
	// leaves an empty file and nothing else: the next start begins anew.
	dir2 := t.TempDir()
	p2 := filepath.Join(dir2, "audit.log")
	os.WriteFile(p2, nil, 0o600)
	writeTrail(t, FileConfig{Path: p2, Now: c.Now}, 1)
	if lines := readLines(t, p2); !strings.HasPrefix(lines[0], `{"seq":1,`) {
		t.Errorf("fresh start: %s", lines[0])
	}
}
