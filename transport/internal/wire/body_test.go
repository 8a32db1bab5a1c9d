package wire

import (
	"bytes"
	"io"
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

// encodeWith feeds in through w in pieces cut at the given points and
// returns the output, the count of bytes written and the first error.
func encodeWith(w interface {
	Write([]byte) (int, error)
	Close() error
}, in []byte, cuts []byte) error {
	for _, c := range cuts {
		n := min(int(c)%(len(in)+1), len(in))
		if _, err := w.Write(in[:n]); err != nil {
			return err
		}
		in = in[n:]
	}
	if _, err := w.Write(in); err != nil {
		return err
	}
	return w.Close()
}

// tail is a Body's W that is a plain byte slice.
type tail struct{ buf []byte }

func (w *tail) Write(p []byte) (int, error) { w.buf = append(w.buf, p...); return len(p), nil }

// throughBody feeds a Body as the transport's chunk buffer does: each
// piece is first put in place at the end of W's buffer and offered to
// Through; only when refused is it taken back and passed to Write.
type throughBody struct {
	w    *tail
	body *Body
}

func (t *throughBody) Write(p []byte) (int, error) {
	n := len(t.w.buf)
	t.w.buf = append(t.w.buf, p...)
	ok, err := t.body.Through(t.w.buf[n:])
	if ok {
		return len(p), nil
	}
	t.w.buf = t.w.buf[:n]
	if err != nil {
		return 0, err
	}
	return t.body.Write(p)
}

func (t *throughBody) Close() error { return t.body.Close() }

// FuzzBodySameAsLineBased: whole-buffer validation writes exactly what
// the line-based encoder wrote, for DATA and BDAT, with and without the
// 8-bit check, however the input is cut into writes.
func FuzzBodySameAsLineBased(f *testing.F) {
	for _, s := range []string{"a\r\n.b\r\n", "a\r\r\n\n.", "\r\n\r\n", ".\r\n..\r\n", "a\rb\nc\r\n", "h\xe9\r\n", "x\r", "\n."} {
		f.Add([]byte(s), []byte{1, 3})
	}
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		for _, stuff := range []bool{true, false} {
			for _, check8 := range []bool{true, false} {
				var got, want bytes.Buffer
				nb := &Body{W: &got, Stuff: stuff, Check8: check8}
				ob := &lineBody{Body{W: &want, Stuff: stuff, Check8: check8}}
				gerr, werr := encodeWith(nb, in, cuts), encodeWith(ob, in, cuts)
				if (gerr == nil) != (werr == nil) || nb.EightBit != ob.EightBit {
					t.Fatalf("stuff %v check8 %v: error %v, line-based %v", stuff, check8, gerr, werr)
				}
				if gerr != nil {
					continue // both refused the data (8-bit); the partial output is discarded
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) || nb.N != ob.N {
					t.Fatalf("stuff %v check8 %v: %q (N %d), line-based %q (N %d)", stuff, check8, got.Bytes(), nb.N, want.Bytes(), ob.N)
				}
				// The same through Through, data read in place.
				tw := &tail{}
				tb := &throughBody{w: tw, body: &Body{W: tw, Stuff: stuff, Check8: check8}}
				if err := encodeWith(tb, in, cuts); err != nil || !bytes.Equal(tw.buf, want.Bytes()) || tb.body.N != ob.N {
					t.Fatalf("stuff %v check8 %v, in place: %q (N %d, err %v), line-based %q (N %d)", stuff, check8, tw.buf, tb.body.N, err, want.Bytes(), ob.N)
				}
			}
		}
	})
}

// BenchmarkBody encodes a 1 MB message of 76-character CRLF lines (every
// tenth starting with a dot) in 32 KiB writes, as the transport does.
func BenchmarkBody(b *testing.B) {
	var msg []byte
	for i := 0; len(msg) < 1<<20; i++ {
		line := strings.Repeat("abcdefghij", 8)[:74]
		if i%10 == 0 {
			line = "." + line[1:]
		}
		msg = append(msg, line+"\r\n"...)
	}
	for _, enc := range []string{"whole-buffer", "line-based"} {
		for _, stuff := range []bool{false, true} {
			name := enc + "/bdat"
			if stuff {
				name = enc + "/data"
			}
			b.Run(name, func(b *testing.B) { benchBody(b, msg, stuff, enc == "line-based") })
		}
	}
}

func benchBody(b *testing.B, msg []byte, stuff, old bool) {
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		var body interface {
			Write([]byte) (int, error)
			Close() error
		} = &Body{W: io.Discard, Stuff: stuff, Check8: true}
		if old {
			body = &lineBody{Body{W: io.Discard, Stuff: stuff, Check8: true}}
		}
		for p := msg; len(p) > 0; {
			n := min(len(p), 32<<10)
			if _, err := body.Write(p[:n]); err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
		body.Close()
	}
}

// BenchmarkClean checks 1 MiB of 76-byte CRLF lines with the 8-bit
// check, as Body.Write does for clean data: each variant of scan (vector
// code where there is some) and scanGeneric.
func BenchmarkClean(b *testing.B) {
	msg := bytes.Repeat([]byte(strings.Repeat("abcdefghij", 7)+"abcd\r\n"), 1<<20/76)
	for _, f := range append(scanVariants(), scanVariant{"generic", scanGeneric, scanDataGeneric}) {
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if ok, high := f.scan(msg, true); !ok || high {
					b.Fatal("not clean")
				}
			}
		})
	}
}

// BenchmarkCleanLineBased is what the line-based encoder did with the same
// buffer: cleanPrefix, then a byte loop for the 8-bit check.
func BenchmarkCleanLineBased(b *testing.B) {
	msg := bytes.Repeat([]byte(strings.Repeat("abcdefghij", 7)+"abcd\r\n"), 32<<10/76)
	b.SetBytes(int64(len(msg)))
	lb := &lineBody{}
	for b.Loop() {
		if lb.cleanPrefix(msg) != len(msg) {
			b.Fatal("not clean")
		}
		for _, c := range msg {
			if c >= 0x80 {
				b.Fatal("high")
			}
		}
	}
}
