// Package fold folds header fields into lines: the one folding rule that
// package headers (FormatField) and package envelope (which appends a
// message's fields to one buffer) share.
package fold

// MaxLineLength is the hard limit on a header line, CRLF excluded
// (RFC 5322 section 2.1.1).
const MaxLineLength = 998

// foldAt is the length Append tries to keep lines within, CRLF excluded:
// the 76 RFC 2047 section 2 sets for lines with encoded words, which is
// also within the 78 of RFC 5322 section 2.1.1.
const foldAt = 76

// Append appends the field "name: value" to dst, folded into lines ending
// in CRLF. The caller has checked name and value (no line breaks, no
// control characters).
//
// Folding inserts CRLF only before a single space that has a non-space on
// either side, so unfolding gives back value unchanged. Lines are kept
// within 76 octets where such spaces allow. When a segment between fold
// points (the first one counting the space after the colon) cannot fit
// within MaxLineLength, Append returns dst unchanged, that segment's
// length and false.
func Append(dst []byte, name, value string) ([]byte, int, bool) {
	start := len(dst)
	dst = append(dst, name...)
	dst = append(dst, ':')
	if value == "" {
		return append(dst, '\r', '\n'), 0, true
	}
	// The text after the colon is v = " " + value; at(k) is v[k].
	at := func(k int) byte {
		if k == 0 {
			return ' '
		}
		return value[k-1]
	}
	total := len(value) + 1
	line := len(name) + 1 // length of the current output line so far
	for pos := 0; pos < total; {
		end := total // the next fold point after pos, or the end
		for i := pos + 1; i < total-1; i++ {
			if at(i) == ' ' && !isWSP(at(i-1)) && !isWSP(at(i+1)) {
				end = i
				break
			}
		}
		n := end - pos
		if line > 0 && line+n > foldAt && line != len(name)+1 {
			dst = append(dst, '\r', '\n')
			line = 0
		}
		if line+n > MaxLineLength {
			return dst[:start], n, false
		}
		if pos == 0 {
			dst = append(dst, ' ')
			dst = append(dst, value[:end-1]...)
		} else {
			dst = append(dst, value[pos-1:end-1]...)
		}
		line += n
		pos = end
	}
	return append(dst, '\r', '\n'), 0, true
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }
