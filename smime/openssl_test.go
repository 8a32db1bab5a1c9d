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

// TestOpenSSLVerifiesOurSignatures has `openssl cms -verify` check every
// signing variant this package writes.
func TestOpenSSLVerifiesOurSignatures(t *testing.T) {
	openssl := needOpenSSL(t)
	for _, signer := range []string{"signer-rsa", "signer-ecdsa"} {
		for _, pss := range []bool{false, true} {
			if pss && signer == "signer-ecdsa" {
				continue
			}
			for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
				for _, opaque := range []bool{false, true} {
					for _, omit := range []bool{false, true} {
						name := fmt.Sprintf("%s/pss=%v/%v/opaque=%v/omitcert=%v", signer, pss, h, opaque, omit)
						t.Run(name, func(t *testing.T) {
							s, err := NewSigner(SignConfig{Identity: loadIdentity(t, signer), Hash: h, RSAPSS: pss, Opaque: opaque, OmitCertificates: omit})
							if err != nil {
								t.Fatal(err)
							}
							msg := wrapAll(t, s, inner)
							in := writeTemp(t, "msg.eml", msg)
							args := []string{"cms", "-verify", "-in", in, "-CAfile", filepath.Join(certDir, "ca.pem")}
							if omit {
								args = append(args, "-certfile", filepath.Join(certDir, signer+".pem"))
							}
							out, err := runOpenSSL(t, openssl, args...)
							if err != nil {
								t.Fatalf("openssl rejected our message:\n%s", msg)
							}
							if string(out) != innerCRLF {
								t.Fatalf("openssl returned %q, want %q", out, innerCRLF)
							}
						})
					}
				}
			}
		}
	}
}

// TestOpenSSLDecryptsOurMessages has `openssl cms -decrypt` read every
// encryption variant, with several recipients.
func TestOpenSSLDecryptsOurMessages(t *testing.T) {
	openssl := needOpenSSL(t)
	rcpts := []string{"recipient-rsa", "signer-rsa"}
	for _, c := range []Cipher{AES256CBC, AES128CBC, AES256GCM, AES128GCM} {
		for _, kt := range []KeyTransport{RSAPKCS1v15, RSAOAEP} {
			t.Run(fmt.Sprintf("%v/oaep=%v", c, kt == RSAOAEP), func(t *testing.T) {
				e, err := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{loadCert(t, rcpts[0]), loadCert(t, rcpts[1])}, Cipher: c, KeyTransport: kt})
				if err != nil {
					t.Fatal(err)
				}
				msg := wrapAll(t, e, inner)
				in := writeTemp(t, "msg.eml", msg)
				for _, r := range rcpts {
					out, err := runOpenSSL(t, openssl, "cms", "-decrypt", "-in", in,
						"-recip", filepath.Join(certDir, r+".pem"), "-inkey", filepath.Join(certDir, r+".key"))
					if err != nil {
						t.Fatalf("openssl could not decrypt for %s:\n%s", r, msg)
					}
					if string(out) != innerCRLF {
						t.Fatalf("openssl (%s) returned %q", r, out)
					}
				}
			})
		}
	}
}

