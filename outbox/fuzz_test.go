package outbox

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCorruptEntryNeverLoads changes one byte of a valid spool file (or
// cuts it short): the oracle is that the entry no longer loads, with an
// ErrCorrupt error, and never loads with other contents.
func FuzzCorruptEntryNeverLoads(f *testing.F) {
	f.Add(uint16(0), byte(1), uint16(0))
	f.Add(uint16(100), byte(0x80), uint16(0))
	f.Add(uint16(5), byte(0), uint16(10))
	dir := f.TempDir()
	o, err := Open(Config{Dir: dir})
	if err != nil {
		f.Fatal(err)
	}
	e, err := o.Enqueue(f.Context(), Envelope{From: "a@example.com", To: []string{"b@example.org"}, MessageID: "f@example.com"}, body(message(33)))
	if err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(filepath.Join(dir, e.ID+msgExt))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pos uint16, xor byte, cut uint16) {
		b := bytes.Clone(valid)
		if int(pos) < len(b) {
			b[pos] ^= xor
		}
		if int(cut) < len(b) && cut > 0 {
			b = b[:len(b)-int(cut)]
		}
		path := filepath.Join(t.TempDir(), "x.msg")
		os.WriteFile(path, b, 0o600)
		l, err := loadMsg(path)
		if bytes.Equal(b, valid) {
			if err != nil {
				t.Fatalf("the valid file does not load: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("a changed file loaded: %+v", l.hdr)
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v is not ErrCorrupt", err)
		}
	})
}

// FuzzParseState: any state file either parses with a matching checksum
// or is ErrCorrupt; marshalState round-trips.
func FuzzParseState(f *testing.F) {
	f.Add(marshalState(state{Attempts: 2, LastError: "451 later"}))
	f.Add([]byte("{}\nabc\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseState(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		again, err := parseState(marshalState(s))
		if err != nil || again.Attempts != s.Attempts || again.LastError != s.LastError || again.Dead != s.Dead {
			t.Fatalf("round trip: %+v -> %+v (%v)", s, again, err)
		}
	})
}
