package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scanAll runs a Scanner over files and returns the records it yielded,
// its report, the Scanner and its error.
func scanAll(t *testing.T, cfg ScanConfig, files ...string) ([]ScannedRecord, *Report, *Scanner, error) {
	t.Helper()
	s, err := NewScanner(cfg, files...)
	if err != nil {
		return nil, nil, nil, err
	}
	defer s.Close()
	var recs []ScannedRecord
	for s.Next() {
		r := s.Record()
		r.JSON = append([]byte(nil), r.JSON...)
		recs = append(recs, r)
	}
	return recs, s.Report(), s, s.Err()
}

// sameVerdict fails unless the Scanner found what Verify found.
func sameVerdict(t *testing.T, key []byte, files []string) {
	t.Helper()
	want, werr := Verify(key, files...)
	recs, got, _, gerr := scanAll(t, ScanConfig{Key: key}, files...)
	var wt, gt *TamperError
	switch {
	case errors.As(werr, &wt) != errors.As(gerr, &gt):
		t.Fatalf("Verify: %v; Scanner: %v", werr, gerr)
	case wt != nil:
		if *wt != *gt {
			t.Fatalf("Verify: %#v; Scanner: %#v", *wt, *gt)
		}
	case (werr == nil) != (gerr == nil):
		t.Fatalf("Verify: %v; Scanner: %v", werr, gerr)
	}
	if want != nil && got != nil && (want.Records != got.Records || want.LastSeq != got.LastSeq || want.LastHash != got.LastHash ||
		want.Sealed != got.Sealed || want.Anchored != got.Anchored || want.Alg != got.Alg) {
		t.Fatalf("Verify report %+v; Scanner report %+v", want, got)
	}
	if got != nil && len(recs) != got.Records {
		t.Fatalf("the Scanner yielded %d records and reports %d", len(recs), got.Records)
	}
}

