package smime

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/testcert"
)

func newTestCA(t testing.TB) *testcert.Authority {
	t.Helper()
	now := time.Now()
	ca, err := testcert.NewCAValid("smime test CA", now.AddDate(-1, 0, 0), now.AddDate(10, 0, 0), testcert.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issue(t testing.TB, ca *testcert.Authority, o testcert.Options) *Identity {
	t.Helper()
	if o.CommonName == "" {
		o.CommonName = "test"
	}
	l, err := ca.Issue(o)
	if err != nil {
		t.Fatal(err)
	}
	return &Identity{Cert: l.Cert, Key: l.Key, Chain: l.Chain}
}

func wantCertErr(t *testing.T, err, sentinel error, role string) {
	t.Helper()
	var ce *CertError
	if !errors.Is(err, sentinel) || !errors.As(err, &ce) || ce.Role != role {
		t.Fatalf("got %v, want %s *CertError wrapping %v", err, role, sentinel)
	}
	t.Logf("%v", err)
}

func TestExpiredCertificate(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	exp := issue(t, ca, testcert.Options{Emails: []string{"alerts@example.com"}, Key: testcert.RSA2048, Purpose: testcert.SMIME,
		NotBefore: now.AddDate(0, 0, -30), NotAfter: now.AddDate(0, 0, -1)})
	_, err := NewSigner(SignConfig{Identity: exp})
	wantCertErr(t, err, ErrExpired, "signer")
	_, err = NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{exp.Cert}})
	wantCertErr(t, err, ErrExpired, "recipient")

	// A Signer or Encrypter built while valid refuses to work after expiry.
	clock := now.AddDate(0, 0, -10)
	s0, err := NewSigner(SignConfig{Identity: exp, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	e0, err := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{exp.Cert}, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	clock = now
	_, err = s0.Wrap(&bytes.Buffer{})
	wantCertErr(t, err, ErrExpired, "signer")
	_, err = e0.Wrap(&bytes.Buffer{})
	wantCertErr(t, err, ErrExpired, "recipient")

	// Signed while valid, verified after expiry.
	past := func() time.Time { return now.AddDate(0, 0, -10) }
	s, err := NewSigner(SignConfig{Identity: exp, Now: past})
	if err != nil {
		t.Fatal(err)
	}
	msg := wrapAll(t, s, inner)
	_, err = Open(bytes.NewReader(msg), OpenOptions{Roots: ca.Pool()})
	wantCertErr(t, err, ErrExpired, "signer")
	if _, err := Open(bytes.NewReader(msg), OpenOptions{Roots: ca.Pool(), Now: past}); err != nil {
		t.Fatalf("at signing time: %v", err)
	}
}

func TestWrongUsage(t *testing.T) {
	ca := newTestCA(t)
	signOnly := issue(t, ca, testcert.Options{Emails: []string{"sec@example.org"}, Key: testcert.RSA2048, Purpose: testcert.SMIMESignOnly})
	_, err := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{signOnly.Cert}})
	wantCertErr(t, err, ErrWrongUsage, "recipient")

	client := issue(t, ca, testcert.Options{Purpose: testcert.Client, Key: testcert.RSA2048})
	_, err = NewSigner(SignConfig{Identity: client})
	wantCertErr(t, err, ErrWrongUsage, "signer")

	// A message signed by OpenSSL with a TLS client certificate.
	openssl := needOpenSSL(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c.pem"), pemCert(client.Cert), 0o600)
	kp, _ := x509.MarshalPKCS8PrivateKey(client.Key)
	os.WriteFile(filepath.Join(dir, "c.key"), pemBlock("PRIVATE KEY", kp), 0o600)
	in := writeTemp(t, "in.txt", []byte(innerCRLF))
	out, err := runOpenSSL(t, openssl, "cms", "-sign", "-in", in, "-signer", filepath.Join(dir, "c.pem"), "-inkey", filepath.Join(dir, "c.key"))
	if err != nil {
		t.Fatal("openssl sign failed")
	}
	_, err = Open(bytes.NewReader(out), OpenOptions{Roots: ca.Pool()})
	wantCertErr(t, err, ErrWrongUsage, "signer")
}

func TestECRecipientNeedsKeyAgreement(t *testing.T) {
	ca := newTestCA(t)
	signOnly := issue(t, ca, testcert.Options{Emails: []string{"sec@example.org"}, Purpose: testcert.SMIMESignOnly})
	_, err := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{signOnly.Cert}})
	wantCertErr(t, err, ErrWrongUsage, "recipient")
	if !strings.Contains(err.Error(), "keyAgreement") {
		t.Fatalf("unclear message: %v", err)
	}
}

