// Package testcert makes throwaway certificate authorities and leaf
// certificates for tests and for the embedded demo: TLS server and client
// certificates, deliberately broken ones (expired, wrong host), and S/MIME
// signer and recipient certificates with e-mail SANs. Nothing it makes is
// fit for production: keys are generated fresh and live in memory.
package testcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// KeyType selects the key algorithm of a generated certificate.
type KeyType int

const (
	// ECDSAP256 is the default: fast to generate.
	ECDSAP256 KeyType = iota
	// RSA2048 is a 2048-bit RSA key.
	RSA2048
)

// Purpose selects key usage and extended key usage.
type Purpose int

const (
	// Server is a TLS server certificate (digitalSignature, keyEncipherment; serverAuth).
	Server Purpose = iota
	// Client is a TLS client certificate (digitalSignature; clientAuth).
	Client
	// SMIME is an S/MIME certificate for signing and encryption
	// (digitalSignature, keyEncipherment for RSA; emailProtection).
	SMIME
	// SMIMESignOnly is an S/MIME certificate whose key usage allows only signing.
	SMIMESignOnly
)

// Options describe a leaf certificate. The zero NotBefore is one hour ago and
// the zero NotAfter is 24 hours from now.
type Options struct {
	CommonName string
	DNSNames   []string
	IPs        []net.IP
	Emails     []string
	Key        KeyType
	Purpose    Purpose
	NotBefore  time.Time
	NotAfter   time.Time
}

// Authority is a certificate authority that signs leaves.
type Authority struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// Leaf is a generated certificate with its private key.
type Leaf struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
	// Chain holds the issuing CA certificate.
	Chain []*x509.Certificate
}

func newKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("testcert: unknown key type %d", t)
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
}

func encodeKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func skid(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return sum[:20], nil
}

// NewCA makes a self-signed CA valid from one hour ago for ten years.
func NewCA(name string) (*Authority, error) {
	now := time.Now()
	return NewCAValid(name, now.Add(-time.Hour), now.AddDate(10, 0, 0), ECDSAP256)
}

// NewCAValid makes a self-signed CA with the given validity and key type.
func NewCAValid(name string, notBefore, notAfter time.Time, kt KeyType) (*Authority, error) {
	key, err := newKey(kt)
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	id, err := skid(key.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Mailwarden test"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          id,
	}
	cert, certPEM, keyPEM, err := create(tmpl, tmpl, key, key)
	if err != nil {
		return nil, err
	}
	return &Authority{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// create signs tmpl (for key) with the parent's signer and returns the
// certificate with its PEM forms.
func create(tmpl, parent *x509.Certificate, key, signer crypto.Signer) (*x509.Certificate, []byte, []byte, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// Pool returns a certificate pool that trusts only this CA.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Cert)
	return p
}

// Issue signs a leaf certificate described by o.
func (a *Authority) Issue(o Options) (*Leaf, error) {
	if o.CommonName == "" {
		return nil, errors.New("testcert: CommonName is required")
	}
	now := time.Now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.Add(24 * time.Hour)
	}
	key, err := newKey(o.Key)
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	id, err := skid(key.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: o.CommonName, Organization: []string{"Mailwarden test"}},
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		DNSNames:              o.DNSNames,
		IPAddresses:           o.IPs,
		EmailAddresses:        o.Emails,
		BasicConstraintsValid: true,
		SubjectKeyId:          id,
		AuthorityKeyId:        a.Cert.SubjectKeyId,
	}
	_, isRSA := key.(*rsa.PrivateKey)
	switch o.Purpose {
	case Server:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if isRSA {
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case Client:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case SMIME:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		if isRSA {
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		} else {
			tmpl.KeyUsage |= x509.KeyUsageKeyAgreement
		}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	case SMIMESignOnly:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	default:
		return nil, fmt.Errorf("testcert: unknown purpose %d", o.Purpose)
	}
	cert, certPEM, keyPEM, err := create(tmpl, a.Cert, key, a.Key)
	if err != nil {
		return nil, err
	}
	return &Leaf{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM, Chain: []*x509.Certificate{a.Cert}}, nil
}

// TLS returns the leaf as a tls.Certificate with its chain.
func (l *Leaf) TLS() tls.Certificate {
	c := tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
	for _, ca := range l.Chain {
		c.Certificate = append(c.Certificate, ca.Raw)
	}
	return c
}

// PKCS12 encodes the leaf, its key and its chain as a PKCS#12 file protected
// by password, with AES-256 and PBKDF2 as current Windows exports write it.
func (l *Leaf) PKCS12(password string) ([]byte, error) {
	return pkcs12.Modern.Encode(l.Key, l.Cert, l.Chain, password)
}

// LegacyPKCS12 encodes the leaf as a PKCS#12 file with the legacy
// RC2/3DES encryption older tools write.
func (l *Leaf) LegacyPKCS12(password string) ([]byte, error) {
	return pkcs12.LegacyRC2.Encode(l.Key, l.Cert, l.Chain, password)
}

// Loopback is a set of certificates for a server on 127.0.0.1: a CA, a
// server certificate valid for localhost, 127.0.0.1 and ::1, an expired one,
// one for the wrong host, and a client certificate.
type Loopback struct {
	CA        *Authority
	Server    *Leaf
	Expired   *Leaf
	WrongHost *Leaf
	Client    *Leaf
}

// NewLoopback generates a Loopback set.
func NewLoopback() (*Loopback, error) {
	ca, err := NewCA("Mailwarden Test CA")
	if err != nil {
		return nil, err
	}
	lo := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	now := time.Now()
	var s Loopback
	s.CA = ca
	if s.Server, err = ca.Issue(Options{CommonName: "localhost", DNSNames: []string{"localhost"}, IPs: lo}); err != nil {
		return nil, err
	}
	if s.Expired, err = ca.Issue(Options{CommonName: "localhost", DNSNames: []string{"localhost"}, IPs: lo,
		NotBefore: now.AddDate(0, 0, -30), NotAfter: now.AddDate(0, 0, -1)}); err != nil {
		return nil, err
	}
	if s.WrongHost, err = ca.Issue(Options{CommonName: "mail.wrong.example", DNSNames: []string{"mail.wrong.example"}}); err != nil {
		return nil, err
	}
	if s.Client, err = ca.Issue(Options{CommonName: "mailwarden-client", Purpose: Client}); err != nil {
		return nil, err
	}
	return &s, nil
}
