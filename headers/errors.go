package headers

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. They are wrapped by *FieldError and *AddressError; test
// for them with errors.Is.
var (
	// ErrInjection reports a CR or LF inside a value: an attempt (or an
	// accident) that would start a new header field or SMTP command.
	ErrInjection = errors.New("headers: CR or LF in a header value (header injection)")
	// ErrControl reports a control character other than HTAB.
	ErrControl = errors.New("headers: control character in a header value")
	// ErrInvalidUTF8 reports text that is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("headers: text is not valid UTF-8")
	// ErrFieldName reports a field name that breaks RFC 5322 section 2.2
	// (one or more printable US-ASCII characters other than colon).
	ErrFieldName = errors.New("headers: invalid field name")
	// ErrLineTooLong reports a value that cannot be folded into lines of at
	// most 998 octets (RFC 5322 section 2.1.1).
	ErrLineTooLong = errors.New("headers: line longer than 998 octets")
	// ErrAddress reports a malformed address.
	ErrAddress = errors.New("headers: malformed address")
	// ErrUnknownValue reports a Priority, Importance or Sensitivity name
	// that is not one of the defined values.
	ErrUnknownValue = errors.New("headers: unknown value")
)

// A FieldError reports a header field that cannot be written. Name is the
// field name as given (quoted when printed, so a hostile name cannot forge a
// log line).
type FieldError struct {
	Name string
	Err  error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("headers: field %s: %s", quote(e.Name), strip(e.Err))
}

func (e *FieldError) Unwrap() error { return e.Err }

// An AddressError reports an address-list entry that cannot be used. Entry
// is the entry as typed, without the surrounding separators.
type AddressError struct {
	Entry string
	Err   error
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("headers: bad address %s: %s", quote(e.Entry), strip(e.Err))
}

func (e *AddressError) Unwrap() error { return e.Err }

// strip removes the package prefix from a wrapped error so that messages
// read "headers: bad address "x": missing @" rather than repeating it.
func strip(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.TrimPrefix(err.Error(), "headers: ")
}

// detail wraps a sentinel with extra words while keeping errors.Is working.
type detail struct {
	sentinel error
	msg      string
}

func (d *detail) Error() string { return d.sentinel.Error() + ": " + d.msg }
func (d *detail) Unwrap() error { return d.sentinel }

func errorf(sentinel error, format string, args ...any) error {
	return &detail{sentinel: sentinel, msg: fmt.Sprintf(format, args...)}
}
