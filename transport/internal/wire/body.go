package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// Body encodes a message body for the wire: every bare CR, bare LF and
// CRLF becomes CRLF, and, when Stuff is set (DATA), a dot at the start of
// a line is doubled. Line endings are normalised before dot-stuffing, so
// "a\r.\r\nb" becomes "a\r\n..\r\nb" and no input can produce
// CRLF "." CRLF. Close writes a final CRLF if the body did not end with
// one, and, with Stuff, the terminating ".\r\n".
type Body struct {
	W        io.Writer
	Stuff    bool
	N        int64 // bytes written to W, the terminator excluded
	Check8   bool  // refuse bytes >= 0x80 with ErrEightBit (costs a pass over the data)
	EightBit bool  // with Check8: a byte >= 0x80 was seen

	// WriteFailed is set when a write to W failed (as opposed to
	// ErrEightBit), so that callers can tell their reader's errors from
	// the connection's.
	WriteFailed bool

	lineStart bool // the next byte starts a line
	pendingCR bool // the last byte was a CR whose line ending is not yet written
	started   bool
}

var crlf = []byte("\r\n")

// ErrEightBit is returned by Write when Check8 is set and the data has
// a byte >= 0x80.
var ErrEightBit = errors.New("8-bit data")

func (b *Body) out(p []byte) error {
	n, err := b.W.Write(p)
	b.N += int64(n)
	if err != nil {
		b.WriteFailed = true
	}
	return err
}

// Write implements io.Writer. Data that needs no change (every CR and LF
// in a CRLF pair) is checked in one pass over the whole buffer (scan,
// scanData: vector code on amd64), which also finds, with Stuff, the
// first line starting with a dot to be doubled and, with Check8, a byte
// >= 0x80; it is written through from the caller's slice, cut only at
// those dots. Anything else from there on goes through the line-by-line
// encoder.
func (b *Body) Write(p []byte) (int, error) {
	if !b.started {
		b.started, b.lineStart = true, true
	}
	total := len(p)
	for len(p) > 0 && !b.pendingCR {
		seg := p
		var ok, high bool
		if b.Stuff {
			if b.lineStart && p[0] == '.' {
				if err := b.out(dotDot); err != nil {
					return 0, err
				}
				b.lineStart = false
				p = p[1:]
				continue
			}
			var n int
			n, ok, high = scanData(p, b.Check8)
			seg = p[:n]
		} else {
			ok, high = scan(p, b.Check8)
		}
		if !ok {
			break
		}
		if high {
			b.EightBit = true
			return 0, ErrEightBit
		}
		if err := b.out(seg); err != nil {
			return 0, err
		}
		b.lineStart = seg[len(seg)-1] == '\n'
		p = p[len(seg):]
	}
	if len(p) == 0 {
		return total, nil
	}
	if _, err := b.writeLines(p); err != nil {
		return 0, err
	}
	return total, nil
}

// Through is Write for data already in place at the end of W's buffer
// (read there by the caller), without a copy: when p can go to the wire
// unchanged (no Stuff, no CR pending, every CR and LF in a CRLF pair) it
// is accounted for as written (N and the line state) and Through returns
// true; the caller then keeps p where it is. Otherwise nothing changes
// and the caller passes a copy of p to Write. With Check8 a byte >= 0x80
// in clean data gives ErrEightBit, as Write does.
func (b *Body) Through(p []byte) (bool, error) {
	if b.Stuff || b.pendingCR || len(p) == 0 {
		return false, nil
	}
	ok, high := scan(p, b.Check8)
	if !ok {
		return false, nil
	}
	if high {
		b.EightBit = true
		return false, ErrEightBit
	}
	b.started = true
	b.lineStart = p[len(p)-1] == '\n'
	b.N += int64(len(p))
	return true, nil
}

// scanGeneric is scan without vector code: whether p is clean, that is
// every CR and every LF in p is in a CRLF pair (so p neither starts nor
// ends inside one), and, when it is and check8 is set, whether p has a
// byte >= 0x80.
func scanGeneric(p []byte, check8 bool) (ok, high bool) {
	if !cleanGeneric(p) {
		return false, false
	}
	return true, check8 && hasHigh(p)
}

