package mailwarden

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"

	"mailwarden/keyref"
	"mailwarden/smime"
)

// PKCS11Config says how to reach keys on a PKCS#11 token (an HSM, a smart
// card, SoftHSM). A key is named by an RFC 7512 pkcs11: URI where a key
// file would go, e.g. smime.sign_key "pkcs11:token=corp;object=alerts".
type PKCS11Config struct {
	// Module is the token's PKCS#11 library. Empty means the
	// MAILWARDEN_PKCS11_MODULE environment variable, else the URI's
	// module-path.
	Module string `json:"module,omitempty"`
	// PIN is the user PIN as a secret reference (env:, file: or a
	// SecretSource scheme), never the PIN itself. Empty means the URI's
	// pin-source. A PIN the token rejects is not presented again by this
	// process (cards lock after a few failures): fix it and restart.
	PIN SecretRef `json:"pin,omitempty"`
}

// ModuleEnv is the environment variable naming the PKCS#11 module when
// the profile's pkcs11.module is empty.
const ModuleEnv = "MAILWARDEN_PKCS11_MODULE"

// keyPool holds the process's PKCS#11 logins. It is process-wide on
// purpose: a PKCS#11 module is initialised once per process and a token's
// login state is shared by every session of the process, so a Pool per
// Sender would not isolate anything, and remembering a rejected PIN must
// outlive a Sender that an outbox or a retry loop builds again.
var keyPool = sync.OnceValue(keyref.NewPool)

// A KeyProbe says where one private key of a profile lives and whether a
// test signature with it succeeded.
type KeyProbe struct {
	// Use is "smime-sign", "tls-client" or "oauth-assertion".
	Use      string
	Location keyref.Location
	// Err is nil when a test signature with the key verified with its
	// public key.
	Err error
}

// keyUse is a key a Sender holds, for probes.
type keyUse struct {
	use    string
	loc    keyref.Location
	signer crypto.Signer
	pss    bool
}

func (k keyUse) probe() KeyProbe {
	return KeyProbe{Use: k.use, Location: k.loc, Err: keyref.TestSignature(k.signer, k.pss)}
}

// IsKeyRef reports whether a key setting names a key on a token or in a
// store (a pkcs11: URI or a certstore: reference) rather than a file.
func IsKeyRef(s string) bool { return keyref.IsRef(s) }

func isKeyRef(s string) bool { return keyref.IsRef(s) }

// openKeyRef opens the key ref names, with the certificate the token or
// store holds for it. Errors are *ConfigError naming field.
func openKeyRef(ctx context.Context, p Profile, getenv func(string) string, src SecretSource, field, ref string) (*keyref.Key, error) {
	opt, err := keyOptions(ctx, p, getenv, src, field, ref)
	if err != nil {
		return nil, err
	}
	k, err := keyPool().Open(ref, opt)
	if err != nil {
		return nil, &ConfigError{Profile: p.Name, Field: field, Err: err}
	}
	return k, nil
}

// openCertRef reads the certificate ref names.
func openCertRef(ctx context.Context, p Profile, getenv func(string) string, src SecretSource, field, ref string) (*x509.Certificate, error) {
	opt, err := keyOptions(ctx, p, getenv, src, field, ref)
	if err != nil {
		return nil, err
	}
	c, _, err := keyPool().Certificate(ref, opt)
	if err != nil {
		return nil, &ConfigError{Profile: p.Name, Field: field, Err: err}
	}
	return c, nil
}

// keyOptions resolves the module and PIN for ref.
func keyOptions(ctx context.Context, p Profile, getenv func(string) string, src SecretSource, refField, ref string) (keyref.Options, error) {
	var opt keyref.Options
	if !strings.HasPrefix(strings.ToLower(ref), "pkcs11:") {
		return opt, nil
	}
	u, err := keyref.ParsePKCS11URI(ref)
	if err != nil {
		return opt, &ConfigError{Profile: p.Name, Field: refField, Err: err}
	}
	opt.Module = p.PKCS11.Module
	if opt.Module == "" && getenv != nil {
		opt.Module = getenv(ModuleEnv)
	}
	pin := p.PKCS11.PIN
	field := "pkcs11.pin"
	if pin == "" && u.PINSource != "" {
		field = "pin-source"
		pin = pinSourceRef(u.PINSource)
	}
	if pin != "" {
		if opt.PIN, err = pin.Resolve(ctx, getenv, src); err != nil {
			return opt, &ConfigError{Profile: p.Name, Field: field, Err: err}
		}
	}
	return opt, nil
}

// pinSourceRef turns an RFC 7512 pin-source (a file name or a file: URI)
// into a SecretRef; env: and SecretSource schemes pass as they are.
func pinSourceRef(s string) SecretRef {
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
		return SecretRef("file:" + s)
	}
	if rest, ok := strings.CutPrefix(s, "file://"); ok { // file:///path
		return SecretRef("file:" + rest)
	}
	return SecretRef(s)
}

// keyRefCert returns the certificate for a key opened from a reference:
// certSetting when given (a file or another reference), else the one on
// the token or in the store.
func keyRefCert(ctx context.Context, p Profile, getenv func(string) string, src SecretSource, field, certSetting string, k *keyref.Key, load func(string) (*x509.Certificate, error)) (*x509.Certificate, error) {
	switch {
	case certSetting == "":
		if k.Cert == nil {
			return nil, &ConfigError{Profile: p.Name, Field: field, Err: errors.New("the key's token or store holds no certificate for it: give the certificate file")}
		}
		return k.Cert, nil
	case isKeyRef(certSetting):
		return openCertRef(ctx, p, getenv, src, field, certSetting)
	}
	c, err := load(certSetting)
	if err != nil {
		return nil, &ConfigError{Profile: p.Name, Field: field, Err: err}
	}
	return c, nil
}

// certRefWithoutKey is the error for a certificate reference whose key is
// a file: the pair must live together.
func certRefWithoutKey(p Profile, field string) error {
	return &ConfigError{Profile: p.Name, Field: field, Err: fmt.Errorf("a certificate on a token or in a store goes with its key there: set the key to a pkcs11: or certstore: reference too")}
}

func fileLocation(path string) keyref.Location { return keyref.Location{Kind: "file", Path: path} }

// loadFirstCert reads the first certificate of a PEM or DER file.
func loadFirstCert(path string) (*x509.Certificate, error) {
	certs, err := smime.LoadCertificateFile(path)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}
