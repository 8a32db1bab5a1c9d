package smime

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// VerifyConfig is what the administrator's "Verify" button checks before
// anything is sent. Every field is optional; only what is set is checked.
type VerifyConfig struct {
	// Signer is the signing identity: its key must match its certificate,
	// the certificate must be valid now and allow S/MIME signing.
	Signer *Identity
	// From is the sender address; it must be one of the signer
	// certificate's e-mail addresses. It may be a bare address or
	// "Name <addr>".
	From string
	// Recipients are encryption certificates: each must be valid now, hold
	// an RSA key allowing key encipherment or an EC key allowing key
	// agreement, and allow e-mail protection.
	Recipients []*x509.Certificate
	// Roots, when non-nil, must anchor the signer's and each recipient's
	// chain. Nil skips the chain check (the receiving side decides trust).
	Roots *x509.CertPool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verify checks cfg and returns nil or every failure joined with
// errors.Join; each failure is a *CertError wrapping one of ErrKeyMismatch,
// ErrExpired, ErrNotYetValid, ErrWrongUsage, ErrAddressMismatch,
// ErrUntrusted or ErrUnsupportedKey.
func Verify(cfg VerifyConfig) error {
	now := time.Now()
	if cfg.Now != nil {
		now = cfg.Now()
	}
	var errs []error
	if cfg.Signer != nil {
		errs = append(errs, checkSigner(cfg.Signer, now, cfg.Roots)...)
		if cfg.From != "" {
			if err := checkAddress(cfg.Signer.Cert, cfg.From); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, c := range cfg.Recipients {
		errs = append(errs, checkRecipient(c, now, cfg.Roots)...)
	}
	return errors.Join(errs...)
}

// minRSABits is the smallest RSA modulus accepted for signing or as a
// recipient (NIST SP 800-131A).
const minRSABits = 2048

func checkSigner(id *Identity, now time.Time, roots *x509.CertPool) []error {
	if id == nil || id.Cert == nil || id.Key == nil {
		return []error{errors.New("smime: signer identity needs a certificate and a private key")}
	}
	var errs []error
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := id.Key.Public().(equaler); !ok || !pub.Equal(id.Cert.PublicKey) {
		errs = append(errs, &CertError{Role: "signer", Cert: id.Cert, Err: ErrKeyMismatch})
	}
	switch pub := id.Cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			errs = append(errs, &CertError{Role: "signer", Cert: id.Cert, Err: ErrUnsupportedKey, Detail: fmt.Sprintf("RSA key of %d bits; at least %d required", pub.N.BitLen(), minRSABits)})
		}
	case *ecdsa.PublicKey:
	default:
		errs = append(errs, &CertError{Role: "signer", Cert: id.Cert, Err: ErrUnsupportedKey, Detail: fmt.Sprintf("%s key: signing needs RSA or ECDSA", id.Cert.PublicKeyAlgorithm)})
	}
	if err := checkTime("signer", id.Cert, now); err != nil {
		errs = append(errs, err)
	}
	if id.Cert.KeyUsage != 0 && id.Cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		errs = append(errs, &CertError{Role: "signer", Cert: id.Cert, Err: ErrWrongUsage, Detail: "key usage lacks digitalSignature"})
	}
	if err := checkEKU("signer", id.Cert); err != nil {
		errs = append(errs, err)
	}
	if roots != nil {
		if err := checkChain("signer", id.Cert, id.Chain, roots, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func checkRecipient(c *x509.Certificate, now time.Time, roots *x509.CertPool) []error {
	if c == nil {
		return []error{errors.New("smime: nil recipient certificate")}
	}
	var errs []error
	switch pub := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			errs = append(errs, &CertError{Role: "recipient", Cert: c, Err: ErrUnsupportedKey, Detail: fmt.Sprintf("RSA key of %d bits; at least %d required", pub.N.BitLen(), minRSABits)})
		}
		if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
			errs = append(errs, &CertError{Role: "recipient", Cert: c, Err: ErrWrongUsage, Detail: "key usage lacks keyEncipherment"})
		}
	case *ecdsa.PublicKey:
		if _, err := pub.ECDH(); err != nil {
			errs = append(errs, &CertError{Role: "recipient", Cert: c, Err: ErrUnsupportedKey, Detail: "EC curve not supported for key agreement (want P-256, P-384 or P-521)"})
		}
		if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageKeyAgreement == 0 {
			errs = append(errs, &CertError{Role: "recipient", Cert: c, Err: ErrWrongUsage, Detail: "key usage lacks keyAgreement"})
		}
	default:
		errs = append(errs, &CertError{Role: "recipient", Cert: c, Err: ErrUnsupportedKey,
			Detail: fmt.Sprintf("%s key: recipient certificates need RSA or EC (P-256/384/521) keys", c.PublicKeyAlgorithm)})
	}
	if err := checkTime("recipient", c, now); err != nil {
		errs = append(errs, err)
	}
	if err := checkEKU("recipient", c); err != nil {
		errs = append(errs, err)
	}
	if roots != nil {
		if err := checkChain("recipient", c, nil, roots, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func checkTime(role string, c *x509.Certificate, now time.Time) error {
	if now.After(c.NotAfter) {
		return &CertError{Role: role, Cert: c, Err: ErrExpired, Detail: "not after " + c.NotAfter.UTC().Format(time.RFC3339)}
	}
	if now.Before(c.NotBefore) {
		return &CertError{Role: role, Cert: c, Err: ErrNotYetValid, Detail: "not before " + c.NotBefore.UTC().Format(time.RFC3339)}
	}
	return nil
}

func checkEKU(role string, c *x509.Certificate) error {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return nil
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageEmailProtection || u == x509.ExtKeyUsageAny {
			return nil
		}
	}
	return &CertError{Role: role, Cert: c, Err: ErrWrongUsage, Detail: "extended key usage lacks emailProtection"}
}

func checkChain(role string, c *x509.Certificate, chain []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	inter := x509.NewCertPool()
	for _, ic := range chain {
		inter.AddCert(ic)
	}
	_, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}})
	if err == nil {
		return nil
	}
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		switch inv.Reason {
		case x509.Expired:
			return &CertError{Role: role, Cert: c, Err: ErrExpired, Detail: inv.Detail}
		case x509.IncompatibleUsage:
			return &CertError{Role: role, Cert: c, Err: ErrWrongUsage, Detail: err.Error()}
		}
	}
	return &CertError{Role: role, Cert: c, Err: ErrUntrusted, Detail: err.Error()}
}

var oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

func checkAddress(c *x509.Certificate, from string) error {
	addr := strings.TrimSpace(from)
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	var have []string
	have = append(have, c.EmailAddresses...)
	for _, n := range c.Subject.Names {
		if n.Type.Equal(oidEmailAddress) {
			if s, ok := n.Value.(string); ok {
				have = append(have, s)
			}
		}
	}
	for _, h := range have {
		if strings.EqualFold(h, addr) {
			return nil
		}
	}
	return &CertError{Role: "signer", Cert: c, Err: ErrAddressMismatch,
		Detail: fmt.Sprintf("%q not in %q", addr, have)}
}
