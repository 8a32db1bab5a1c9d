package headers

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// maxEncodedWord is the RFC 2047 section 2 limit on one encoded word.
const maxEncodedWord = 75

// wordLen is the length EncodeText and EncodePhrase keep encoded words
// within: short enough that a field name of up to 13 characters, its colon
// and space and the first word still fit the 76-character line RFC 2047
// section 2 asks for.
const wordLen = 62

// maxPlainWord is the longest run of non-space characters EncodeText writes
// as is; longer runs are encoded so that the field can be folded within 78
// octets.
const maxPlainWord = 76

// EncodeText returns s in the wire form of an unstructured field body
// (RFC 5322 section 3.2.5) such as Subject or Organization.
//
// s is written as is when that is safe: printable US-ASCII, single spaces
// between words, no leading or trailing space, no word longer than 76
// characters and nothing that looks like an encoded word ("=?"). Otherwise
// the whole of s becomes a sequence of RFC 2047 encoded words in UTF-8 (Q unless
// B is much shorter), each at most 62 characters and split only on
// rune boundaries, so that any RFC 2047 decoder gives back exactly s.
//
// EncodeText does not validate s; call CheckText first. (A CR or LF would be
// encoded, not written, so EncodeText itself never produces a line break.)
func EncodeText(s string) string {
	if plainText(s) {
		return s
	}
	return encodeWords(s)
}

// EncodePhrase returns name in the wire form of a display name
// (RFC 5322 section 3.2.5 phrase): as is when it is a run of atoms separated
// by single spaces, as a quoted-string when it is other printable US-ASCII,
// and as RFC 2047 encoded words (restricted to the characters RFC 2047
// section 5 allows in a phrase) otherwise.
func EncodePhrase(name string) string {
	if name == "" {
		return ""
	}
	if strings.Contains(name, "=?") {
		return encodeWords(name)
	}
	atoms, printable := true, true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c > 0x7e {
			printable = false
			break
		}
		if c == ' ' {
			if i == 0 || i == len(name)-1 || name[i-1] == ' ' {
				atoms = false
			}
			continue
		}
		if !isAtext(c) {
			atoms = false
		}
	}
	switch {
	case !printable:
		return encodeWords(name)
	case atoms && foldable(name):
		return name
	}
	if len(name)+2 > maxPlainWord*4 {
		// A long quoted-string may lack fold points; encoded words always
		// have them.
		return encodeWords(name)
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(name); i++ {
		if name[i] == '"' || name[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(name[i])
	}
	b.WriteByte('"')
	q := b.String()
	if !foldable(q) {
		return encodeWords(name)
	}
	return q
}

// foldable reports whether every run of non-space characters in s is short
// enough to keep lines within 78 octets.
func foldable(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			run = 0
			continue
		}
		run++
		if run > maxPlainWord {
			return false
		}
	}
	return true
}

// isAtext reports whether c is an RFC 5322 atext character (US-ASCII).
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func plainText(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' || strings.Contains(s, "=?") {
		return false
	}
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return false
		}
		if c == ' ' {
			if s[i-1] == ' ' {
				return false
			}
			run = 0
			continue
		}
		run++
		if run > maxPlainWord {
			return false
		}
	}
	return true
}

// qSafe reports whether c may appear literally in a Q-encoded word in any
// context, including a phrase (RFC 2047 section 5 rule 3).
func qSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '!' || c == '*' || c == '+' || c == '-' || c == '/'
}

func qLen(c byte) int {
	if qSafe(c) || c == ' ' {
		return 1
	}
	return 3
}

const (
	qPrefix = "=?utf-8?q?"
	bPrefix = "=?utf-8?b?"
	suffix  = "?="
)

// encodeWords encodes all of s as UTF-8 encoded words separated by single
// spaces (which RFC 2047 decoders drop between adjacent encoded words).
func encodeWords(s string) string {
	q := 0
	for i := 0; i < len(s); i++ {
		q += qLen(s[i])
	}
	b := (len(s) + 2) / 3 * 4
	// Q keeps mostly-Latin text readable in the raw message; take it unless
	// it is more than a third longer than B.
	if q*3 <= b*4 {
		return encodeQ(s)
	}
	return encodeB(s)
}

func encodeQ(s string) string {
	const room = wordLen - len(qPrefix) - len(suffix)
	var out strings.Builder
	const hex = "0123456789ABCDEF"
	for s != "" {
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(qPrefix)
		used := 0
		for s != "" {
			_, n := utf8.DecodeRuneInString(s)
			need := 0
			for i := 0; i < n; i++ {
				need += qLen(s[i])
			}
			if used+need > room && used > 0 {
				break
			}
			for i := 0; i < n; i++ {
				c := s[i]
				switch {
				case c == ' ':
					out.WriteByte('_')
				case qSafe(c):
					out.WriteByte(c)
				default:
					out.WriteByte('=')
					out.WriteByte(hex[c>>4])
					out.WriteByte(hex[c&0x0f])
				}
			}
			used += need
			s = s[n:]
		}
		out.WriteString(suffix)
	}
	return out.String()
}

func encodeB(s string) string {
	const room = (wordLen - len(bPrefix) - len(suffix)) / 4 * 3 // input octets per word
	var out strings.Builder
	for s != "" {
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if n+size > room && n > 0 {
				break
			}
			n += size
		}
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(bPrefix)
		out.WriteString(base64.StdEncoding.EncodeToString([]byte(s[:n])))
		out.WriteString(suffix)
		s = s[n:]
	}
	return out.String()
}

// Truncate returns s cut to at most limit runes, on a rune boundary, with any
// whitespace left at the cut removed. A limit of zero or less means no limit.
// It works on the decoded text, before encoding, so a cut can never fall
// inside an encoded word or a multi-byte character.
func Truncate(s string, limit int) string {
	if limit <= 0 || utf8.RuneCountInString(s) <= limit {
		return s
	}
	i, n := 0, 0
	for i < len(s) && n < limit {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return strings.TrimRight(s[:i], " \t")
}
