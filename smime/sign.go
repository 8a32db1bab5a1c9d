package smime

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	_ "crypto/sha1" // registered for the legacy switch only
	_ "crypto/sha256"
	_ "crypto/sha512"

	"mailwarden/smime/internal/cms"
)

// SignConfig configures a Signer. The zero value of every field but
// Identity is a safe default.
type SignConfig struct {
	// Identity is the signing certificate and key (required).
	Identity *Identity
	// Hash is crypto.SHA256 (the default when zero), crypto.SHA384 or
	// crypto.SHA512. crypto.SHA1 needs AllowSHA1.
	Hash crypto.Hash
	// AllowSHA1 is the explicit legacy switch for SHA-1 signatures.
	AllowSHA1 bool
	// RSAPSS signs with RSASSA-PSS (salt length = hash length) instead of
	// RSA PKCS#1 v1.5. Ignored for ECDSA keys.
	RSAPSS bool
	// Opaque writes application/pkcs7-mime; smime-type=signed-data (the
	// content inside the signature) instead of multipart/signed.
	Opaque bool
	// OmitCertificates leaves the signer certificate and chain out of the
	// message ("attach certificate" off). The default attaches them.
	OmitCertificates bool
	// Rand is the randomness source; nil means crypto/rand.Reader.
	Rand io.Reader
	// Now returns the signing time and the time certificates are checked
	// against; nil means time.Now.
	Now func() time.Time
}

// Signer writes S/MIME signed entities. It is safe for concurrent use.
type Signer struct {
	cfg      SignConfig
	digestID []byte // DER AlgorithmIdentifier
	sigID    []byte
	certs    []byte // DER contents of the certificates [0] SET, nil if omitted
	sid      []byte // DER IssuerAndSerialNumber
}

// ParseHash maps "sha256", "sha-256", "SHA384"... to a crypto.Hash; "" is
// SHA-256. "sha1" parses, but NewSigner accepts it only with AllowSHA1.
func ParseHash(s string) (crypto.Hash, error) {
	switch strings.ReplaceAll(strings.ToLower(s), "-", "") {
	case "", "sha256":
		return crypto.SHA256, nil
	case "sha384":
		return crypto.SHA384, nil
	case "sha512":
		return crypto.SHA512, nil
	case "sha1":
		return crypto.SHA1, nil
	}
	return 0, fmt.Errorf("smime: unknown hash %q (want sha256, sha384 or sha512)", s)
}

func digestOID(h crypto.Hash) (asn1.ObjectIdentifier, string) {
	switch h {
	case crypto.SHA1:
		return cms.OIDSHA1, "sha-1"
	case crypto.SHA256:
		return cms.OIDSHA256, "sha-256"
	case crypto.SHA384:
		return cms.OIDSHA384, "sha-384"
	case crypto.SHA512:
		return cms.OIDSHA512, "sha-512"
	}
	return nil, ""
}

// NewSigner validates cfg and returns a Signer. The identity is checked
// as Verify does (key matches certificate, certificate valid now, usage
// allows signing); failures are *CertError values joined with errors.Join.
func NewSigner(cfg SignConfig) (*Signer, error) {
	if cfg.Hash == 0 {
		cfg.Hash = crypto.SHA256
	}
	if cfg.Hash == crypto.SHA1 && !cfg.AllowSHA1 {
		return nil, ErrWeakHash
	}
	oid, _ := digestOID(cfg.Hash)
	if oid == nil {
		return nil, fmt.Errorf("smime: %w: hash %v", ErrUnsupported, cfg.Hash)
	}
	if cfg.Identity == nil {
		return nil, errors.New("smime: SignConfig.Identity is required")
	}
	now := time.Now()
	if cfg.Now != nil {
		now = cfg.Now()
	}
	if errs := checkSigner(cfg.Identity, now, nil); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s := &Signer{cfg: cfg}
	s.digestID = algID(oid, false)
	switch cfg.Identity.Key.Public().(type) {
	case *rsa.PublicKey:
		if cfg.RSAPSS {
			s.sigID = pssAlgID(cfg.Hash)
		} else {
			s.sigID = algID(cms.OIDRSAEncryption, true)
		}
	case *ecdsa.PublicKey:
		var o asn1.ObjectIdentifier
		switch cfg.Hash {
		case crypto.SHA1:
			o = cms.OIDECDSAWithSHA1
		case crypto.SHA256:
			o = cms.OIDECDSAWithSHA256
		case crypto.SHA384:
			o = cms.OIDECDSAWithSHA384
		case crypto.SHA512:
			o = cms.OIDECDSAWithSHA512
		}
		s.sigID = algID(o, false)
	default:
		return nil, fmt.Errorf("smime: %w: signer key %T", ErrUnsupportedKey, cfg.Identity.Key.Public())
	}
	if !cfg.OmitCertificates {
		var b []byte
		b = append(b, cfg.Identity.Cert.Raw...)
		for _, c := range cfg.Identity.Chain {
			b = append(b, c.Raw...)
		}
		s.certs = b
	}
	s.sid = issuerAndSerial(cfg.Identity.Cert.RawIssuer, cfg.Identity.Cert.SerialNumber.Bytes())
	return s, nil
}

