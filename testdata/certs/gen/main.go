// Command gen writes the test certificates in testdata/certs. Run it from the
// module root:
//
//	go run ./testdata/certs/gen
//
// Validity periods are fixed so that the committed output is stable in
// meaning: the CA from 2026-01-01 to 2046-01-01; every leaf from 2026-01-01
// to 2036-01-01 except expired.pem (2025-01-01 to 2025-02-01). PKCS#12 files
// use the password in testdata/certs/PASSWORD; *.p12 are AES-256/PBKDF2
// (what current Windows exports), *-legacy.p12 are RC2/3DES.
package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"mailwarden/internal/testcert"
)

const password = "mailwarden-test"

func main() {
	dir := "testdata/certs"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := run(dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	day := func(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }
	from, to := day(2026, 1, 1), day(2036, 1, 1)
	ca, err := testcert.NewCAValid("Mailwarden Test CA", from, day(2046, 1, 1), testcert.ECDSAP256)
	if err != nil {
		return err
	}
	lo := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	leaves := []struct {
		name string
		o    testcert.Options
	}{
		{"server", testcert.Options{CommonName: "localhost", DNSNames: []string{"localhost"}, IPs: lo, Key: testcert.RSA2048}},
		{"expired", testcert.Options{CommonName: "localhost", DNSNames: []string{"localhost"}, IPs: lo, NotBefore: day(2025, 1, 1), NotAfter: day(2025, 2, 1)}},
		{"wronghost", testcert.Options{CommonName: "mail.wrong.example", DNSNames: []string{"mail.wrong.example"}}},
		{"client", testcert.Options{CommonName: "mailwarden-client", Purpose: testcert.Client}},
		{"signer-rsa", testcert.Options{CommonName: "Alerts Signer RSA", Emails: []string{"alerts@example.com"}, Key: testcert.RSA2048, Purpose: testcert.SMIME}},
		{"signer-ecdsa", testcert.Options{CommonName: "Alerts Signer ECDSA", Emails: []string{"alerts@example.com"}, Purpose: testcert.SMIME}},
		{"recipient-rsa", testcert.Options{CommonName: "Security Team RSA", Emails: []string{"security@example.org"}, Key: testcert.RSA2048, Purpose: testcert.SMIME}},
		{"recipient-ecdsa", testcert.Options{CommonName: "Security Team ECDSA", Emails: []string{"security@example.org"}, Purpose: testcert.SMIME}},
	}
	write := func(name string, b []byte, mode os.FileMode) error {
		return os.WriteFile(filepath.Join(dir, name), b, mode)
	}
	if err := write("ca.pem", ca.CertPEM, 0o644); err != nil {
		return err
	}
	if err := write("ca.key", ca.KeyPEM, 0o600); err != nil {
		return err
	}
	for _, l := range leaves {
		o := l.o
		if o.NotBefore.IsZero() {
			o.NotBefore, o.NotAfter = from, to
		}
		leaf, err := ca.Issue(o)
		if err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
		if err := write(l.name+".pem", leaf.CertPEM, 0o644); err != nil {
			return err
		}
		if err := write(l.name+".key", leaf.KeyPEM, 0o600); err != nil {
			return err
		}
		p12, err := leaf.PKCS12(password)
		if err != nil {
			return err
		}
		if err := write(l.name+".p12", p12, 0o600); err != nil {
			return err
		}
		legacy, err := leaf.LegacyPKCS12(password)
		if err != nil {
			return err
		}
		if err := write(l.name+"-legacy.p12", legacy, 0o600); err != nil {
			return err
		}
	}
	return write("PASSWORD", []byte(password+"\n"), 0o644)
}
