package smime

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"mailwarden/smime/internal/cms"
)

// Cipher is a content-encryption algorithm.
type Cipher int

const (
	// AES256CBC is AES-256-CBC in EnvelopedData: the default, readable by
	// every current mail client.
	AES256CBC Cipher = iota
	// AES128CBC is AES-128-CBC in EnvelopedData.
	AES128CBC
	// AES256GCM is AES-256-GCM in AuthEnvelopedData (RFC 5083/5084):
	// authenticated, read by OpenSSL 3 and recent clients.
	AES256GCM
	// AES128GCM is AES-128-GCM in AuthEnvelopedData.
	AES128GCM
)

var cipherNames = map[Cipher]string{AES256CBC: "aes256-cbc", AES128CBC: "aes128-cbc", AES256GCM: "aes256-gcm", AES128GCM: "aes128-gcm"}

func (c Cipher) String() string {
	if s, ok := cipherNames[c]; ok {
		return s
	}
	return fmt.Sprintf("Cipher(%d)", int(c))
}

// ParseCipher maps "aes256-gcm", "aes256-cbc", "aes128-cbc" or
// "aes128-gcm" to a Cipher; "" is AES256CBC.
func ParseCipher(s string) (Cipher, error) {
	if s == "" {
		return AES256CBC, nil
	}
	for c, n := range cipherNames {
		if n == s {
			return c, nil
		}
	}
	return 0, fmt.Errorf("smime: unknown cipher %q (want aes256-gcm, aes256-cbc or aes128-cbc)", s)
}

func (c Cipher) keyLen() int {
	if c == AES128CBC || c == AES128GCM {
		return 16
	}
	return 32
}

func (c Cipher) gcm() bool { return c == AES256GCM || c == AES128GCM }

// KeyTransport is how the content-encryption key is encrypted to each RSA
// recipient.
type KeyTransport int

const (
	// RSAPKCS1v15 is RSA PKCS#1 v1.5 key transport: the default, read by
	// every client.
	RSAPKCS1v15 KeyTransport = iota
	// RSAOAEP is RSAES-OAEP with SHA-256 and MGF1-SHA-256 (RFC 8017/3560).
	RSAOAEP
)

// EncryptConfig configures an Encrypter.
type EncryptConfig struct {
	// Recipients are the recipients' certificates. Required. RSA keys get
	// key transport (KeyTransport below); ECDSA keys on P-256, P-384 or
	// P-521 get ephemeral-static ECDH key agreement (RFC 5753) with the
	// X9.63 KDF and AES key wrap.
	Recipients []*x509.Certificate
	// Self, when non-nil, is added as one more recipient (typically the
	// signer's own certificate) so the sent copy stays readable.
	Self *x509.Certificate
	// Cipher is the content cipher; the zero value is AES256CBC.
	Cipher Cipher
	// KeyTransport is the RSA key transport; the zero value is RSAPKCS1v15.
	KeyTransport KeyTransport
	// Rand is the randomness source; nil means crypto/rand.Reader.
	Rand io.Reader
	// Now is the time certificates are checked against; nil means time.Now.
	Now func() time.Time
}

// Encrypter writes S/MIME enveloped entities. It is safe for concurrent
// use; each Wrap uses a fresh content-encryption key.
type Encrypter struct {
	cfg        EncryptConfig
	recipients []*x509.Certificate
	hasECDH    bool
}