func algID(oid asn1.ObjectIdentifier, null bool) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if null {
			b.AddASN1NULL()
		}
	})
	return b.BytesOrPanic()
}

func pssAlgID(h crypto.Hash) []byte {
	oid, _ := digestOID(h)
	hid := algID(oid, false)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(cms.OIDRSAPSS)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(hid) })
			b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(cms.OIDMGF1)
					b.AddBytes(hid)
				})
			})
			b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1Int64(int64(h.Size()))
			})
		})
	})
	return b.BytesOrPanic()
}

func issuerAndSerial(rawIssuer, serial []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(rawIssuer)
		b.AddASN1(cbasn1.INTEGER, func(b *cryptobyte.Builder) {
			// Positive serial: add a leading zero if the top bit is set.
			if len(serial) == 0 || serial[0]&0x80 != 0 {
				b.AddUint8(0)
			}
			b.AddBytes(serial)
		})
	})
	return b.BytesOrPanic()
}

func (s *Signer) rand() io.Reader {
	if s.cfg.Rand != nil {
		return s.cfg.Rand
	}
	return rand.Reader
}

func (s *Signer) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

// Micalg returns the multipart/signed micalg value for the configured hash.
func (s *Signer) Micalg() string {
	_, m := digestOID(s.cfg.Hash)
	return m
}

// Wrap starts a signed entity on dst; see Wrapper. It fails with a
// *CertError if the signer certificate is no longer valid. Detached signing
// (the default) writes the canonicalised inner entity straight to dst while
// hashing it, and refuses 8-bit content and over-long lines with a
// *ContentError so that no relay can break the signature; opaque signing
// streams the content as BER chunks inside base64.
func (s *Signer) Wrap(dst io.Writer) (io.WriteCloser, error) {
	// A long-lived Signer may outlive its certificate.
	if err := checkTime("signer", s.cfg.Identity.Cert, s.now()); err != nil {
		return nil, err
	}
	if s.cfg.Opaque {
		return s.wrapOpaque(dst)
	}
	var rnd [16]byte
	if _, err := io.ReadFull(s.rand(), rnd[:]); err != nil {
		return nil, fmt.Errorf("smime: random: %w", err)
	}
	boundary := "----=_smime_" + hex.EncodeToString(rnd[:])
	hdr := "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=" + s.Micalg() + ";\r\n" +
		" boundary=\"" + boundary + "\"\r\n\r\n" +
		"This is an S/MIME signed message\r\n\r\n--" + boundary + "\r\n"
	if _, err := io.WriteString(dst, hdr); err != nil {
		return nil, err
	}
	h := s.cfg.Hash.New()
	d := &detachedWriter{s: s, dst: dst, h: h, boundary: boundary}
	d.canon = newCanonWriter(io.MultiWriter(h, dst), true)
	return d, nil
}

type detachedWriter struct {
	s        *Signer
	dst      io.Writer
	h        hash.Hash
	canon    *canonWriter
	boundary string
	done     bool
	err      error
}

func (d *detachedWriter) Write(p []byte) (int, error) {
	if d.done {
		return 0, errors.New("smime: write after Close")
	}
	n, err := d.canon.Write(p)
	if err != nil {
		d.err = err
	}
	return n, err
}

func (d *detachedWriter) Close() error {
	if d.done {
		return d.err
	}
	d.done = true
	if d.err != nil {
		return d.err
	}
	if err := d.canon.Close(); err != nil {
		d.err = err
		return err
	}
	sd, err := d.s.signedData(d.h.Sum(nil), nil)
	if err != nil {
		d.err = err
		return err
	}
	part := "\r\n--" + d.boundary + "\r\n" +
		"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=smime.p7s\r\n\r\n"
	if _, err := io.WriteString(d.dst, part); err != nil {
		d.err = err
		return err
	}
	b := newB64Writer(d.dst)
	b.Write(sd)
	if err := b.Close(); err != nil {
		d.err = err
		return err
	}
	_, err = io.WriteString(d.dst, "\r\n--"+d.boundary+"--\r\n")
	d.err = err
	return err
}

// signedData returns the DER ContentInfo of a detached SignedData, or, when
// opaqueTail is non-nil, the tail of an opaque one after its content
// (certificates, signerInfos and the closing end-of-contents markers).
func (s *Signer) signedData(digest []byte, opaqueTail []byte) ([]byte, error) {
	si, err := s.signerInfo(digest)
	if err != nil {
		return nil, err
	}
	if opaqueTail != nil {
		b := opaqueTail
		if s.certs != nil {
			b = cms.AppendHeader(b, cms.TagCtx0, len(s.certs))
			b = append(b, s.certs...)
		}
		b = cms.AppendHeader(b, cms.TagSet, len(si))
		b = append(b, si...)
		return append(b, 0, 0, 0, 0, 0, 0), nil // SignedData, [0], ContentInfo
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(cms.OIDSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(s.digestID) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(cms.OIDData) })
				if s.certs != nil {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(s.certs) })
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(si) })
			})
		})
	})
	return b.Bytes()
}

