package smime

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func openOpts(t testing.TB, rcpt string) OpenOptions {
	o := OpenOptions{Roots: caPool(t)}
	if rcpt != "" {
		o.Identity = loadIdentity(t, rcpt)
	}
	return o
}

// TestRoundTrip opens what we write with our own helper.
func TestRoundTrip(t *testing.T) {
	signer := loadIdentity(t, "signer-rsa")
	rcpt := loadCert(t, "recipient-rsa")
	for _, opaque := range []bool{false, true} {
		for _, c := range []Cipher{AES256CBC, AES128CBC, AES256GCM, AES128GCM} {
			for _, kt := range []KeyTransport{RSAPKCS1v15, RSAOAEP} {
				t.Run(fmt.Sprintf("opaque=%v/%v/oaep=%v", opaque, c, kt == RSAOAEP), func(t *testing.T) {
					s, err := NewSigner(SignConfig{Identity: signer, Opaque: opaque, Hash: crypto.SHA384})
					if err != nil {
						t.Fatal(err)
					}
					e, err := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{rcpt}, Self: signer.Cert, Cipher: c, KeyTransport: kt})
					if err != nil {
						t.Fatal(err)
					}
					msg := wrapAll(t, SignAndEncrypt(s, e), inner)
					for _, who := range []string{"recipient-rsa", "signer-rsa"} {
						m, err := Open(bytes.NewReader(msg), openOpts(t, who))
						if err != nil {
							t.Fatalf("%s: %v", who, err)
						}
						if string(m.Entity) != innerCRLF || !m.Encrypted || m.Cipher != c.String() || len(m.Signers) != 1 || !m.Signers[0].Equal(signer.Cert) {
							t.Fatalf("%s: got %+v", who, m)
						}
					}
				})
			}
		}
	}
}

// TestOpenReadsOpenSSLOutput checks that our helper accepts what
// `openssl cms -sign` and `openssl cms -encrypt` write.
func TestOpenReadsOpenSSLOutput(t *testing.T) {
	openssl := needOpenSSL(t)
	in := writeTemp(t, "inner.txt", []byte(innerCRLF))
	cert := func(n string) string { return filepath.Join(certDir, n+".pem") }
	key := func(n string) string { return filepath.Join(certDir, n+".key") }
	cases := []struct {
		name string
		args []string
		rcpt string
		enc  string
	}{
		{"sign-detached-rsa-sha256", []string{"-sign", "-signer", cert("signer-rsa"), "-inkey", key("signer-rsa"), "-md", "sha256"}, "", ""},
		{"sign-detached-rsa-pss-sha512-stream", []string{"-sign", "-stream", "-signer", cert("signer-rsa"), "-inkey", key("signer-rsa"), "-md", "sha512", "-keyopt", "rsa_padding_mode:pss"}, "", ""},
		{"sign-opaque-ecdsa-sha384", []string{"-sign", "-nodetach", "-signer", cert("signer-ecdsa"), "-inkey", key("signer-ecdsa"), "-md", "sha384"}, "", ""},
		{"sign-opaque-rsa-stream", []string{"-sign", "-nodetach", "-stream", "-signer", cert("signer-rsa"), "-inkey", key("signer-rsa")}, "", ""},
		{"encrypt-aes256-gcm", []string{"-encrypt", "-aes-256-gcm", cert("recipient-rsa")}, "recipient-rsa", "aes256-gcm"},
		{"encrypt-aes256-gcm-stream", []string{"-encrypt", "-stream", "-aes-256-gcm", cert("recipient-rsa")}, "recipient-rsa", "aes256-gcm"},
		{"encrypt-aes128-gcm", []string{"-encrypt", "-aes-128-gcm", cert("recipient-rsa")}, "recipient-rsa", "aes128-gcm"},
		{"encrypt-aes256-cbc", []string{"-encrypt", "-aes-256-cbc", cert("recipient-rsa")}, "recipient-rsa", "aes256-cbc"},
		{"encrypt-aes128-cbc-stream", []string{"-encrypt", "-stream", "-aes-128-cbc", cert("recipient-rsa")}, "recipient-rsa", "aes128-cbc"},
		{"encrypt-aes192-cbc", []string{"-encrypt", "-aes-192-cbc", cert("recipient-rsa")}, "recipient-rsa", "aes192-cbc"},
		{"encrypt-oaep-two-recipients", []string{"-encrypt", "-aes-256-cbc", "-recip", cert("signer-rsa"), "-recip", cert("recipient-rsa"), "-keyopt", "rsa_padding_mode:oaep"}, "recipient-rsa", "aes256-cbc"},
		{"encrypt-oaep-sha256", []string{"-encrypt", "-aes-256-gcm", "-recip", cert("recipient-rsa"), "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"}, "recipient-rsa", "aes256-gcm"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runOpenSSL(t, openssl, append([]string{"cms", "-in", in}, tc.args...)...)
			if err != nil {
				t.Fatal("openssl failed")
			}
			m, err := Open(bytes.NewReader(out), openOpts(t, tc.rcpt))
			if err != nil {
				t.Fatalf("Open: %v\n%s", err, out)
			}
			if string(m.Entity) != innerCRLF {
				t.Fatalf("entity %q, want %q", m.Entity, innerCRLF)
			}
			if tc.enc != "" && m.Cipher != tc.enc {
				t.Fatalf("cipher %q, want %q", m.Cipher, tc.enc)
			}
			if tc.enc == "" && len(m.Signers) != 1 {
				t.Fatalf("signers: %d", len(m.Signers))
			}
		})
	}

	t.Run("sign-then-encrypt", func(t *testing.T) {
		signed, err := runOpenSSL(t, openssl, "cms", "-sign", "-in", in, "-signer", cert("signer-ecdsa"), "-inkey", key("signer-ecdsa"))
		if err != nil {
			t.Fatal("openssl sign failed")
		}
		out, err := runOpenSSL(t, openssl, "cms", "-encrypt", "-aes-256-gcm", "-in", writeTemp(t, "signed.eml", signed), cert("recipient-rsa"))
		if err != nil {
			t.Fatal("openssl encrypt failed")
		}
		m, err := Open(bytes.NewReader(out), openOpts(t, "recipient-rsa"))
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Entity) != innerCRLF || len(m.Signers) != 1 || !m.Encrypted {
			t.Fatalf("got %+v", m)
		}
	})
}

