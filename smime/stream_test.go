package smime

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func canonRef(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// FuzzCanonWriter checks the canonicaliser against a reference with any
// split of the input: the output has no bare CR or LF, and equals the
// reference conversion.
func FuzzCanonWriter(f *testing.F) {
	for _, s := range []string{"", "a\nb", "a\r\nb\r", "\r\r\n\n", "x\ry", strings.Repeat("z", 70000) + "\r"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, split int) {
		var out bytes.Buffer
		w := newCanonWriter(&out, false)
		in := []byte(s)
		if split <= 0 {
			split = 1
		}
		for len(in) > 0 {
			k := min(split, len(in))
			if n, err := w.Write(in[:k]); err != nil || n != k {
				t.Fatalf("Write = %d, %v", n, err)
			}
			in = in[k:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got, want := out.String(), canonRef(s); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

func TestCanonWriter7Bit(t *testing.T) {
	cases := []struct {
		in  string
		off int64
	}{
		{"abc\r\ndéf", 6},
		{"abc\x00", 3},
		{strings.Repeat("a", 998) + "\r\n" + strings.Repeat("b", 999), 1000 + 998},
		{"0123456789abcdef\x80", 16},
	}
	for _, c := range cases {
		w := newCanonWriter(&bytes.Buffer{}, true)
		_, err := w.Write([]byte(c.in))
		var ce *ContentError
		if !errors.As(err, &ce) || ce.Offset != c.off || !errors.Is(err, ErrNot7Bit) {
			t.Errorf("%q: got %v, want offset %d", c.in[:min(len(c.in), 20)], err, c.off)
		}
	}
	w := newCanonWriter(&bytes.Buffer{}, true)
	if _, err := w.Write([]byte(strings.Repeat("a", 998) + "\n" + strings.Repeat("b", 998))); err != nil {
		t.Fatalf("998-octet lines refused: %v", err)
	}
}

func TestB64WriterLines(t *testing.T) {
	for _, n := range []int{0, 1, 56, 57, 58, 570, 100000} {
		var out bytes.Buffer
		w := newB64Writer(&out)
		data := bytes.Repeat([]byte{0xa5}, n)
		for i := 0; i < n; i += 13 {
			w.Write(data[i:min(i+13, n)])
		}
		w.Close()
		lines := strings.Split(out.String(), "\r\n")
		for i, l := range lines[:len(lines)-1] {
			if len(l) > 76 || (i < len(lines)-2 && len(l) != 76) {
				t.Fatalf("n=%d line %d has %d chars", n, i, len(l))
			}
		}
		if lines[len(lines)-1] != "" {
			t.Fatalf("n=%d: output does not end in CRLF", n)
		}
	}
}