// smimeCapabilities lists what this package can decrypt, strongest first.
func smimeCapabilities() []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, o := range []asn1.ObjectIdentifier{cms.OIDAES256GCM, cms.OIDAES128GCM, cms.OIDAES256CBC, cms.OIDAES128CBC} {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(o) })
		}
	})
	return b.BytesOrPanic()
}

func attribute(oid asn1.ObjectIdentifier, value []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(value) })
	})
	return b.BytesOrPanic()
}

func asn1Time(t time.Time) []byte {
	t = t.UTC()
	var b cryptobyte.Builder
	if t.Year() >= 1950 && t.Year() < 2050 {
		b.AddASN1UTCTime(t)
	} else {
		b.AddASN1GeneralizedTime(t)
	}
	return b.BytesOrPanic()
}

func (s *Signer) signerInfo(digest []byte) ([]byte, error) {
	var ct, md cryptobyte.Builder
	ct.AddASN1ObjectIdentifier(cms.OIDData)
	md.AddASN1OctetString(digest)
	attrs := [][]byte{
		attribute(cms.OIDAttrContentType, ct.BytesOrPanic()),
		attribute(cms.OIDAttrSigningTime, asn1Time(s.now())),
		attribute(cms.OIDAttrMessageDigest, md.BytesOrPanic()),
		attribute(cms.OIDAttrSMIMECapabilities, smimeCapabilities()),
	}
	// DER: SET OF sorted by encoding.
	sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) < 0 })
	content := bytes.Join(attrs, nil)
	signed := append(cms.AppendHeader(nil, cms.TagSet, len(content)), content...)

	h := s.cfg.Hash.New()
	h.Write(signed)
	sum := h.Sum(nil)
	var opts crypto.SignerOpts = s.cfg.Hash
	if _, ok := s.cfg.Identity.Key.Public().(*rsa.PublicKey); ok && s.cfg.RSAPSS {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: s.cfg.Hash}
	}
	sig, err := s.cfg.Identity.Key.Sign(s.rand(), sum, opts)
	if err != nil {
		return nil, fmt.Errorf("smime: signing: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddBytes(s.sid)
		b.AddBytes(s.digestID)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(content) })
		b.AddBytes(s.sigID)
		b.AddASN1OctetString(sig)
	})
	return b.Bytes()
}

const opaqueHeader = "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"Content-Disposition: attachment; filename=smime.p7m\r\n\r\n"

func (s *Signer) wrapOpaque(dst io.Writer) (io.WriteCloser, error) {
	if _, err := io.WriteString(dst, opaqueHeader); err != nil {
		return nil, err
	}
	b64 := newB64Writer(dst)
	// ContentInfo { signedData, [0] { SignedData { 1, {digestAlg},
	//   EncapsulatedContentInfo { data, [0] { OCTET STRING (chunked) ...
	var p []byte
	p = cms.AppendIndefinite(p, cms.TagSequence)
	p = appendOID(p, cms.OIDSignedData)
	p = cms.AppendIndefinite(p, cms.TagCtx0)
	p = cms.AppendIndefinite(p, cms.TagSequence)
	p = append(p, cms.TagInteger, 1, 1)
	p = cms.AppendHeader(p, cms.TagSet, len(s.digestID))
	p = append(p, s.digestID...)
	p = cms.AppendIndefinite(p, cms.TagSequence)
	p = appendOID(p, cms.OIDData)
	p = cms.AppendIndefinite(p, cms.TagCtx0)
	p = cms.AppendIndefinite(p, cms.TagOctetString)
	if _, err := b64.Write(p); err != nil {
		return nil, err
	}
	h := s.cfg.Hash.New()
	o := &opaqueWriter{s: s, b64: b64, h: h}
	o.chunks = newChunker(b64, nil)
	o.canon = newCanonWriter(io.MultiWriter(h, o.chunks), false)
	return o, nil
}

func appendOID(b []byte, oid asn1.ObjectIdentifier) []byte {
	der, err := asn1.Marshal(oid)
	if err != nil {
		panic(err)
	}
	return append(b, der...)
}

type opaqueWriter struct {
	s      *Signer
	b64    *b64Writer
	h      hash.Hash
	chunks *chunker
	canon  *canonWriter
	done   bool
	err    error
}

func (o *opaqueWriter) Write(p []byte) (int, error) {
	if o.done {
		return 0, errors.New("smime: write after Close")
	}
	return o.canon.Write(p)
}

func (o *opaqueWriter) Close() error {
	if o.done {
		return o.err
	}
	o.done = true
	o.err = o.close()
	return o.err
}

func (o *opaqueWriter) close() error {
	if err := o.canon.Close(); err != nil {
		return err
	}
	if err := o.chunks.finish(nil); err != nil {
		return err
	}
	// Close OCTET STRING, [0] eContent, EncapsulatedContentInfo.
	tail, err := o.s.signedData(o.h.Sum(nil), []byte{0, 0, 0, 0, 0, 0})
	if err != nil {
		return err
	}
	if _, err := o.b64.Write(tail); err != nil {
		return err
	}
	return o.b64.Close()
}