// NewEncrypter validates cfg: each recipient certificate must hold an RSA
// or EC key, be valid now and allow key encipherment (RSA) or key agreement
// (EC) for e-mail. Failures are
// *CertError values joined with errors.Join.
func NewEncrypter(cfg EncryptConfig) (*Encrypter, error) {
	if _, ok := cipherNames[cfg.Cipher]; !ok {
		return nil, fmt.Errorf("smime: %w: %v", ErrUnsupported, cfg.Cipher)
	}
	if cfg.KeyTransport != RSAPKCS1v15 && cfg.KeyTransport != RSAOAEP {
		return nil, fmt.Errorf("smime: %w: key transport %d", ErrUnsupported, cfg.KeyTransport)
	}
	rcpts := append([]*x509.Certificate(nil), cfg.Recipients...)
	if cfg.Self != nil {
		rcpts = append(rcpts, cfg.Self)
	}
	if len(rcpts) == 0 {
		return nil, errors.New("smime: EncryptConfig needs at least one recipient certificate")
	}
	now := time.Now()
	if cfg.Now != nil {
		now = cfg.Now()
	}
	var errs []error
	for _, c := range rcpts {
		errs = append(errs, checkRecipient(c, now, nil)...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	e := &Encrypter{cfg: cfg, recipients: rcpts}
	for _, c := range rcpts {
		if _, ok := c.PublicKey.(*ecdsa.PublicKey); ok {
			e.hasECDH = true
		}
	}
	return e, nil
}

func (e *Encrypter) rand() io.Reader {
	if e.cfg.Rand != nil {
		return e.cfg.Rand
	}
	return rand.Reader
}

func oaepAlgID() []byte {
	hid := algID(cms.OIDSHA256, false)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(cms.OIDRSAOAEP)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(hid) })
			b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(cms.OIDMGF1)
					b.AddBytes(hid)
				})
			})
		})
	})
	return b.BytesOrPanic()
}

// recipientInfos returns the DER contents of the RecipientInfos SET.
func (e *Encrypter) recipientInfos(cek []byte) ([]byte, error) {
	var out []byte
	for _, c := range e.recipients {
		if _, ok := c.PublicKey.(*ecdsa.PublicKey); ok {
			ri, err := kari(c, cek, e.rand())
			if err != nil {
				return nil, err
			}
			out = append(out, ri...)
			continue
		}
		pub := c.PublicKey.(*rsa.PublicKey)
		var ek, alg []byte
		var err error
		if e.cfg.KeyTransport == RSAOAEP {
			ek, err = rsa.EncryptOAEP(sha256.New(), e.rand(), pub, cek, nil)
			alg = oaepAlgID()
		} else {
			//lint:ignore SA1019 RSA PKCS#1 v1.5 key transport is what RFC 8551 (2.3) requires every S/MIME agent to read, and what OpenSSL and mail clients use by default; RSA-OAEP is KeyTransport RSAOAEP.
			ek, err = rsa.EncryptPKCS1v15(e.rand(), pub, cek)
			alg = algID(cms.OIDRSAEncryption, true)
		}
		if err != nil {
			return nil, fmt.Errorf("smime: key transport: %w", err)
		}
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(0)
			b.AddBytes(issuerAndSerial(c.RawIssuer, c.SerialNumber.Bytes()))
			b.AddBytes(alg)
			b.AddASN1OctetString(ek)
		})
		ri, err := b.Bytes()
		if err != nil {
			return nil, err
		}
		out = append(out, ri...)
	}
	return out, nil
}

// Wrap starts an encrypted entity on dst; see Wrapper. It fails with a
// *CertError if a recipient certificate is no longer valid. The content is
// canonicalised (CRLF), encrypted and written as BER chunks inside base64
// as it arrives; memory use does not depend on the message size.
func (e *Encrypter) Wrap(dst io.Writer) (io.WriteCloser, error) {
	now := time.Now()
	if e.cfg.Now != nil {
		now = e.cfg.Now()
	}
	for _, rc := range e.recipients {
		if err := checkTime("recipient", rc, now); err != nil {
			return nil, err
		}
	}
	c := e.cfg.Cipher
	cek := make([]byte, c.keyLen())
	if _, err := io.ReadFull(e.rand(), cek); err != nil {
		return nil, fmt.Errorf("smime: random: %w", err)
	}
	ris, err := e.recipientInfos(cek)
	if err != nil {
		return nil, err
	}
	ew := &encWriter{}
	smimeType := "enveloped-data"
	outerOID := cms.OIDEnvelopedData
	var contentAlg []byte
	if c.gcm() {
		smimeType = "authEnveloped-data"
		outerOID = cms.OIDAuthEnvelopedData
		contentAlg, err = e.startGCM(ew, cek)
	} else {
		contentAlg, err = e.startCBC(ew, cek)
	}
	if err != nil {
		return nil, err
	}
	clear(cek)

	hdr := "Content-Type: application/pkcs7-mime; smime-type=" + smimeType + "; name=smime.p7m\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=smime.p7m\r\n\r\n"
	if _, err := io.WriteString(dst, hdr); err != nil {
		return nil, err
	}
	b64 := newB64Writer(dst)
	// ContentInfo { envelopedData|authEnvelopedData, [0] { SEQUENCE {
	//   version 0, RecipientInfos, EncryptedContentInfo { data, alg,
	//   [0] IMPLICIT OCTET STRING (chunked) ...
	var p []byte
	p = cms.AppendIndefinite(p, cms.TagSequence)
	p = appendOID(p, outerOID)
	p = cms.AppendIndefinite(p, cms.TagCtx0)
	p = cms.AppendIndefinite(p, cms.TagSequence)
	version := byte(0)
	if !c.gcm() && e.hasECDH {
		version = 2 // RFC 5652 section 6.1: a RecipientInfo other than version 0
	}
	p = append(p, cms.TagInteger, 1, version)
	p = cms.AppendHeader(p, cms.TagSet, len(ris))
	p = append(p, ris...)
	p = cms.AppendIndefinite(p, cms.TagSequence)
	p = appendOID(p, cms.OIDData)
	p = append(p, contentAlg...)
	p = cms.AppendIndefinite(p, cms.TagCtx0)
	if _, err := b64.Write(p); err != nil {
		return nil, err
	}
	ew.b64 = b64
	ew.chunks = newChunker(b64, ew.encrypt)
	ew.canon = newCanonWriter(ew.chunks, false)
	return ew, nil
}

