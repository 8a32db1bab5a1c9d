package smime

import (
	"bytes"
	"crypto/x509"
	"testing"
)

// FuzzOpen feeds mutated S/MIME messages to Open. The oracle: no panic,
// and any success returns exactly the original inner entity (a mutation
// that changes the content must be caught by the digest, signature or
// GCM tag; CBC without a signature layer is not authenticated and is left
// out of the seeds for that reason).
func FuzzOpen(f *testing.F) {
	signer := loadIdentity(f, "signer-ecdsa")
	rcpt := loadCert(f, "recipient-ecdsa")
	det, _ := NewSigner(SignConfig{Identity: signer})
	opq, _ := NewSigner(SignConfig{Identity: signer, Opaque: true})
	gcm, _ := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{rcpt, loadCert(f, "recipient-rsa")}, Cipher: AES128GCM})
	cbc, _ := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{rcpt}, Cipher: AES128CBC})
	for _, w := range []Wrapper{det, opq, gcm, SignAndEncrypt(det, cbc), SignAndEncrypt(opq, gcm)} {
		f.Add(wrapAll(f, w, inner))
	}
	o := openOpts(f, "recipient-ecdsa")
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, err := Open(bytes.NewReader(msg), o)
		if err != nil {
			return
		}
		if len(m.Signers) == 0 && !(m.Encrypted && m.Cipher == "aes128-gcm") {
			return // no authenticated layer left: nothing to hold it to
		}
		if string(m.Entity) != innerCRLF {
			t.Fatalf("authenticated layer accepted altered content %q", m.Entity)
		}
	})
}
