package testcert

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

func TestLoopbackChains(t *testing.T) {
	s, err := NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	pool := s.CA.Pool()
	verify := func(l *Leaf, host string, usage x509.ExtKeyUsage) error {
		_, err := l.Cert.Verify(x509.VerifyOptions{DNSName: host, Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := verify(s.Server, host, x509.ExtKeyUsageServerAuth); err != nil {
			t.Errorf("server cert for %s: %v", host, err)
		}
	}
	var inv x509.CertificateInvalidError
	if err := verify(s.Expired, "localhost", x509.ExtKeyUsageServerAuth); !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Errorf("expired cert verified as %v, want x509.Expired", err)
	}
	var host x509.HostnameError
	if err := verify(s.WrongHost, "localhost", x509.ExtKeyUsageServerAuth); !errors.As(err, &host) {
		t.Errorf("wrong-host cert verified as %v, want HostnameError", err)
	}
	if err := verify(s.Client, "", x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("client cert: %v", err)
	}
	if err := verify(s.Client, "", x509.ExtKeyUsageServerAuth); err == nil {
		t.Error("client cert verified for server auth")
	}
	if _, err := tls.X509KeyPair(s.Server.CertPEM, s.Server.KeyPEM); err != nil {
		t.Errorf("server PEM pair: %v", err)
	}
}

func TestSMIMEAndPKCS12(t *testing.T) {
	ca, err := NewCA("t")
	if err != nil {
		t.Fatal(err)
	}
	for _, kt := range []KeyType{RSA2048, ECDSAP256} {
		l, err := ca.Issue(Options{CommonName: "s", Emails: []string{"a@example.com"}, Key: kt, Purpose: SMIME})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}); err != nil {
			t.Errorf("key %d: %v", kt, err)
		}
		if l.Cert.EmailAddresses[0] != "a@example.com" {
			t.Errorf("email SAN = %v", l.Cert.EmailAddresses)
		}
		for name, enc := range map[string]func(string) ([]byte, error){"modern": l.PKCS12, "legacy": l.LegacyPKCS12} {
			p12, err := enc("pw")
			if err != nil {
				t.Fatal(err)
			}
			_, cert, chain, err := pkcs12.DecodeChain(p12, "pw")
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !cert.Equal(l.Cert) || len(chain) != 1 || !chain[0].Equal(ca.Cert) {
				t.Errorf("%s: round trip lost the certificate or chain", name)
			}
			if _, _, _, err := pkcs12.DecodeChain(p12, "wrong"); err == nil {
				t.Errorf("%s: wrong password accepted", name)
			}
		}
	}
}

func TestIssueValidity(t *testing.T) {
	ca, err := NewCA("t")
	if err != nil {
		t.Fatal(err)
	}
	nb := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l, err := ca.Issue(Options{CommonName: "x", NotBefore: nb, NotAfter: nb.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if !l.Cert.NotBefore.Equal(nb) || !l.Cert.NotAfter.Equal(nb.AddDate(1, 0, 0)) {
		t.Errorf("validity = %v..%v", l.Cert.NotBefore, l.Cert.NotAfter)
	}
	if _, err := ca.Issue(Options{}); err == nil {
		t.Error("Issue without CommonName succeeded")
	}
}
