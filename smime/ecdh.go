package smime

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"mailwarden/smime/internal/cms"
)

// ECDH recipients use ephemeral-static ECDH (RFC 5753 "standard" scheme,
// the one OpenSSL and current clients use) with the ANSI X9.63 KDF and AES
// key wrap (RFC 3394, RFC 3565): one KeyAgreeRecipientInfo and one fresh
// ephemeral key per recipient.

func kdfFor(curve elliptic.Curve) (asn1.ObjectIdentifier, crypto.Hash) {
	switch curve {
	case elliptic.P384():
		return cms.OIDKDFSHA384, crypto.SHA384
	case elliptic.P521():
		return cms.OIDKDFSHA512, crypto.SHA512
	}
	return cms.OIDKDFSHA256, crypto.SHA256
}

func wrapOIDFor(keyLen int) asn1.ObjectIdentifier {
	if keyLen == 16 {
		return cms.OIDAES128Wrap
	}
	return cms.OIDAES256Wrap
}

// eccSharedInfo is the DER ECC-CMS-SharedInfo of RFC 5753 section 7.2.
func eccSharedInfo(wrapAlg, ukm []byte, keyLen int) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(wrapAlg)
		if ukm != nil {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1OctetString(ukm) })
		}
		b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			var n [4]byte
			binary.BigEndian.PutUint32(n[:], uint32(keyLen*8))
			b.AddASN1OctetString(n[:])
		})
	})
	return b.BytesOrPanic()
}

// kari returns a DER [1] KeyAgreeRecipientInfo delivering cek to c.
func kari(c *x509.Certificate, cek []byte, rnd io.Reader) ([]byte, error) {
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("smime: %w: %T", ErrUnsupportedKey, c.PublicKey)
	}
	rpub, err := pub.ECDH()
	if err != nil {
		return nil, fmt.Errorf("smime: %w: %w", ErrUnsupportedKey, err)
	}
	eph, err := rpub.Curve().GenerateKey(rnd)
	if err != nil {
		return nil, fmt.Errorf("smime: ephemeral key: %w", err)
	}
	z, err := eph.ECDH(rpub)
	if err != nil {
		return nil, fmt.Errorf("smime: ecdh: %w", err)
	}
	kdfOID, h := kdfFor(pub.Curve)
	wrapAlg := algID(wrapOIDFor(len(cek)), false)
	kek := cms.X963KDF(h.New, z, eccSharedInfo(wrapAlg, nil, len(cek)), len(cek))
	ek, err := cms.Wrap(kek, cek)
	clear(kek)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
		b.AddASN1Int64(3)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddBytes(algID(cms.OIDECPublicKey, false))
				b.AddASN1BitString(eph.PublicKey().Bytes())
			})
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(kdfOID)
			b.AddBytes(wrapAlg)
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(issuerAndSerial(c.RawIssuer, c.SerialNumber.Bytes()))
				b.AddASN1OctetString(ek)
			})
		})
	})
	return b.Bytes()
}

// unwrapKARI recovers the content-encryption key from a
// KeyAgreeRecipientInfo addressed to id. It returns (nil, nil) when ri has
// no key for id.
func unwrapKARI(ri *cms.Node, id *Identity) ([]byte, error) {
	i := 1
	orig := ri.Child(i)
	if !orig.Is(2, 0, true) || !orig.Child(0).Is(2, 1, true) || len(orig.Child(0).Children) < 2 {
		return nil, fmt.Errorf("%w: key agreement originator must be an originatorKey", ErrUnsupported)
	}
	point := orig.Child(0).Child(1)
	if !point.Is(0, 3, false) || len(point.Content) < 2 {
		return nil, fmt.Errorf("%w: originator public key", ErrMalformed)
	}
	i++
	var ukm []byte
	if n := ri.Child(i); n.Is(2, 1, true) && n.Child(0) != nil {
		ukm = n.Child(0).Bytes()
		i++
	}
	alg, err := parseAlg(ri.Child(i))
	if err != nil {
		return nil, err
	}
	reks := ri.Child(i + 1)
	if !reks.Is(0, 16, true) {
		return nil, fmt.Errorf("%w: RecipientEncryptedKeys", ErrMalformed)
	}
	var ek []byte
	for _, rek := range reks.Children {
		if len(rek.Children) < 2 {
			continue
		}
		if c, err := findSigner(rek.Child(0), []*x509.Certificate{id.Cert}); err == nil && c != nil {
			ek = rek.Child(1).Bytes()
			break
		}
	}
	if ek == nil {
		return nil, nil
	}
	priv, ok := id.Key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: key agreement needs an EC private key, have %T", ErrUnsupportedKey, id.Key)
	}
	epriv, err := priv.ECDH()
	if err != nil {
		return nil, fmt.Errorf("smime: %w: %w", ErrUnsupportedKey, err)
	}
	opub, err := epriv.Curve().NewPublicKey(point.Content[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: originator public key: %w", ErrMalformed, err)
	}
	z, err := epriv.ECDH(opub)
	if err != nil {
		return nil, fmt.Errorf("%w: ecdh: %w", ErrDecrypt, err)
	}
	var h crypto.Hash
	switch a := alg.Algorithm; {
	case a.Equal(cms.OIDKDFSHA1):
		h = crypto.SHA1
	case a.Equal(cms.OIDKDFSHA224):
		h = crypto.SHA224
	case a.Equal(cms.OIDKDFSHA256):
		h = crypto.SHA256
	case a.Equal(cms.OIDKDFSHA384):
		h = crypto.SHA384
	case a.Equal(cms.OIDKDFSHA512):
		h = crypto.SHA512
	default:
		return nil, fmt.Errorf("%w: key agreement scheme %v (only standard ECDH with the X9.63 KDF)", ErrUnsupported, a)
	}
	var wrap pkix.AlgorithmIdentifier
	if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &wrap); err != nil {
		return nil, fmt.Errorf("%w: key wrap algorithm: %w", ErrMalformed, err)
	}
	var keyLen int
	switch {
	case wrap.Algorithm.Equal(cms.OIDAES128Wrap):
		keyLen = 16
	case wrap.Algorithm.Equal(cms.OIDAES192Wrap):
		keyLen = 24
	case wrap.Algorithm.Equal(cms.OIDAES256Wrap):
		keyLen = 32
	default:
		return nil, fmt.Errorf("%w: key wrap %v", ErrUnsupported, wrap.Algorithm)
	}
	kek := cms.X963KDF(h.New, z, eccSharedInfo(alg.Parameters.FullBytes, ukm, keyLen), keyLen)
	cek, err := cms.Unwrap(kek, ek)
	if err != nil {
		return nil, fmt.Errorf("%w: content-encryption key: %w", ErrDecrypt, err)
	}
	return cek, nil
}
