package mailwarden

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"mailwarden/smime"
)

// An SMIMEReport is what CheckSMIME found: the certificates of the S/MIME
// settings and every problem with them.
type SMIMEReport struct {
	// Certificates are the signer certificate, the chain its PKCS#12 file
	// carries, then each recipient certificate, in that order.
	Certificates []SMIMECertificate
	// Problems lists every failed check, each an error wrapping one of
	// smime.ErrKeyMismatch, ErrExpired, ErrNotYetValid, ErrWrongUsage,
	// ErrAddressMismatch, ErrUntrusted or ErrUnsupportedKey, or a failed
	// test signature of the signing key. Empty when the settings are
	// usable.
	Problems []error
	// Keys says where the signing key lives (file, token, store) and
	// whether a test signature with it succeeded.
	Keys []KeyProbe
}

// An SMIMECertificate is one certificate of an SMIMEReport.
type SMIMECertificate struct {
	Role string // "signer", "signer chain" or "recipient"
	Cert *x509.Certificate
}

// SHA256 is the certificate's fingerprint: lower-case hex SHA-256 of its
// DER form, as the audit trail records it.
func (c SMIMECertificate) SHA256() string { return fingerprint(c.Cert) }

// CheckSMIME is the S/MIME "Verify" button for settings that need not be
// usable yet: it reads the signing identity and the recipient
// certificates, and checks that the key matches its certificate, that each
// certificate is valid at now (zero: the current time) and allows S/MIME,
// that from (when not empty) is in the signer certificate, and, when caFile
// is not empty, that every certificate chains to a certificate authority
// in that PEM file (and only there: the system roots are not used). getenv
// and src resolve the PKCS#12 password reference (nil getenv is
// os.Getenv). Files that cannot be read, a wrong password or a bad caFile
// are a *ConfigError; what the checks find is in the report.
func CheckSMIME(ctx context.Context, c SMIMEConfig, from, caFile string, now time.Time, getenv func(string) string, src SecretSource) (*SMIMEReport, error) {
	return CheckSMIMEKeys(ctx, c, PKCS11Config{}, from, caFile, now, getenv, src)
}

// CheckSMIMEKeys is CheckSMIME for settings whose key may be on a PKCS#11
// token: p11 says how to reach it (see PKCS11Config).
func CheckSMIMEKeys(ctx context.Context, c SMIMEConfig, p11 PKCS11Config, from, caFile string, now time.Time, getenv func(string) string, src SecretSource) (*SMIMEReport, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	p := Profile{Name: "S/MIME check", SMIME: c, PKCS11: p11}
	id, recipients, key, err := loadSMIMECerts(ctx, p, getenv, src)
	if err != nil {
		return nil, err
	}
	if id == nil && len(recipients) == 0 {
		return nil, &ConfigError{Profile: p.Name, Field: "smime", Err: errors.New("nothing to check: no signing identity and no recipient certificate")}
	}
	vc := smime.VerifyConfig{Signer: id, From: from, Recipients: recipients}
	if !now.IsZero() {
		vc.Now = func() time.Time { return now }
	}
	if caFile != "" {
		vc.Roots = x509.NewCertPool()
		if err := appendCAFile(vc.Roots, caFile); err != nil {
			return nil, &ConfigError{Profile: p.Name, Field: "ca_file", Err: err}
		}
	}
	rep := &SMIMEReport{}
	if key != nil {
		kp := key.probe()
		rep.Keys = append(rep.Keys, kp)
		if kp.Err != nil {
			rep.Problems = append(rep.Problems, fmt.Errorf("signing key (%s): %w", kp.Location, kp.Err))
		}
	}
	if id != nil {
		rep.Certificates = append(rep.Certificates, SMIMECertificate{"signer", id.Cert})
		for _, ch := range id.Chain {
			rep.Certificates = append(rep.Certificates, SMIMECertificate{"signer chain", ch})
		}
	}
	for _, r := range recipients {
		rep.Certificates = append(rep.Certificates, SMIMECertificate{"recipient", r})
	}
	if err := smime.Verify(vc); err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			rep.Problems = append(rep.Problems, j.Unwrap()...)
		} else {
			rep.Problems = append(rep.Problems, err)
		}
	}
	return rep, nil
}
