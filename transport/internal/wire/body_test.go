package wire

import (
	"bytes"
	"strings"
	"testing"
)

func encode(in string, stuff bool, chunks int) string {
	var out bytes.Buffer
	b := &Body{W: &out, Stuff: stuff}
	// Feed in pieces to exercise the state kept across writes.
	step := len(in)/chunks + 1
	for i := 0; i < len(in); i += step {
		end := min(i+step, len(in))
		b.Write([]byte(in[i:end]))
	}
	b.Close()
	return out.String()
}

func TestBodyNormaliseAndStuff(t *testing.T) {
	tests := []struct{ in, data, bdat string }{
		{"", ".\r\n", ""},
		{"a", "a\r\n.\r\n", "a\r\n"},
		{"a\r\n", "a\r\n.\r\n", "a\r\n"},
		{"a\nb\n", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
		{"a\rb\r", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
		{".\r\n", "..\r\n.\r\n", ".\r\n"},
		{"a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n"},
		{"a\n.\nb", "a\r\n..\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n"},
		{"a\r.\r\nb", "a\r\n..\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n"},
		{"a\r\n.\rb", "a\r\n..\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n"},
		{"a\r\r\n", "a\r\n\r\n.\r\n", "a\r\n\r\n"},
		{"a\n\r", "a\r\n\r\n.\r\n", "a\r\n\r\n"},
		{"..x", "...x\r\n.\r\n", "..x\r\n"},
		{"a\x00.\r\n", "a\x00.\r\n.\r\n", "a\x00.\r\n"},
	}
	for _, tt := range tests {
		for _, chunks := range []int{1, 2, 3, 7, 100} {
			if got := encode(tt.in, true, chunks); got != tt.data {
				t.Errorf("DATA %q (%d pieces) = %q, want %q", tt.in, chunks, got, tt.data)
			}
			if got := encode(tt.in, false, chunks); got != tt.bdat {
				t.Errorf("BDAT %q (%d pieces) = %q, want %q", tt.in, chunks, got, tt.bdat)
			}
		}
	}
}

// FuzzBody checks the oracle: the output has no bare CR or LF; the
// terminator appears only at the end; removing it and unstuffing gives
// the normalised (unstuffed) encoding.
func FuzzBody(f *testing.F) {
	for _, s := range []string{"a\r.\r\nb", "\n.\n", "\r\n.\r", ".", "x\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := encode(in, true, 3)
		if s := strings.ReplaceAll(got, "\r\n", ""); strings.ContainsAny(s, "\r\n") {
			t.Fatalf("bare CR/LF in %q", got)
		}
		if i := strings.Index("\r\n"+got, "\r\n.\r\n"); i != len(got)-3 {
			t.Fatalf("terminator at %d in %q", i, got)
		}
		plain := encode(in, false, 1)
		unstuffed := strings.ReplaceAll("\r\n"+strings.TrimSuffix(got, ".\r\n"), "\r\n.", "\r\n")[2:]
		if unstuffed != plain {
			t.Fatalf("unstuffed %q != normalised %q", unstuffed, plain)
		}
	})
}