// TestOpenSSLSignThenEncrypt has OpenSSL decrypt and then verify our
// signed-then-encrypted message.
func TestOpenSSLSignThenEncrypt(t *testing.T) {
	openssl := needOpenSSL(t)
	for _, opaque := range []bool{false, true} {
		t.Run(fmt.Sprintf("opaque=%v", opaque), func(t *testing.T) {
			s, err := NewSigner(SignConfig{Identity: loadIdentity(t, "signer-ecdsa"), Opaque: opaque})
			if err != nil {
				t.Fatal(err)
			}
			e, err := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{loadCert(t, "recipient-rsa"), loadCert(t, "signer-rsa")}, Cipher: AES256GCM, KeyTransport: RSAOAEP})
			if err != nil {
				t.Fatal(err)
			}
			msg := wrapAll(t, SignAndEncrypt(s, e), inner)
			dec, err := runOpenSSL(t, openssl, "cms", "-decrypt", "-in", writeTemp(t, "msg.eml", msg),
				"-recip", filepath.Join(certDir, "recipient-rsa.pem"), "-inkey", filepath.Join(certDir, "recipient-rsa.key"))
			if err != nil {
				t.Fatal("openssl decrypt failed")
			}
			out, err := runOpenSSL(t, openssl, "cms", "-verify", "-in", writeTemp(t, "signed.eml", dec), "-CAfile", filepath.Join(certDir, "ca.pem"))
			if err != nil {
				t.Fatalf("openssl verify failed:\n%s", dec)
			}
			if string(out) != innerCRLF {
				t.Fatalf("got %q", out)
			}
		})
	}
}

func TestTamperedContent(t *testing.T) {
	s, err := NewSigner(SignConfig{Identity: loadIdentity(t, "signer-rsa")})
	if err != nil {
		t.Fatal(err)
	}
	msg := wrapAll(t, s, inner)
	bad := bytes.Replace(msg, []byte("97%"), []byte("17%"), 1)
	if bytes.Equal(bad, msg) {
		t.Fatal("tamper did not change the message")
	}
	_, err = Open(bytes.NewReader(bad), openOpts(t, ""))
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("detached tamper: %v, want ErrDigestMismatch", err)
	}

	// Large bodies so that the middle of the base64 falls inside content.
	big := "Content-Type: text/plain\r\n\r\n" + strings.Repeat("all systems nominal, nothing to see here\r\n", 500)
	flipMiddle := func(msg []byte) []byte {
		out := append([]byte(nil), msg...)
		i := len(out) / 2
		for out[i] == '\r' || out[i] == '\n' {
			i++
		}
		if out[i] == 'A' {
			out[i] = 'B'
		} else {
			out[i] = 'A'
		}
		return out
	}
	so, _ := NewSigner(SignConfig{Identity: loadIdentity(t, "signer-rsa"), Opaque: true})
	_, err = Open(bytes.NewReader(flipMiddle(wrapAll(t, so, big))), openOpts(t, ""))
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("opaque tamper: %v, want ErrDigestMismatch", err)
	}
	e, _ := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{loadCert(t, "recipient-rsa")}, Cipher: AES256GCM})
	_, err = Open(bytes.NewReader(flipMiddle(wrapAll(t, e, big))), openOpts(t, "recipient-rsa"))
	if !errors.Is(err, ErrDecrypt) {
		t.Fatalf("gcm tamper: %v, want ErrDecrypt", err)
	}
}