func TestVerifyConfig(t *testing.T) {
	signer := loadIdentity(t, "signer-rsa")
	good := VerifyConfig{Signer: signer, From: "Alerts <alerts@example.com>", Recipients: []*x509.Certificate{loadCert(t, "recipient-rsa")}, Roots: caPool(t)}
	if err := Verify(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	c := good
	c.From = "ops@example.com"
	wantCertErr(t, Verify(c), ErrAddressMismatch, "signer")

	c = good
	c.Signer = &Identity{Cert: signer.Cert, Key: loadIdentity(t, "signer-ecdsa").Key}
	wantCertErr(t, Verify(c), ErrKeyMismatch, "signer")

	c = good
	c.Now = func() time.Time { return time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC) }
	err := Verify(c)
	wantCertErr(t, err, ErrExpired, "signer")
	var n int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		if errors.Is(e, ErrExpired) {
			n++
		}
	}
	if n < 2 {
		t.Fatalf("want signer and recipient expiry reported, got %v", err)
	}

	c = good
	c.Recipients = append(c.Recipients, loadCert(t, "recipient-ecdsa"))
	if err := Verify(c); err != nil {
		t.Fatalf("EC recipient: %v", err)
	}

	c = good
	c.Roots = newTestCA(t).Pool()
	wantCertErr(t, Verify(c), ErrUntrusted, "signer")
}

func TestSHA1NeedsLegacySwitch(t *testing.T) {
	_, err := NewSigner(SignConfig{Identity: loadIdentity(t, "signer-rsa"), Hash: crypto.SHA1})
	if !errors.Is(err, ErrWeakHash) {
		t.Fatalf("got %v, want ErrWeakHash", err)
	}
	s, err := NewSigner(SignConfig{Identity: loadIdentity(t, "signer-rsa"), Hash: crypto.SHA1, AllowSHA1: true})
	if err != nil {
		t.Fatal(err)
	}
	msg := wrapAll(t, s, inner)
	if !bytes.Contains(msg, []byte("micalg=sha-1")) {
		t.Fatal("micalg not sha-1")
	}
	if _, err := Open(bytes.NewReader(msg), openOpts(t, "")); !errors.Is(err, ErrWeakHash) {
		t.Fatalf("Open without AllowSHA1: %v", err)
	}
	o := openOpts(t, "")
	o.AllowSHA1 = true
	if _, err := Open(bytes.NewReader(msg), o); err != nil {
		t.Fatal(err)
	}
}

func TestDetachedRefuses8Bit(t *testing.T) {
	s, _ := NewSigner(SignConfig{Identity: loadIdentity(t, "signer-rsa")})
	for _, body := range []string{
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n",
		"Content-Type: text/plain\r\n\r\n" + strings.Repeat("x", 999) + "\r\n",
		"Content-Type: application/octet-stream\r\n\r\n\x00\x01\r\n",
	} {
		var buf bytes.Buffer
		w, err := s.Wrap(&buf)
		if err != nil {
			t.Fatal(err)
		}
		_, werr := w.Write([]byte(body))
		cerr := w.Close()
		var ce *ContentError
		if !errors.As(werr, &ce) || !errors.Is(cerr, ErrNot7Bit) {
			t.Fatalf("write %v, close %v: want *ContentError", werr, cerr)
		}
		if bytes.Contains(buf.Bytes(), []byte("pkcs7-signature; name")) {
			t.Fatal("a signature was written for refused content")
		}
	}
	// Opaque signing carries 8-bit content safely inside base64.
	so, _ := NewSigner(SignConfig{Identity: loadIdentity(t, "signer-rsa"), Opaque: true})
	body := "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n"
	m, err := Open(bytes.NewReader(wrapAll(t, so, body)), openOpts(t, ""))
	if err != nil || string(m.Entity) != body {
		t.Fatalf("opaque 8-bit: %v", err)
	}
}

func TestLoadPKCS12(t *testing.T) {
	pw, err := ReadPasswordFile(filepath.Join(certDir, "PASSWORD"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"signer-rsa.p12", "signer-rsa-legacy.p12", "signer-ecdsa.p12", "recipient-rsa.p12"} {
		id, err := LoadPKCS12File(filepath.Join(certDir, name), pw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := Verify(VerifyConfig{Signer: id, Roots: caPool(t)}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(id.Chain) != 1 {
			t.Fatalf("%s: chain %d", name, len(id.Chain))
		}
	}
	if _, err := LoadPKCS12File(filepath.Join(certDir, "signer-rsa.p12"), "wrong"); !errors.Is(err, ErrPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if strings.Contains(func() string {
		_, err := LoadPKCS12File(filepath.Join(certDir, "signer-rsa.p12"), "s3cret-guess")
		return err.Error()
	}(), "s3cret") {
		t.Fatal("password leaked into the error")
	}
}

func TestParseCertificatesDER(t *testing.T) {
	c := loadCert(t, "recipient-rsa")
	got, err := ParseCertificates(c.Raw)
	if err != nil || !got[0].Equal(c) {
		t.Fatalf("DER: %v", err)
	}
	if _, err := ParseCertificates([]byte("junk")); err == nil {
		t.Fatal("junk accepted")
	}
}

func TestShortRSAKeyRefused(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ca := loadIdentity(t, "signer-rsa") // any issuer will do: only the key size is under test
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "weak"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	_, err = NewSigner(SignConfig{Identity: &Identity{Cert: cert, Key: key}})
	wantCertErr(t, err, ErrUnsupportedKey, "signer")
	_, err = NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{cert}})
	wantCertErr(t, err, ErrUnsupportedKey, "recipient")
}
