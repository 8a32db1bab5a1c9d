package keyref

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Options says how to reach a referenced key. The zero value works for a
// certstore: reference and for a pkcs11: URI that carries module-path.
type Options struct {
	// Module is the PKCS#11 module (shared library) path. It overrides
	// the URI's module-path.
	Module string
	// PIN is the token's user PIN, already resolved by the caller (from
	// the URI's pin-source or a profile setting). It is never logged and
	// never part of an error.
	PIN string
}

// Location says where a key lives, for probes, self-tests and audit
// records. Kind is "file", "pkcs11" or "certstore".
type Location struct {
	Kind string `json:"kind"`
	// Path is the key file (Kind file).
	Path string `json:"path,omitempty"`
	// Module, Token (label), Serial, Slot, Object (label) and ID (hex)
	// describe a PKCS#11 key.
	Module string `json:"module,omitempty"`
	Token  string `json:"token,omitempty"`
	Serial string `json:"serial,omitempty"`
	Slot   *uint  `json:"slot,omitempty"`
	Object string `json:"object,omitempty"`
	ID     string `json:"id,omitempty"`
	// Store is "CurrentUser/My" or "LocalMachine/My" (Kind certstore),
	// Subject the certificate's subject.
	Store   string `json:"store,omitempty"`
	Subject string `json:"subject,omitempty"`
}

// String is a one-line description such as
// `pkcs11 token "mailwarden" slot 1 object "smime-rsa"`.
func (l Location) String() string {
	switch l.Kind {
	case "file":
		return "file " + l.Path
	case "pkcs11":
		var b strings.Builder
		b.WriteString("pkcs11")
		if l.Token != "" {
			fmt.Fprintf(&b, " token %q", l.Token)
		}
		if l.Serial != "" {
			fmt.Fprintf(&b, " serial %s", l.Serial)
		}
		if l.Slot != nil {
			fmt.Fprintf(&b, " slot %d", *l.Slot)
		}
		if l.Object != "" {
			fmt.Fprintf(&b, " object %q", l.Object)
		}
		if l.ID != "" {
			fmt.Fprintf(&b, " id %s", l.ID)
		}
		if l.Module != "" {
			fmt.Fprintf(&b, " module %s", l.Module)
		}
		return b.String()
	case "certstore":
		s := "windows store " + l.Store
		if l.Subject != "" {
			s += " " + fmt.Sprintf("%q", l.Subject)
		}
		return s
	}
	return l.Kind
}

// A Key is an opened reference: a signer whose private half stays where
// it is, the certificate found with it (nil when there is none), and where
// it lives. Signer is also a crypto.Decrypter for RSA keys.
type Key struct {
	Signer   crypto.Signer
	Cert     *x509.Certificate
	Location Location
}

// A Pool opens references and keeps PKCS#11 contexts (one login per
// module and token, pooled sessions) for reuse. It is safe for concurrent
// use. The zero Pool is not usable; use NewPool.
type Pool struct {
	mu     sync.Mutex
	ctxs   map[string]*tokenCtx
	badPIN map[string]bool // module+token+HMAC(PIN) the token rejected
	salt   [32]byte
}

// NewPool returns an empty Pool.
func NewPool() *Pool {
	p := &Pool{ctxs: map[string]*tokenCtx{}, badPIN: map[string]bool{}}
	if _, err := io.ReadFull(rand.Reader, p.salt[:]); err != nil {
		panic(err)
	}
	return p
}

// pinTag is a keyed hash of pin, so that the Pool can recognise a PIN it
// saw rejected without keeping the PIN.
func (p *Pool) pinTag(slot, pin string) string {
	m := hmac.New(sha256.New, p.salt[:])
	m.Write([]byte(slot))
	m.Write([]byte{0})
	m.Write([]byte(pin))
	return slot + "\x00" + hex.EncodeToString(m.Sum(nil))
}

// Open opens the key ref names, with the certificate the token or store
// holds for it (same id, else same label). Errors are *Error wrapping one
// of the sentinels of this package.
func (p *Pool) Open(ref string, opt Options) (*Key, error) {
	switch {
	case hasScheme(ref, "pkcs11:"):
		u, err := ParsePKCS11URI(ref)
		if err != nil {
			return nil, err
		}
		return p.openPKCS11(ref, u, opt, true)
	case hasScheme(ref, "certstore:"):
		r, err := ParseCertStoreRef(ref)
		if err != nil {
			return nil, err
		}
		return openCertStore(ref, r)
	}
	return nil, &Error{Ref: ref, Err: fmt.Errorf("%w: not a pkcs11: or certstore: reference", ErrSyntax)}
}

// Certificate reads only the certificate ref names (a pkcs11: URI of a
// certificate object, or a certstore: reference).
func (p *Pool) Certificate(ref string, opt Options) (*x509.Certificate, Location, error) {
	var k *Key
	var err error
	if hasScheme(ref, "pkcs11:") {
		u, perr := ParsePKCS11URI(ref)
		if perr != nil {
			return nil, Location{}, perr
		}
		k, err = p.openPKCS11(ref, u, opt, false)
	} else {
		k, err = p.Open(ref, opt)
	}
	if err != nil {
		return nil, Location{}, err
	}
	if k.Cert == nil {
		return nil, k.Location, newErr(ref, ErrNotFound, "the token holds no certificate with this id or label: import it (pkcs11-tool --write-object CERT --type cert) or give a certificate file", nil)
	}
	return k.Cert, k.Location, nil
}

// Close logs out of and closes every PKCS#11 context of the Pool.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for k, c := range p.ctxs {
		errs = append(errs, c.close())
		delete(p.ctxs, k)
	}
	return errors.Join(errs...)
}

// TestSignature signs a fixed digest with s and checks the signature with
// s's public key: the proof that a token or store key can be used and
// belongs to the public key the caller sees. For RSA it uses PKCS#1 v1.5,
// or PSS when pss is set.
func TestSignature(s crypto.Signer, pss bool) error {
	sum := sha256.Sum256([]byte("mailwarden key self-test"))
	var opts crypto.SignerOpts = crypto.SHA256
	if pss {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	}
	sig, err := s.Sign(rand.Reader, sum[:], opts)
	if err != nil {
		return fmt.Errorf("keyref: test signature: %w", err)
	}
	switch pub := s.Public().(type) {
	case *rsa.PublicKey:
		if pss {
			err = rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, sum[:], sig) {
			err = errors.New("signature does not verify")
		}
	case ed25519.PublicKey:
		return fmt.Errorf("keyref: test signature: Ed25519 is not supported")
	default:
		return fmt.Errorf("keyref: test signature: unsupported key type %T", pub)
	}
	if err != nil {
		return fmt.Errorf("keyref: test signature does not verify with the public key: %w", err)
	}
	return nil
}
