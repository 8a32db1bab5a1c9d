package wire

import "bytes"

// lineBody is the line-based encoder Body replaced, kept as the oracle
// of FuzzBodySameAsLineBased.
type lineBody struct {
	Body
}

// Write is the line-by-line Body.Write this package had before it
// validated whole buffers.
func (b *lineBody) Write(p []byte) (int, error) {
	if !b.started {
		b.started, b.lineStart = true, true
	}
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
			if b.Check8 && lineHasHigh(p[:end]) {
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
			if b.Check8 && lineHasHigh(run) {
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
func (b *lineBody) cleanPrefix(p []byte) int {
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

// lineHasHigh is the byte-at-a-time 8-bit check the line-based encoder
// used.
func lineHasHigh(p []byte) bool {
	for _, c := range p {
		if c >= 0x80 {
			return true
		}
	}
	return false
}
