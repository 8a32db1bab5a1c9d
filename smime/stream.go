package smime

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"io"

	"mailwarden/smime/internal/cms"
)

// Wrapper turns an inner MIME entity into a signed or encrypted one. The
// caller writes the complete inner entity (Content-* header lines, blank
// line, body; CRLF line endings, bare LF is converted) into the returned
// WriteCloser; dst receives the outer entity's Content-* header lines, a
// blank line and its body. Close finishes the outer entity; nothing is
// complete before Close returns nil.
type Wrapper interface {
	Wrap(dst io.Writer) (io.WriteCloser, error)
}

// SignAndEncrypt returns a Wrapper that signs with s and then encrypts the
// signed entity with e, in one pass. Either may be nil, in which case the
// other is returned alone; both nil returns nil.
func SignAndEncrypt(s *Signer, e *Encrypter) Wrapper {
	switch {
	case s == nil && e == nil:
		return nil
	case s == nil:
		return e
	case e == nil:
		return s
	}
	return chain{outer: e, inner: s}
}

type chain struct{ outer, inner Wrapper }

func (c chain) Wrap(dst io.Writer) (io.WriteCloser, error) {
	ow, err := c.outer.Wrap(dst)
	if err != nil {
		return nil, err
	}
	iw, err := c.inner.Wrap(ow)
	if err != nil {
		return nil, err
	}
	return &chainWriter{inner: iw, outer: ow}, nil
}

type chainWriter struct{ inner, outer io.WriteCloser }

func (c *chainWriter) Write(p []byte) (int, error) { return c.inner.Write(p) }

func (c *chainWriter) Close() error {
	if err := c.inner.Close(); err != nil {
		return err
	}
	return c.outer.Close()
}

// b64Writer base64-encodes into 76-character CRLF-terminated lines.
type b64Writer struct {
	w    io.Writer
	part [57]byte
	n    int
	out  []byte
	err  error
}

func newB64Writer(w io.Writer) *b64Writer {
	return &b64Writer{w: w, out: make([]byte, 0, 64<<10)}
}

func (b *b64Writer) line(in []byte) error {
	if len(b.out)+78 > cap(b.out) {
		if err := b.flush(); err != nil {
			return err
		}
	}
	n := len(b.out)
	enc := base64.StdEncoding.EncodedLen(len(in))
	b.out = b.out[:n+enc]
	base64.StdEncoding.Encode(b.out[n:], in)
	b.out = append(b.out, '\r', '\n')
	return nil
}

func (b *b64Writer) flush() error {
	if b.err == nil && len(b.out) > 0 {
		_, b.err = b.w.Write(b.out)
	}
	b.out = b.out[:0]
	return b.err
}

func (b *b64Writer) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	total := len(p)
	if b.n > 0 {
		k := copy(b.part[b.n:], p)
		b.n += k
		p = p[k:]
		if b.n < 57 {
			return total, nil
		}
		b.n = 0
		if err := b.line(b.part[:]); err != nil {
			return 0, err
		}
	}
	for len(p) >= 57 {
		if err := b.line(p[:57]); err != nil {
			return 0, err
		}
		p = p[57:]
	}
	b.n = copy(b.part[:], p)
	return total, nil
}

// Close writes the last partial line and flushes; it does not close w.
func (b *b64Writer) Close() error {
	if b.n > 0 {
		n := b.n
		b.n = 0
		if err := b.line(b.part[:n]); err != nil {
			return err
		}
	}
	return b.flush()
}

// canonWriter converts line endings to CRLF and, when check7bit is set,
// refuses bytes outside 7-bit text and lines over 998 octets.
type canonWriter struct {
	w         io.Writer
	check7bit bool
	cr        bool // last byte was CR
	lineLen   int
	off       int64
	out       []byte
	err       error
}

func newCanonWriter(w io.Writer, check7bit bool) *canonWriter {
	return &canonWriter{w: w, check7bit: check7bit, out: make([]byte, 0, 32<<10)}
}

func (c *canonWriter) put(b []byte) error {
	if len(c.out)+len(b) > cap(c.out) {
		if _, err := c.w.Write(c.out); err != nil {
			c.err = err
			return err
		}
		c.out = c.out[:0]
		if len(b) > cap(c.out) {
			if _, err := c.w.Write(b); err != nil {
				c.err = err
				return err
			}
			return nil
		}
	}
	c.out = append(c.out, b...)
	return nil
}