// TestScannerAgreesWithVerify tampers with a rotated trail in every way
// Verify knows (each line edited, removed, duplicated, moved; files cut
// short or left out) and checks that the streaming Scanner names the same
// first fault.
func TestScannerAgreesWithVerify(t *testing.T) {
	for _, key := range [][]byte{nil, testKey} {
		dir := t.TempDir()
		files := rotatingTrail(t, dir, key, 12)
		if len(files) < 3 {
			t.Fatalf("only %d files", len(files))
		}
		orig := make([][]string, len(files))
		for i, f := range files {
			orig[i] = readLines(t, f)
		}
		restore := func() {
			for i, f := range files {
				writeLines(t, f, append([]string(nil), orig[i]...))
			}
		}
		type mutation struct {
			name string
			fn   func(l []string) []string
		}
		var muts []mutation
		for i := range 5 {
			muts = append(muts,
				mutation{fmt.Sprintf("delete %d", i), func(l []string) []string {
					if i >= len(l) {
						return l
					}
					return append(l[:i:i], l[i+1:]...)
				}},
				mutation{fmt.Sprintf("edit %d", i), func(l []string) []string {
					if i < len(l) {
						l[i] = strings.Replace(l[i], `"level":"INFO"`, `"level":"WARN"`, 1)
						l[i] = strings.Replace(l[i], `"reason":"rotate"`, `"reason":"rotatE"`, 1)
					}
					return l
				}},
				mutation{fmt.Sprintf("swap %d", i), func(l []string) []string {
					if i+1 < len(l) {
						l[i], l[i+1] = l[i+1], l[i]
					}
					return l
				}},
				mutation{fmt.Sprintf("duplicate %d", i), func(l []string) []string {
					if i < len(l) {
						l = append(l[:i+1:i+1], l[i:]...)
					}
					return l
				}},
				mutation{fmt.Sprintf("copy 0 to %d", i), func(l []string) []string {
					if i < len(l) {
						l = append(l[:i:i], append([]string{l[0]}, l[i:]...)...)
					}
					return l
				}},
				mutation{fmt.Sprintf("cut after %d", i), func(l []string) []string {
					if i < len(l) {
						return l[:i]
					}
					return l
				}},
				mutation{fmt.Sprintf("tear %d", i), func(l []string) []string {
					if i < len(l) {
						l = l[:i+1]
						l[i] = l[i][:len(l[i])/2]
					}
					return l
				}},
				mutation{fmt.Sprintf("garbage before %d", i), func(l []string) []string {
					if i < len(l) {
						l = append(l[:i:i], append([]string{"not a record\n"}, l[i:]...)...)
					}
					return l
				}},
			)
		}
		for fi := range files {
			for _, m := range muts {
				t.Run(fmt.Sprintf("key=%v/file %d/%s", key != nil, fi, m.name), func(t *testing.T) {
					restore()
					writeLines(t, files[fi], m.fn(append([]string(nil), orig[fi]...)))
					sameVerdict(t, key, files)
				})
			}
			t.Run(fmt.Sprintf("key=%v/without file %d", key != nil, fi), func(t *testing.T) {
				restore()
				sameVerdict(t, key, append(append([]string(nil), files[:fi]...), files[fi+1:]...))
			})
		}
		t.Run(fmt.Sprintf("key=%v/intact, reversed", key != nil), func(t *testing.T) {
			restore()
			rev := append([]string(nil), files...)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			sameVerdict(t, key, rev)
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		dir := t.TempDir()
		files := rotatingTrail(t, dir, testKey, 5)
		sameVerdict(t, []byte("another key of 32 bytes, not it!"), files)
		_, _, _, err := scanAll(t, ScanConfig{}, files...)
		if !errors.Is(err, ErrKeyRequired) {
			t.Errorf("no key: %v", err)
		}
	})
}

// crashTrail writes a trail, "crashes" (the active file loses its seal, as
// when the process dies before Close; torn adds half a record after it),
// resumes with a new writer and closes cleanly. It returns the files and
// the last seq before the crash.
func crashTrail(t *testing.T, dir string, torn bool) ([]string, uint64) {
	t.Helper()
	path := filepath.Join(dir, "audit.log")
	c := newClock()
	writeTrail(t, FileConfig{Path: path, Key: testKey, Now: c.Now}, 5)
	l := readLines(t, path)
	l = l[:len(l)-1] // the seal
	if torn {
		l = append(l, l[len(l)-1][:40])
	}
	writeLines(t, path, l)
	p, err := parseLine([]byte(strings.TrimSuffix(l[len(l)-1-map[bool]int{true: 1}[torn]], "\n")))
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(3600e9)
	writeTrail(t, FileConfig{Path: path, Key: testKey, Now: c.Now}, 3)
	files, _ := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	return append(files, path), p.seq
}

func TestScannerRestarts(t *testing.T) {
	for _, torn := range []bool{false, true} {
		t.Run(fmt.Sprintf("torn=%v", torn), func(t *testing.T) {
			files, crashSeq := crashTrail(t, t.TempDir(), torn)
			// Strict: what Verify says. The writer records the crash in
			// the resuming audit.open (reason crash, the last intact
			// record), so both accept it as a recorded gap.
			sameVerdict(t, testKey, files)
			_, _, _, err := scanAll(t, ScanConfig{Key: testKey}, files...)
			if err != nil {
				t.Fatalf("strict scan of a recorded crash: %v", err)
			}
			var te *TamperError
			recs, rep, s, err := scanAll(t, ScanConfig{Key: testKey, Restarts: true}, files...)
			if err != nil {
				t.Fatalf("with restarts: %v", err)
			}
			rs := s.Restarts()
			if len(rs) != 1 || rs[0].Seq != crashSeq || rs[0].Torn != torn || rs[0].Reason != ReasonCrash || rs[0].File != files[0] {
				t.Fatalf("restarts %+v, want one after seq %d", rs, crashSeq)
			}
			if !rep.Sealed || rep.Records != len(recs) || recs[len(recs)-1].Msg != MsgSeal {
				t.Fatalf("report %+v", rep)
			}
			for i, r := range recs {
				if r.Seq != uint64(i+1) {
					t.Fatalf("record %d has seq %d", i, r.Seq)
				}
			}
			// A record removed before the crash point is still found.
			l := readLines(t, files[0])
			writeLines(t, files[0], append(l[:2:2], l[3:]...))
			_, _, _, err = scanAll(t, ScanConfig{Key: testKey, Restarts: true}, files...)
			if !errors.As(err, &te) || te.Kind != Removed || te.Seq != 3 {
				t.Fatalf("removed record: %v", err)
			}
			// So is the tail of the crashed file: the resume no longer links.
			writeLines(t, files[0], l[:3])
			_, _, _, err = scanAll(t, ScanConfig{Key: testKey, Restarts: true}, files...)
			if !errors.As(err, &te) || te.Kind != Truncated && te.Kind != Removed {
				t.Fatalf("cut crashed file: %v", err)
			}
		})
	}
}

// TestScannerTornBeforeRecordedCrash: the torn last line of a crashed file
// is set aside only as Verify sets it aside, so a forged line before it,
// or a break recorded at the wrong record, is reported as Verify reports it.
func TestScannerTornBeforeRecordedCrash(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(l []string) []string
		kind   Kind
		line   int
		detail string
	}{
		{"a line inserted before the torn one", func(l []string) []string {
			return append(l[:len(l)-1:len(l)-1], "not a record\n", l[len(l)-1])
		}, Inserted, 7, "a record that does not belong precedes the genuine one"},
		{"the last whole record removed", func(l []string) []string {
			return append(l[:len(l)-2:len(l)-2], l[len(l)-1])
		}, Truncated, 6, "the file ends without an audit.seal record but the chain goes on in the next file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, _ := crashTrail(t, t.TempDir(), true)
			b, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			l := strings.SplitAfter(string(b), "\n") // the last one torn
			writeLines(t, files[0], tc.edit(l))
			sameVerdict(t, testKey, files)
			_, err = Verify(testKey, files...)
			var te *TamperError
			if !errors.As(err, &te) || te.Kind != tc.kind || te.Line != tc.line || te.Detail != tc.detail {
				t.Fatalf("err = %#v", err)
			}
		})
	}
}

func TestScannerEmptyAndUnreadable(t *testing.T) {
	dir := t.TempDir()
	files := rotatingTrail(t, dir, nil, 5)
	empty := filepath.Join(dir, "empty.log")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sameVerdict(t, nil, append(files, empty))
	if _, err := NewScanner(ScanConfig{}, filepath.Join(dir, "missing.log")); err == nil {
		t.Error("a missing file: no error")
	}
	if _, err := NewScanner(ScanConfig{}); err == nil {
		t.Error("no files: no error")
	}
}

// TestScannerLongLine: a line far longer than any record (a file padded to
// exhaust memory) is read through in bounded memory and reported where
// Verify reports it.
func TestScannerLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeTrail(t, FileConfig{Path: path, Now: newClock().Now}, 4)
	l := readLines(t, path)
	long := strings.Repeat("x", MaxScanLine+100) + "\n"
	writeLines(t, path, append(l[:3:3], append([]string{long}, l[3:]...)...))
	sameVerdict(t, nil, []string{path})
	_, _, _, err := scanAll(t, ScanConfig{}, path)
	var te *TamperError
	if !errors.As(err, &te) || te.Kind != Inserted || te.Line != 4 {
		t.Errorf("err = %v", err)
	}
}