// scanDataGeneric is scanGeneric for DATA: p is cut before its first
// line starting with a dot (its first "\n." at n-1), and the check and
// the 8-bit check are those of p[:n]. With ok false, n means nothing.
func scanDataGeneric(p []byte, check8 bool) (n int, ok, high bool) {
	n = len(p)
	if i := bytes.Index(p, lfDot); i >= 0 {
		n = i + 1
	}
	ok, high = scanGeneric(p[:n], check8)
	return n, ok, high
}

// cleanGeneric: each LF has a CR before it (found one IndexByte call per
// line, which also counts the LFs), and there are as many CRs as LFs (a
// vector count), so no CR is left over.
func cleanGeneric(p []byte) bool {
	lf := 0
	for off := 0; ; lf++ {
		i := bytes.IndexByte(p[off:], '\n')
		if i < 0 {
			break
		}
		if off+i == 0 || p[off+i-1] != '\r' {
			return false
		}
		off += i + 1
	}
	return bytes.Count(p, cr1) == lf
}

var (
	cr1    = []byte{'\r'}
	lfDot  = []byte("\n.")
	dotDot = []byte("..")
)

// writeLines encodes p line by line.
func (b *Body) writeLines(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if b.pendingCR {
			b.pendingCR = false
			if err := b.out(crlf); err != nil {
				return 0, err
			}
			b.lineStart = true
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		if b.lineStart && b.Stuff && p[0] == '.' {
			if err := b.out([]byte("..")); err != nil {
				return 0, err
			}
			b.lineStart = false
			p = p[1:]
			continue
		}
		// Fast path: the longest prefix of whole CRLF lines that needs no
		// change (no bare CR or LF, no line starting with a dot when
		// stuffing) goes out in one write.
		if end := b.cleanPrefix(p); end > 0 {
			if b.Check8 && hasHigh(p[:end]) {
				b.EightBit = true
				return 0, ErrEightBit
			}
			if err := b.out(p[:end]); err != nil {
				return 0, err
			}
			b.lineStart = true
			p = p[end:]
			continue
		}
		i := indexCRLF(p)
		run := p
		if i >= 0 {
			run = p[:i]
		}
		if len(run) > 0 {
			if b.Check8 && hasHigh(run) {
				b.EightBit = true
				return 0, ErrEightBit
			}
			if err := b.out(run); err != nil {
				return 0, err
			}
			b.lineStart = false
		}
		if i < 0 {
			break
		}
		if p[i] == '\r' {
			b.pendingCR = true
		} else {
			if err := b.out(crlf); err != nil {
				return 0, err
			}
			b.lineStart = true
		}
		p = p[i+1:]
	}
	return total, nil
}

// cleanPrefix returns the length of the longest prefix of p made of
// whole lines ending in CRLF, with no other CR or LF, and, when stuffing,
// no line after the first starting with a dot. The caller has handled a
// dot at p[0].
func (b *Body) cleanPrefix(p []byte) int {
	end := 0
	for {
		i := bytes.IndexByte(p[end:], '\n')
		if i < 1 || p[end+i-1] != '\r' {
			return end
		}
		if k := bytes.IndexByte(p[end:end+i-1], '\r'); k >= 0 {
			return end
		}
		end += i + 1
		if b.Stuff && end < len(p) && p[end] == '.' {
			return end
		}
	}
}

// indexCRLF returns the index of the first CR or LF in p, or -1.
func indexCRLF(p []byte) int {
	i := bytes.IndexByte(p, '\n')
	lim := p
	if i >= 0 {
		lim = p[:i]
	}
	if j := bytes.IndexByte(lim, '\r'); j >= 0 {
		return j
	}
	return i
}

// hasHigh reports a byte >= 0x80 in p, eight bytes at a time.
func hasHigh(p []byte) bool {
	for len(p) >= 8 {
		if binary.LittleEndian.Uint64(p)&0x8080808080808080 != 0 {
			return true
		}
		p = p[8:]
	}
	for _, c := range p {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// Close finishes the body: the pending line ending, a final CRLF when the
// body did not end with one, and the DATA terminator with Stuff.
func (b *Body) Close() error {
	if b.pendingCR {
		b.pendingCR = false
		if err := b.out(crlf); err != nil {
			return err
		}
		b.lineStart = true
	}
	if b.started && !b.lineStart {
		if err := b.out(crlf); err != nil {
			return err
		}
	}
	if b.Stuff {
		_, err := b.W.Write([]byte(".\r\n"))
		return err
	}
	return nil
}