var crlf = []byte("\r\n")

// check7bit returns the index of the first byte in seg that is not 7-bit
// text (NUL or >= 0x80), or -1.
func first8bit(seg []byte) int {
	i := 0
	for ; i+8 <= len(seg); i += 8 {
		x := binary.LittleEndian.Uint64(seg[i:])
		if x&0x8080808080808080 != 0 || (x-0x0101010101010101)&^x&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(seg); i++ {
		if seg[i] >= 0x80 || seg[i] == 0 {
			return i
		}
	}
	return -1
}

func (c *canonWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n := 0
	for len(p) > 0 {
		if c.cr {
			c.cr = false
			c.lineLen = 0
			if err := c.put(crlf); err != nil {
				return n, err
			}
			if p[0] == '\n' {
				p = p[1:]
				n++
				c.off++
				continue
			}
		}
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		if k := bytes.IndexByte(seg, '\r'); k >= 0 {
			i, seg = k, seg[:k]
		}
		if c.check7bit {
			if k := first8bit(seg); k >= 0 {
				c.err = &ContentError{Offset: c.off + int64(k), Reason: "8-bit or NUL byte"}
				return n, c.err
			}
			if c.lineLen+len(seg) > 998 {
				c.err = &ContentError{Offset: c.off + int64(998-c.lineLen), Reason: "line longer than 998 octets"}
				return n, c.err
			}
		}
		if err := c.put(seg); err != nil {
			return n, err
		}
		c.lineLen += len(seg)
		c.off += int64(len(seg))
		n += len(seg)
		p = p[len(seg):]
		if i < 0 {
			break
		}
		if p[0] == '\n' {
			c.lineLen = 0
			if err := c.put(crlf); err != nil {
				return n, err
			}
		} else {
			c.cr = true
		}
		p = p[1:]
		n++
		c.off++
	}
	return n, nil
}

// Close writes a pending CR as CRLF and flushes; it does not close w.
func (c *canonWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	if c.cr {
		c.cr = false
		c.out = append(c.out, '\r', '\n')
	}
	if len(c.out) > 0 {
		if _, err := c.w.Write(c.out); err != nil {
			c.err = err
			return err
		}
		c.out = c.out[:0]
	}
	return nil
}

// chunkSize is the size of each primitive OCTET STRING in streamed content.
// It is a multiple of the AES block size.
const chunkSize = 16 << 10

// chunker collects content into chunkSize pieces, transforms each in place
// (encryption) and writes it as a primitive OCTET STRING to w.
type chunker struct {
	w     io.Writer
	buf   []byte
	apply func([]byte) // nil: no transform; called only with whole chunks
	hdr   []byte
	err   error
}

func newChunker(w io.Writer, apply func([]byte)) *chunker {
	return &chunker{w: w, buf: make([]byte, 0, chunkSize+32), apply: apply}
}

func (c *chunker) emit(b []byte) error {
	if c.err != nil {
		return c.err
	}
	if len(b) == 0 {
		return nil
	}
	c.hdr = cms.AppendHeader(c.hdr[:0], cms.TagOctetString, len(b))
	if _, err := c.w.Write(c.hdr); err != nil {
		c.err = err
		return err
	}
	if _, err := c.w.Write(b); err != nil {
		c.err = err
		return err
	}
	return nil
}

func (c *chunker) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	total := len(p)
	for len(p) > 0 {
		k := copy(c.buf[len(c.buf):chunkSize], p)
		c.buf = c.buf[:len(c.buf)+k]
		p = p[k:]
		if len(c.buf) == chunkSize {
			if c.apply != nil {
				c.apply(c.buf)
			}
			if err := c.emit(c.buf); err != nil {
				return 0, err
			}
			c.buf = c.buf[:0]
		}
	}
	return total, nil
}

// finish passes the buffered tail (less than a chunk) to last, which may
// extend it (padding) and transform it, and writes the result.
func (c *chunker) finish(last func([]byte) []byte) error {
	b := c.buf
	if last != nil {
		b = last(b)
	}
	c.buf = c.buf[:0]
	return c.emit(b)
}