// TestOpenSSLLargeMessage crosses many chunk boundaries (and an odd tail)
// in every streamed structure.
func TestOpenSSLLargeMessage(t *testing.T) {
	openssl := needOpenSSL(t)
	var sb strings.Builder
	sb.WriteString("Content-Type: text/plain\r\n\r\n")
	for i := 0; sb.Len() < 5*chunkSize+777; i++ {
		fmt.Fprintf(&sb, "line %d: the quick brown fox jumps over the lazy dog\r\n", i)
	}
	body := sb.String()
	signer := loadIdentity(t, "signer-rsa")
	rcpt := loadCert(t, "recipient-rsa")
	for _, opaque := range []bool{false, true} {
		for _, c := range []Cipher{AES256CBC, AES256GCM} {
			t.Run(fmt.Sprintf("opaque=%v/%v", opaque, c), func(t *testing.T) {
				s, _ := NewSigner(SignConfig{Identity: signer, Opaque: opaque})
				e, err := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{rcpt}, Cipher: c})
				if err != nil {
					t.Fatal(err)
				}
				signed := wrapAll(t, s, body)
				out, err := runOpenSSL(t, openssl, "cms", "-verify", "-in", writeTemp(t, "s.eml", signed), "-CAfile", filepath.Join(certDir, "ca.pem"))
				if err != nil || string(out) != body {
					t.Fatalf("openssl verify: %v (%d bytes, want %d)", err, len(out), len(body))
				}
				enc := wrapAll(t, e, body)
				out, err = runOpenSSL(t, openssl, "cms", "-decrypt", "-in", writeTemp(t, "e.eml", enc),
					"-recip", filepath.Join(certDir, "recipient-rsa.pem"), "-inkey", filepath.Join(certDir, "recipient-rsa.key"))
				if err != nil || string(out) != body {
					t.Fatalf("openssl decrypt: %v (%d bytes, want %d)", err, len(out), len(body))
				}
			})
		}
	}
}

// TestOpenSSLECDH checks ECDH key agreement both ways: OpenSSL decrypts
// what we write for an EC recipient (next to an RSA one), and Open decrypts
// what OpenSSL writes for an EC recipient.
func TestOpenSSLECDH(t *testing.T) {
	openssl := needOpenSSL(t)
	for _, c := range []Cipher{AES256CBC, AES128CBC, AES256GCM, AES128GCM} {
		t.Run("ours/"+c.String(), func(t *testing.T) {
			e, err := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{loadCert(t, "recipient-rsa"), loadCert(t, "recipient-ecdsa")}, Cipher: c})
			if err != nil {
				t.Fatal(err)
			}
			msg := wrapAll(t, e, inner)
			out, err := runOpenSSL(t, openssl, "cms", "-decrypt", "-in", writeTemp(t, "e.eml", msg),
				"-recip", filepath.Join(certDir, "recipient-ecdsa.pem"), "-inkey", filepath.Join(certDir, "recipient-ecdsa.key"))
			if err != nil || string(out) != innerCRLF {
				t.Fatalf("openssl decrypt: %v %q", err, out)
			}
			for _, who := range []string{"recipient-ecdsa", "recipient-rsa"} {
				m, err := Open(bytes.NewReader(msg), OpenOptions{Identity: loadIdentity(t, who)})
				if err != nil || string(m.Entity) != innerCRLF {
					t.Fatalf("Open as %s: %v", who, err)
				}
			}
		})
	}
	in := writeTemp(t, "in.txt", []byte(innerCRLF))
	for _, args := range [][]string{
		{"-aes-256-cbc"}, {"-aes-256-gcm"}, {"-aes-128-cbc"},
		{"-aes-256-gcm", "-keyopt", "ecdh_kdf_md:sha256"},
	} {
		t.Run("openssl/"+strings.Join(args, " "), func(t *testing.T) {
			a := append([]string{"cms", "-encrypt", "-in", in}, args...)
			if len(args) > 1 {
				a = append(a[:len(a)-2], "-recip", filepath.Join(certDir, "recipient-ecdsa.pem"), args[1], args[2])
			} else {
				a = append(a, filepath.Join(certDir, "recipient-ecdsa.pem"))
			}
			out, err := runOpenSSL(t, openssl, a...)
			if err != nil {
				t.Fatal("openssl encrypt failed")
			}
			m, err := Open(bytes.NewReader(out), OpenOptions{Identity: loadIdentity(t, "recipient-ecdsa")})
			if err != nil || string(m.Entity) != innerCRLF {
				t.Fatalf("Open: %v\n%s", err, out)
			}
			// The wrong EC key fails clearly.
			_, err = Open(bytes.NewReader(out), OpenOptions{Identity: &Identity{Cert: loadCert(t, "recipient-ecdsa"), Key: loadIdentity(t, "signer-ecdsa").Key}})
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("wrong EC key: %v, want ErrDecrypt", err)
			}
		})
	}
}
