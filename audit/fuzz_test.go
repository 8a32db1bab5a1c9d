package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

// FuzzTranscript: whatever the prefix (none, "C: ", "> ", timestamps) and
// whatever the SASL responses, no client response of an AUTH exchange
// reaches the output.
func FuzzTranscript(f *testing.F) {
	f.Add("", []byte("hunter2"), []byte("alice"), uint8(0))
	f.Add("2026-11-22 19:04:21.323 ", []byte("\x00alice\x00pw"), []byte("250"), uint8(1))
	f.Add("[12] ", []byte("334 x"), []byte("235 "), uint8(2))
	f.Fuzz(func(t *testing.T, ts string, resp1, resp2 []byte, style uint8) {
		if strings.ContainsAny(ts, "\r\n") {
			return
		}
		marks := [][2]string{{"", ""}, {"C: ", "S: "}, {"> ", "< "}, {"-> ", "<- "}}
		m := marks[int(style)%len(marks)]
		if m[0] == "" {
			ts = "" // no prefixes at all
		}
		b1 := base64.StdEncoding.EncodeToString(resp1)
		b2 := base64.StdEncoding.EncodeToString(resp2)
		in := ts + m[0] + "AUTH LOGIN\r\n" +
			ts + m[1] + "334 VXNlcm5hbWU6\r\n" +
			ts + m[0] + b1 + "\r\n" +
			ts + m[1] + "334 UGFzc3dvcmQ6\r\n" +
			ts + m[0] + b2 + "\r\n" +
			ts + m[1] + "235 2.7.0 ok\r\n"
		var out bytes.Buffer
		tr := NewTranscript(&out)
		tr.Write([]byte(in))
		tr.Close()
		for _, b := range []string{b1, b2} {
			if len(b) >= 8 && strings.Contains(out.String(), b) {
				t.Fatalf("response %q in output:\n%s", b, out.String())
			}
		}
	})
}