func TestWrongKey(t *testing.T) {
	e, err := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{loadCert(t, "recipient-rsa")}})
	if err != nil {
		t.Fatal(err)
	}
	msg := wrapAll(t, e, inner)
	// Not a recipient at all.
	_, err = Open(bytes.NewReader(msg), openOpts(t, "signer-rsa"))
	if !errors.Is(err, ErrNoRecipient) {
		t.Fatalf("other recipient: %v, want ErrNoRecipient", err)
	}
	// The recipient's certificate with somebody else's key.
	o := openOpts(t, "")
	o.Identity = &Identity{Cert: loadCert(t, "recipient-rsa"), Key: loadIdentity(t, "signer-rsa").Key}
	_, err = Open(bytes.NewReader(msg), o)
	if !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong key: %v, want ErrDecrypt", err)
	}
	// No identity.
	_, err = Open(bytes.NewReader(msg), openOpts(t, ""))
	if !errors.Is(err, ErrNoRecipient) {
		t.Fatalf("no identity: %v, want ErrNoRecipient", err)
	}
}

func TestUntrustedSigner(t *testing.T) {
	s, _ := NewSigner(SignConfig{Identity: loadIdentity(t, "signer-ecdsa")})
	msg := wrapAll(t, s, inner)
	ca := newTestCA(t)
	var ce *CertError
	_, err := Open(bytes.NewReader(msg), OpenOptions{Roots: ca.Pool()})
	if !errors.Is(err, ErrUntrusted) || !errors.As(err, &ce) || ce.Role != "signer" {
		t.Fatalf("got %v, want *CertError ErrUntrusted", err)
	}
	// Signer certificate left out and not supplied.
	s2, _ := NewSigner(SignConfig{Identity: loadIdentity(t, "signer-ecdsa"), OmitCertificates: true})
	msg = wrapAll(t, s2, inner)
	_, err = Open(bytes.NewReader(msg), openOpts(t, ""))
	if !errors.Is(err, ErrNoSigner) {
		t.Fatalf("got %v, want ErrNoSigner", err)
	}
	// ... and accepted when the reader supplies it.
	o := openOpts(t, "")
	o.Certificates = []*x509.Certificate{loadCert(t, "signer-ecdsa")}
	if m, err := Open(bytes.NewReader(msg), o); err != nil || string(m.Entity) != innerCRLF {
		t.Fatalf("with the certificate supplied: %v", err)
	}
}

// TestChunkBoundaries round-trips entities whose canonical size sits on
// and around the streaming chunk size, where CBC padding and GCM tails are
// most likely to go wrong.
func TestChunkBoundaries(t *testing.T) {
	signer := loadIdentity(t, "signer-ecdsa")
	rcpt := loadCert(t, "recipient-rsa")
	const head = "Content-Type: application/octet-stream\r\n\r\n"
	for _, size := range []int{len(head), len(head) + 1, chunkSize - 1, chunkSize, chunkSize + 1, 2*chunkSize - 16, 2 * chunkSize} {
		body := head + strings.Repeat("x", size-len(head))
		for _, c := range []Cipher{AES128CBC, AES256GCM} {
			s, _ := NewSigner(SignConfig{Identity: signer, Opaque: true})
			e, _ := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{rcpt}, Cipher: c})
			m, err := Open(bytes.NewReader(wrapAll(t, SignAndEncrypt(s, e), body)), openOpts(t, "recipient-rsa"))
			if err != nil {
				t.Fatalf("size %d %v: %v", size, c, err)
			}
			if string(m.Entity) != body {
				t.Fatalf("size %d %v: content differs", size, c)
			}
		}
	}
}

// TestOpenLFDelivered opens messages whose line endings were converted to
// bare LF, as Postfix writes them into a Maildir.
func TestOpenLFDelivered(t *testing.T) {
	signer := loadIdentity(t, "signer-rsa")
	det, _ := NewSigner(SignConfig{Identity: signer})
	opq, _ := NewSigner(SignConfig{Identity: signer, Opaque: true})
	gcm, _ := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{loadCert(t, "recipient-rsa")}, Cipher: AES256GCM})
	for i, w := range []Wrapper{det, opq, SignAndEncrypt(det, gcm)} {
		msg := "Return-Path: <alerts@example.com>\nFrom: alerts@example.com\nMIME-Version: 1.0\n" +
			strings.ReplaceAll(string(wrapAll(t, w, inner)), "\r\n", "\n")
		m, err := Open(strings.NewReader(msg), openOpts(t, "recipient-rsa"))
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if string(m.Entity) != innerCRLF || len(m.Signers) != 1 {
			t.Fatalf("%d: got %q", i, m.Entity)
		}
	}
}
