package keyref

import (
	"errors"
	"fmt"
)

// Sentinel errors; the errors Open returns wrap one of them in an *Error.
var (
	// ErrSyntax is a malformed reference.
	ErrSyntax = errors.New("malformed key reference")
	// ErrNoPKCS11 is returned by builds without cgo.
	ErrNoPKCS11 = errors.New("PKCS#11 is not in this build (built without cgo)")
	// ErrNoCertStore is returned outside Windows.
	ErrNoCertStore = errors.New("the Windows certificate store exists only on Windows")
	// ErrModule is a PKCS#11 module that is not set, missing or cannot be loaded.
	ErrModule = errors.New("PKCS#11 module not usable")
	// ErrToken is a token that is not present (removed, or no such label).
	ErrToken = errors.New("PKCS#11 token not found")
	// ErrNotFound is a key or certificate the token or store does not hold.
	ErrNotFound = errors.New("object not found")
	// ErrKeyProvider is a certificate found in the Windows store whose
	// private key is held by a legacy CryptoAPI CSP, not a CNG key storage
	// provider: it cannot be used through CNG.
	ErrKeyProvider = errors.New("private key not in a CNG key storage provider")
	// ErrPIN is a PIN the token rejected (or one rejected before).
	ErrPIN = errors.New("PIN incorrect")
	// ErrPINLocked is a token whose PIN is locked after too many failures.
	ErrPINLocked = errors.New("PIN locked")
	// ErrNoPIN is a token that needs a PIN where none was given.
	ErrNoPIN = errors.New("PIN required")
)

// An Error is a failure to open or use a referenced key. Ref is the
// reference as given (it never holds a PIN: references with pin-value are
// refused). Hint tells an operator what to do.
type Error struct {
	Ref  string
	Hint string
	Err  error
}

func (e *Error) Error() string {
	s := "keyref: " + e.Ref + ": " + e.Err.Error()
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func newErr(ref string, sentinel error, hint string, cause error) *Error {
	err := sentinel
	if cause != nil {
		err = fmt.Errorf("%w: %w", sentinel, cause)
	}
	return &Error{Ref: ref, Hint: hint, Err: err}
}