// startGCM sets ew up for AES-GCM with a fresh nonce (RFC 5084) and
// returns the content-encryption AlgorithmIdentifier.
func (e *Encrypter) startGCM(ew *encWriter, cek []byte) ([]byte, error) {
	nonce := make([]byte, 12)
	if _, err := io.ReadFull(e.rand(), nonce); err != nil {
		return nil, fmt.Errorf("smime: random: %w", err)
	}
	g, err := cms.NewGCMEncrypter(cek, nonce)
	if err != nil {
		return nil, err
	}
	ew.gcm = g
	oid := cms.OIDAES256GCM
	if e.cfg.Cipher == AES128GCM {
		oid = cms.OIDAES128GCM
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1OctetString(nonce)
			b.AddASN1Int64(16)
		})
	})
	return b.BytesOrPanic(), nil
}

// startCBC sets ew up for AES-CBC with a fresh IV and returns the
// content-encryption AlgorithmIdentifier.
func (e *Encrypter) startCBC(ew *encWriter, cek []byte) ([]byte, error) {
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(e.rand(), iv); err != nil {
		return nil, fmt.Errorf("smime: random: %w", err)
	}
	ew.cbc = cipher.NewCBCEncrypter(block, iv)
	oid := cms.OIDAES256CBC
	if e.cfg.Cipher == AES128CBC {
		oid = cms.OIDAES128CBC
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1OctetString(iv)
	})
	return b.BytesOrPanic(), nil
}

type encWriter struct {
	cbc    cipher.BlockMode
	gcm    *cms.GCMEncrypter
	b64    *b64Writer
	chunks *chunker
	canon  *canonWriter
	done   bool
	err    error
}

func (w *encWriter) encrypt(b []byte) {
	if w.gcm != nil {
		w.gcm.Encrypt(b, b)
		return
	}
	w.cbc.CryptBlocks(b, b)
}

func (w *encWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("smime: write after Close")
	}
	return w.canon.Write(p)
}

func (w *encWriter) Close() error {
	if w.done {
		return w.err
	}
	w.done = true
	w.err = w.close()
	return w.err
}

func (w *encWriter) close() error {
	if err := w.canon.Close(); err != nil {
		return err
	}
	err := w.chunks.finish(func(b []byte) []byte {
		if w.gcm != nil {
			return w.gcm.Encrypt(b, b)
		}
		pad := aes.BlockSize - len(b)%aes.BlockSize
		for range pad {
			b = append(b, byte(pad))
		}
		w.cbc.CryptBlocks(b, b)
		return b
	})
	if err != nil {
		return err
	}
	// Close [0] encryptedContent and EncryptedContentInfo.
	tail := []byte{0, 0, 0, 0}
	if w.gcm != nil {
		tail = cms.AppendHeader(tail, cms.TagOctetString, 16)
		tail = append(tail, w.gcm.Tag()...)
	}
	tail = append(tail, 0, 0, 0, 0, 0, 0) // SEQUENCE, [0], ContentInfo
	if _, err := w.b64.Write(tail); err != nil {
		return err
	}
	return w.b64.Close()
}
