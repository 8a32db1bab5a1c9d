package smime

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"software.sslmate.com/src/go-pkcs12"
)

// Identity is a signing (and decryption) certificate with its private key
// and the intermediate certificates to send along with it.
type Identity struct {
	Cert  *x509.Certificate
	Key   crypto.Signer // *rsa.PrivateKey, *ecdsa.PrivateKey or a hardware-backed signer
	Chain []*x509.Certificate
}

// ParsePKCS12 decodes a PKCS#12 (.p12/.pfx) file protected by password:
// both the AES-256/PBKDF2 kind current Windows and OpenSSL 3 export and the
// legacy RC2/3DES kind. A wrong password gives an error wrapping ErrPassword.
func ParsePKCS12(data []byte, password string) (*Identity, error) {
	key, cert, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, ErrPassword
		}
		return nil, fmt.Errorf("smime: pkcs12: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("smime: pkcs12: %w: %T", ErrUnsupportedKey, key)
	}
	return &Identity{Cert: cert, Key: signer, Chain: chain}, nil
}

// LoadPKCS12File reads a PKCS#12 file; see ParsePKCS12.
func LoadPKCS12File(path, password string) (*Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("smime: %w", err)
	}
	return ParsePKCS12(data, password)
}

// ReadPasswordFile reads a password from a file, dropping one trailing
// newline (LF or CRLF).
func ReadPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("smime: %w", err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return string(b), nil
}

// ParsePEMIdentity builds an Identity from PEM data: certPEM holds the
// signer certificate first, then any intermediates; keyPEM holds its
// private key as PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC 1
// ("EC PRIVATE KEY"). Encrypted PEM keys are refused: use PKCS#12 instead.
func ParsePEMIdentity(certPEM, keyPEM []byte) (*Identity, error) {
	certs, err := ParseCertificates(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := parsePEMKey(keyPEM)
	if err != nil {
		return nil, err
	}
	return &Identity{Cert: certs[0], Key: key, Chain: certs[1:]}, nil
}

// LoadPEMFiles reads a certificate file and a key file; see ParsePEMIdentity.
// certPath and keyPath may name the same file.
func LoadPEMFiles(certPath, keyPath string) (*Identity, error) {
	c, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("smime: %w", err)
	}
	k, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("smime: %w", err)
	}
	return ParsePEMIdentity(c, k)
}

func parsePEMKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("smime: no private key in PEM data")
		}
		var key any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			if b.Headers["Proc-Type"] != "" {
				return nil, errors.New("smime: encrypted PEM keys are not supported; use a PKCS#12 file")
			}
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			if b.Headers["Proc-Type"] != "" {
				return nil, errors.New("smime: encrypted PEM keys are not supported; use a PKCS#12 file")
			}
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("smime: encrypted PEM keys are not supported; use a PKCS#12 file")
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("smime: private key: %w", err)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey:
			return k.(crypto.Signer), nil
		case ed25519.PrivateKey:
			return nil, fmt.Errorf("smime: %w: Ed25519 keys are not supported for S/MIME", ErrUnsupportedKey)
		default:
			return nil, fmt.Errorf("smime: %w: %T", ErrUnsupportedKey, key)
		}
	}
}

// ParseCertificates parses one or more certificates in PEM, or a single
// certificate in DER.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("smime: certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) > 0 {
		return certs, nil
	}
	c, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("smime: no certificate in PEM or DER data: %w", err)
	}
	return []*x509.Certificate{c}, nil
}

// LoadCertificateFile reads certificates in PEM or DER from path.
func LoadCertificateFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("smime: %w", err)
	}
	return ParseCertificates(data)
}

// IdentityFiles names a signing identity the way smtpcheck flags and admin
// screens give it: either a PKCS#12 file, or a PEM certificate file and a
// PEM key file; the PKCS#12 password is read from PasswordFile (one line)
// so that it never appears on a command line.
type IdentityFiles struct {
	P12          string // --sign-p12
	Cert         string // --sign-cert
	Key          string // --sign-key
	PasswordFile string // --sign-password-file
}

// LoadIdentityFiles loads the identity f names. Exactly one of P12 and
// Cert/Key must be set.
func LoadIdentityFiles(f IdentityFiles) (*Identity, error) {
	switch {
	case f.P12 != "" && (f.Cert != "" || f.Key != ""):
		return nil, errors.New("smime: give either a PKCS#12 file or a certificate and key, not both")
	case f.P12 != "":
		var pw string
		if f.PasswordFile != "" {
			var err error
			if pw, err = ReadPasswordFile(f.PasswordFile); err != nil {
				return nil, err
			}
		}
		return LoadPKCS12File(f.P12, pw)
	case f.Cert != "" && f.Key != "":
		return LoadPEMFiles(f.Cert, f.Key)
	case f.Cert != "" || f.Key != "":
		return nil, errors.New("smime: a PEM identity needs both a certificate file and a key file")
	}
	return nil, errors.New("smime: no signing identity given")
}
