package smime

import (
	"crypto/x509"
	"errors"
	"fmt"
)

// Sentinel errors. Certificate problems arrive wrapped in a *CertError and
// content problems in a *ContentError; match them with errors.Is and
// errors.As.
var (
	// ErrExpired: the certificate's NotAfter is in the past.
	ErrExpired = errors.New("smime: certificate has expired")
	// ErrNotYetValid: the certificate's NotBefore is in the future.
	ErrNotYetValid = errors.New("smime: certificate is not yet valid")
	// ErrWrongUsage: key usage or extended key usage does not allow the
	// S/MIME operation (signing or encryption).
	ErrWrongUsage = errors.New("smime: certificate usage does not allow this operation")
	// ErrAddressMismatch: the From address is not among the certificate's
	// e-mail addresses.
	ErrAddressMismatch = errors.New("smime: address is not in the certificate")
	// ErrKeyMismatch: the private key does not belong to the certificate.
	ErrKeyMismatch = errors.New("smime: private key does not match the certificate")
	// ErrUntrusted: the certificate does not chain to a trusted root.
	ErrUntrusted = errors.New("smime: certificate is not trusted")
	// ErrUnsupportedKey: the key type cannot be used for the operation
	// (for example Ed25519, or an EC curve other than P-256/384/521).
	ErrUnsupportedKey = errors.New("smime: unsupported key type")
	// ErrWeakHash: SHA-1 was requested without the legacy switch.
	ErrWeakHash = errors.New("smime: SHA-1 signatures need the explicit legacy switch")
	// ErrPassword: the PKCS#12 password is wrong.
	ErrPassword = errors.New("smime: wrong PKCS#12 password")

	// ErrNot7Bit: the inner entity of a clear-signed message has 8-bit or
	// binary bytes, or a line longer than 998 octets, which a relay could
	// re-encode and so break the signature. Use a 7-bit transfer encoding
	// (quoted-printable or base64) for such bodies.
	ErrNot7Bit = errors.New("smime: signed content is not 7-bit safe")
	// ErrDigestMismatch: the content does not match the signed digest: it was
	// altered after signing.
	ErrDigestMismatch = errors.New("smime: content digest does not match the signature (content altered)")
	// ErrBadSignature: the signature does not verify with the signer's key.
	ErrBadSignature = errors.New("smime: signature verification failed")
	// ErrNoSigner: the signer's certificate is not in the message nor among
	// the certificates supplied.
	ErrNoSigner = errors.New("smime: signer certificate not found")
	// ErrNoRecipient: the message is not encrypted for the given
	// certificate/key.
	ErrNoRecipient = errors.New("smime: message is not encrypted for this recipient")
	// ErrDecrypt: the content-encryption key or content did not decrypt or
	// failed authentication (wrong key or altered ciphertext).
	ErrDecrypt = errors.New("smime: decryption failed")
	// ErrUnsupported: an algorithm or structure this package does not
	// handle (including DES, 3DES and RC2, which it never uses).
	ErrUnsupported = errors.New("smime: unsupported algorithm or structure")
	// ErrMalformed: the message is not a well-formed S/MIME entity.
	ErrMalformed = errors.New("smime: malformed message")
)

// CertError describes why a certificate cannot be used. Err is one of the
// sentinel errors above (ErrExpired, ErrWrongUsage, ...).
type CertError struct {
	Role   string // "signer" or "recipient"
	Cert   *x509.Certificate
	Err    error
	Detail string
}

func (e *CertError) Error() string {
	name := "<nil>"
	if e.Cert != nil {
		name = fmt.Sprintf("%q (serial %s)", e.Cert.Subject.String(), e.Cert.SerialNumber.Text(16))
	}
	msg := fmt.Sprintf("%s certificate %s: %s", e.Role, name, trimPrefix(e.Err))
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return "smime: " + msg
}

func (e *CertError) Unwrap() error { return e.Err }

func trimPrefix(err error) string {
	s := err.Error()
	if len(s) > 7 && s[:7] == "smime: " {
		return s[7:]
	}
	return s
}

// ContentError reports inner content that cannot be signed safely. It
// unwraps to ErrNot7Bit.
type ContentError struct {
	Offset int64 // byte offset in the inner entity
	Reason string
}

func (e *ContentError) Error() string {
	return fmt.Sprintf("smime: signed content is not 7-bit safe at byte %d: %s", e.Offset, e.Reason)
}

func (e *ContentError) Unwrap() error { return ErrNot7Bit }
