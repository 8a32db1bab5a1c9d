package headers

import (
	"strings"
	"unicode/utf8"
	"unsafe"

	"mailwarden/internal/fold"
)

// MaxLineLength is the hard limit on a header line, CRLF excluded
// (RFC 5322 section 2.1.1).
const MaxLineLength = fold.MaxLineLength

// A Field is one header field: a name and its value as it goes on the wire
// (already encoded, not yet folded).
type Field struct {
	Name  string
	Value string
}

// CheckFieldName reports whether name is a valid RFC 5322 field name: one or
// more printable US-ASCII characters (33 to 126) other than colon. The error
// wraps ErrFieldName.
func CheckFieldName(name string) error {
	if name == "" {
		return &FieldError{Name: name, Err: errorf(ErrFieldName, "empty")}
	}
	if strings.ContainsAny(name, "\r\n") {
		return &FieldError{Name: name, Err: ErrInjection}
	}
	if len(name)+2 > MaxLineLength {
		return &FieldError{Name: name, Err: errorf(ErrFieldName, "longer than %d octets", MaxLineLength-2)}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '\r' || c == '\n':
			return &FieldError{Name: name, Err: ErrInjection}
		case c < 33 || c > 126 || c == ':':
			return &FieldError{Name: name, Err: errorf(ErrFieldName, "character %q at offset %d", c, i)}
		}
	}
	return nil
}

// CheckText reports whether s may appear in a header value: valid UTF-8, no
// CR or LF (ErrInjection) and no other control character except HTAB
// (ErrControl). The returned error is one of those sentinels, wrapped with
// the offset.
func CheckText(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\r' || c == '\n':
				return errorf(ErrInjection, "at offset %d", i)
			case c == '\t':
			case c < 0x20 || c == 0x7f:
				return errorf(ErrControl, "%q at offset %d", c, i)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return errorf(ErrInvalidUTF8, "at offset %d", i)
		}
		if r >= 0x80 && r < 0xa0 { // C1 controls, including NEL
			return errorf(ErrControl, "U+%04X at offset %d", r, i)
		}
		if r == 0x2028 || r == 0x2029 { // Unicode line and paragraph separators
			return errorf(ErrInjection, "U+%04X at offset %d", r, i)
		}
		i += n
	}
	return nil
}

// FormatField returns the field "Name: value" folded into lines ending in
// CRLF, ready to be written. value must already be in wire form (see
// EncodeText, EncodePhrase, FormatAddressList).
//
// Folding inserts CRLF only before a single space that has a non-space on
// either side, so unfolding (RFC 5322 section 2.2.3), including the
// whitespace-trimming unfold of common readers, gives back value unchanged.
// Lines are kept within 76 octets where such spaces allow, and never exceed
// 998 octets: a value that cannot be folded that way is refused with an
// error wrapping ErrLineTooLong. A bad name or value is refused with a
// *FieldError.
func FormatField(name, value string) (string, error) {
	if err := CheckFieldName(name); err != nil {
		return "", err
	}
	if err := CheckText(value); err != nil {
		return "", &FieldError{Name: name, Err: err}
	}
	b, long, ok := fold.Append(make([]byte, 0, len(name)+len(value)+8), name, value)
	if !ok {
		return "", &FieldError{Name: name, Err: errorf(ErrLineTooLong, "a word of %d octets cannot be folded", long)}
	}
	// b is not kept anywhere else: the string may own its bytes (as
	// strings.Builder does), one allocation instead of two.
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}
