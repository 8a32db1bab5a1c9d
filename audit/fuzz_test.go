package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzVerifyDetectsAnyChange: any change to a keyed trail (overwrite, insert
// or delete a byte anywhere) either leaves it byte for byte the same or
// makes Verify fail.
func FuzzVerifyDetectsAnyChange(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "audit.log")
	fileCfg := FileConfig{Path: path, Key: testKey, Now: newClock().Now}
	fh, err := OpenFile(fileCfg)
	if err != nil {
		f.Fatal(err)
	}
	h := NewHandler(fh, &Options{Now: fileCfg.Now})
	for i := range 4 {
		h.Record(context.Background(), slog.LevelInfo, "smtp.send", slog.Int("i", i))
	}
	h.Close()
	orig, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint(10), byte('x'), uint8(0))
	f.Add(uint(len(orig)-1), byte(0), uint8(2))
	f.Add(uint(100), byte('\n'), uint8(1))
	f.Fuzz(func(t *testing.T, pos uint, b byte, op uint8) {
		data := bytes.Clone(orig)
		p := int(pos % uint(len(data)))
		switch op % 3 {
		case 0:
			data[p] = b
		case 1:
			data = append(data[:p], append([]byte{b}, data[p:]...)...)
		case 2:
			data = append(data[:p], data[p+1:]...)
		}
		mpath := filepath.Join(t.TempDir(), "audit.log")
		os.WriteFile(mpath, data, 0o600)
		_, err := Verify(testKey, mpath)
		if err == nil && !bytes.Equal(data, orig) {
			t.Fatalf("change at %d (op %d, byte %q) not detected", p, op%3, b)
		}
	})
}

// FuzzEncodeString: any string becomes a one-line, ASCII-only JSON string
// that decodes back to it (invalid UTF-8 decodes to U+FFFD, as in
// encoding/json).
func FuzzEncodeString(f *testing.F) {
	for _, s := range []string{"", "a\nb", "\x00\x7f\"\\", "ü€😀", "\xff\xfe", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		for _, c := range out {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("byte %#x in %q", c, out)
			}
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		want := s
		if !utf8.ValidString(s) {
			want = string([]rune(s)) // invalid bytes become U+FFFD
		}
		if back != want {
			t.Fatalf("round trip %q -> %q -> %q", s, out, back)
		}
	})
}
