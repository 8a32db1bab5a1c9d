package graph

import (
	"encoding/base64"
	"io"
)

// encReader reads src and returns its base64 encoding (standard alphabet,
// padded, no line breaks) without a goroutine or a copy of the message:
// it holds one block of input and its encoding.
type encReader struct {
	src  io.Reader
	in   [3 * 1024]byte
	n    int // bytes of in waiting to be encoded
	out  [4 * 1024]byte
	r, w int // unread part of out
	err  error
}

func newEncReader(src io.Reader) *encReader { return &encReader{src: src} }

func (e *encReader) Read(p []byte) (int, error) {
	for e.r == e.w {
		if e.err != nil {
			return 0, e.err
		}
		e.fill()
	}
	n := copy(p, e.out[e.r:e.w])
	e.r += n
	return n, nil
}

// fill reads until it has whole 3-byte groups (or the end of src) and
// encodes them into out.
func (e *encReader) fill() {
	for e.n < len(e.in) && e.err == nil {
		var k int
		k, e.err = e.src.Read(e.in[e.n:])
		e.n += k
		if e.n%3 == 0 && e.n > 0 && e.err == nil {
			break
		}
	}
	whole := e.n - e.n%3
	if e.err != nil {
		whole = e.n // the end: encode the tail with padding
	}
	base64.StdEncoding.Encode(e.out[:], e.in[:whole])
	e.r, e.w = 0, base64.StdEncoding.EncodedLen(whole)
	e.n = copy(e.in[:], e.in[whole:e.n])
}
