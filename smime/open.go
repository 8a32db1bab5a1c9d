package smime

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/textproto"
	"strings"
	"time"

	"mailwarden/smime/internal/cms"
)

// OpenOptions configures Open.
type OpenOptions struct {
	// Roots are the trust anchors for signer certificates; nil means the
	// system roots.
	Roots *x509.CertPool
	// Certificates are extra certificates: signers that did not attach
	// theirs, and intermediates.
	Certificates []*x509.Certificate
	// Identity decrypts enveloped messages (RSA key transport or EC key
	// agreement). Nil makes
	// encrypted messages fail with ErrNoRecipient.
	Identity *Identity
	// Now is the time signer certificates are checked against; nil means
	// time.Now.
	Now func() time.Time
	// AllowSHA1 accepts SHA-1 signatures (legacy).
	AllowSHA1 bool
}

// Message is what Open found.
type Message struct {
	// Entity is the innermost MIME entity (header lines, blank line, body)
	// after all signature and encryption layers were removed, with CRLF
	// line endings for signed content.
	Entity []byte
	// Signers holds the verified signer certificate of each signed layer,
	// outermost first.
	Signers []*x509.Certificate
	// Encrypted reports whether any layer was encrypted; Cipher names the
	// content cipher of the outermost encrypted layer (e.g. "aes256-gcm").
	Encrypted bool
	Cipher    string
}

const maxLayers = 8

// Open removes S/MIME layers from a MIME entity or whole message read from
// r: it verifies multipart/signed and opaque signed-data (digest, signature,
// signer certificate chain, validity and usage) and decrypts enveloped-data
// and authEnveloped-data, layer after layer, until it reaches a plain
// entity. It reads the whole input into memory: it is the verification
// helper for tests, demos and diagnostics, not a streaming receiver.
// Errors wrap ErrDigestMismatch, ErrBadSignature, ErrNoSigner, *CertError,
// ErrNoRecipient, ErrDecrypt, ErrUnsupported or ErrMalformed.
func Open(r io.Reader, o OpenOptions) (*Message, error) {
	entity, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("smime: %w", err)
	}
	m := &Message{}
	for range maxLayers {
		hdr, body, err := splitEntity(entity)
		if err != nil {
			return nil, err
		}
		mt, params, err := mime.ParseMediaType(hdr.Get("Content-Type"))
		if err != nil {
			m.Entity = entity
			return m, nil
		}
		switch mt {
		case "multipart/signed":
			content, sig, err := splitSigned(body, params["boundary"])
			if err != nil {
				return nil, err
			}
			ci, err := parseContentInfo(sig, cms.OIDSignedData)
			if err != nil {
				return nil, err
			}
			_, signer, err := verifySignedData(ci, canonical(content), o)
			if err != nil {
				return nil, err
			}
			m.Signers = append(m.Signers, signer)
			entity = canonical(content)
		case "application/pkcs7-mime", "application/x-pkcs7-mime":
			der, err := decodeBody(hdr, body)
			if err != nil {
				return nil, err
			}
			ci, _, err := cms.Parse(der)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
			}
			oid, inner, err := contentInfo(ci)
			if err != nil {
				return nil, err
			}
			switch {
			case oid.Equal(cms.OIDSignedData):
				content, signer, err := verifySignedData(inner, nil, o)
				if err != nil {
					return nil, err
				}
				m.Signers = append(m.Signers, signer)
				entity = content
			case oid.Equal(cms.OIDEnvelopedData), oid.Equal(cms.OIDAuthEnvelopedData):
				content, name, err := decryptEnveloped(inner, oid.Equal(cms.OIDAuthEnvelopedData), o)
				if err != nil {
					return nil, err
				}
				if !m.Encrypted {
					m.Encrypted, m.Cipher = true, name
				}
				entity = content
			default:
				return nil, fmt.Errorf("%w: content type %v", ErrUnsupported, oid)
			}
		default:
			m.Entity = entity
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: more than %d S/MIME layers", ErrMalformed, maxLayers)
}

// splitEntity splits a MIME entity into its header and body.
func splitEntity(b []byte) (textproto.MIMEHeader, []byte, error) {
	i := 0
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return nil, nil, fmt.Errorf("%w: no blank line after the header", ErrMalformed)
		}
		line := b[i : i+j]
		i += j + 1
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			break
		}
	}
	hb := append(bytes.ReplaceAll(b[:i], []byte("\r\n"), []byte("\n")), '\n')
	hdr, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(hb))).ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	return hdr, b[i:], nil
}

// canonical converts bare LF to CRLF.
func canonical(b []byte) []byte {
	var out bytes.Buffer
	w := newCanonWriter(&out, false)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// splitSigned returns the raw first part of a multipart/signed body and
// the decoded signature part.
func splitSigned(body []byte, boundary string) ([]byte, []byte, error) {
	if boundary == "" {
		return nil, nil, fmt.Errorf("%w: multipart/signed without boundary", ErrMalformed)
	}
	delim := []byte("--" + boundary)
	// Find the first delimiter line.
	start := -1
	for i := 0; i < len(body); {
		if bytes.HasPrefix(body[i:], delim) {
			start = i
			break
		}
		j := bytes.IndexByte(body[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	if start < 0 {
		return nil, nil, fmt.Errorf("%w: boundary not found", ErrMalformed)
	}
	nl := bytes.IndexByte(body[start:], '\n')
	if nl < 0 {
		return nil, nil, fmt.Errorf("%w: truncated multipart", ErrMalformed)
	}
	rest := body[start+nl+1:]
	next := append([]byte("\n"), delim...)
	end := bytes.Index(rest, next)
	if end < 0 {
		return nil, nil, fmt.Errorf("%w: second part missing", ErrMalformed)
	}
	content := rest[:end]
	content = bytes.TrimSuffix(content, []byte("\r"))
	rest = rest[end+len(next):]
	nl = bytes.IndexByte(rest, '\n')
	if nl < 0 {
		return nil, nil, fmt.Errorf("%w: truncated multipart", ErrMalformed)
	}
	rest = rest[nl+1:]
	end = bytes.Index(rest, next)
	if end < 0 {
		return nil, nil, fmt.Errorf("%w: closing boundary missing", ErrMalformed)
	}
	hdr, sigBody, err := splitEntity(rest[:end+1])
	if err != nil {
		return nil, nil, err
	}
	sig, err := decodeBody(hdr, sigBody)
	if err != nil {
		return nil, nil, err
	}
	return content, sig, nil
}

func decodeBody(hdr textproto.MIMEHeader, body []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(hdr.Get("Content-Transfer-Encoding"))) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, body)
		out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(out, clean)
		if err != nil {
			return nil, fmt.Errorf("%w: base64: %w", ErrMalformed, err)
		}
		return out[:n], nil
	case "", "binary", "7bit", "8bit":
		return body, nil
	}
	return nil, fmt.Errorf("%w: transfer encoding %q", ErrUnsupported, hdr.Get("Content-Transfer-Encoding"))
}

func contentInfo(ci *cms.Node) (asn1.ObjectIdentifier, *cms.Node, error) {
	if !ci.Is(0, 16, true) || len(ci.Children) < 2 || !ci.Child(0).Is(0, 6, false) || !ci.Child(1).Is(2, 0, true) {
		return nil, nil, fmt.Errorf("%w: not a CMS ContentInfo", ErrMalformed)
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(ci.Child(0).Raw, &oid); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	inner := ci.Child(1).Child(0)
	if !inner.Is(0, 16, true) {
		return nil, nil, fmt.Errorf("%w: ContentInfo content is not a SEQUENCE", ErrMalformed)
	}
	return oid, inner, nil
}

func parseContentInfo(der []byte, want asn1.ObjectIdentifier) (*cms.Node, error) {
	ci, _, err := cms.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	oid, inner, err := contentInfo(ci)
	if err != nil {
		return nil, err
	}
	if !oid.Equal(want) {
		return nil, fmt.Errorf("%w: content type %v, want %v", ErrMalformed, oid, want)
	}
	return inner, nil
}

func parseAlg(n *cms.Node) (pkix.AlgorithmIdentifier, error) {
	var a pkix.AlgorithmIdentifier
	if n == nil {
		return a, fmt.Errorf("%w: missing algorithm identifier", ErrMalformed)
	}
	if _, err := asn1.Unmarshal(n.DER(), &a); err != nil {
		return a, fmt.Errorf("%w: algorithm identifier: %w", ErrMalformed, err)
	}
	return a, nil
}

func hashFromOID(oid asn1.ObjectIdentifier, allowSHA1 bool) (crypto.Hash, error) {
	switch {
	case oid.Equal(cms.OIDSHA256):
		return crypto.SHA256, nil
	case oid.Equal(cms.OIDSHA384):
		return crypto.SHA384, nil
	case oid.Equal(cms.OIDSHA512):
		return crypto.SHA512, nil
	case oid.Equal(cms.OIDSHA1):
		if !allowSHA1 {
			return 0, ErrWeakHash
		}
		return crypto.SHA1, nil
	}
	return 0, fmt.Errorf("%w: digest %v", ErrUnsupported, oid)
}

type issuerSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

// verifySignedData verifies the first SignerInfo of sd over detached (or
// the encapsulated content when detached is nil) and returns the content and
// the signer certificate.
func verifySignedData(sd *cms.Node, detached []byte, o OpenOptions) ([]byte, *x509.Certificate, error) {
	if len(sd.Children) < 4 {
		return nil, nil, fmt.Errorf("%w: SignedData too short", ErrMalformed)
	}
	encap := sd.Child(2)
	var eType asn1.ObjectIdentifier
	if !encap.Is(0, 16, true) || encap.Child(0) == nil {
		return nil, nil, fmt.Errorf("%w: EncapsulatedContentInfo", ErrMalformed)
	}
	if _, err := asn1.Unmarshal(encap.Child(0).Raw, &eType); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	content := detached
	if e := encap.Child(1); e != nil && e.Is(2, 0, true) && e.Child(0) != nil {
		content = e.Child(0).Bytes()
	}
	if content == nil {
		return nil, nil, fmt.Errorf("%w: no content to verify", ErrMalformed)
	}
	certs, infos := signedDataCerts(sd)
	if infos == nil || len(infos.Children) == 0 {
		return nil, nil, fmt.Errorf("%w: no SignerInfo", ErrMalformed)
	}
	certs = append(certs, o.Certificates...)
	si := infos.Child(0)
	if len(si.Children) < 5 {
		return nil, nil, fmt.Errorf("%w: SignerInfo too short", ErrMalformed)
	}
	signer, err := findSigner(si.Child(1), certs)
	if err != nil {
		return nil, nil, err
	}
	dAlg, err := parseAlg(si.Child(2))
	if err != nil {
		return nil, nil, err
	}
	h, err := hashFromOID(dAlg.Algorithm, o.AllowSHA1)
	if err != nil {
		return nil, nil, err
	}
	dh := h.New()
	dh.Write(content)
	digest := dh.Sum(nil)

	i := 3
	signed := digest
	if a := si.Child(3); a.Is(2, 0, true) {
		if err := checkSignedAttrs(a, digest, eType); err != nil {
			return nil, nil, err
		}
		der := append([]byte(nil), a.DER()...)
		der[0] = cms.TagSet
		ah := h.New()
		ah.Write(der)
		signed = ah.Sum(nil)
		i++
	}
	sAlg, err := parseAlg(si.Child(i))
	if err != nil {
		return nil, nil, err
	}
	sigNode := si.Child(i + 1)
	if !sigNode.Is(0, 4, false) && !sigNode.Is(0, 4, true) {
		return nil, nil, fmt.Errorf("%w: signature value", ErrMalformed)
	}
	if err := checkSig(signer, sAlg, h, signed, sigNode.Bytes()); err != nil {
		return nil, nil, err
	}
	if err := checkSignerCert(signer, certs, o); err != nil {
		return nil, nil, err
	}
	return content, signer, nil
}

// signedDataCerts returns the certificates a SignedData carries and its
// SignerInfos (nil when there are none).
func signedDataCerts(sd *cms.Node) ([]*x509.Certificate, *cms.Node) {
	var certs []*x509.Certificate
	var infos *cms.Node
	for _, c := range sd.Children[3:] {
		switch {
		case c.Is(2, 0, true):
			for _, cc := range c.Children {
				if cc.Is(0, 16, true) {
					if cert, err := x509.ParseCertificate(cc.DER()); err == nil {
						certs = append(certs, cert)
					}
				}
			}
		case c.Is(0, 17, true):
			infos = c
		}
	}
	return certs, infos
}

// checkSignerCert checks the signer certificate: valid now, usable for
// signing S/MIME, and chaining to the roots.
func checkSignerCert(signer *x509.Certificate, certs []*x509.Certificate, o OpenOptions) error {
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	if err := checkTime("signer", signer, now); err != nil {
		return err
	}
	if signer.KeyUsage != 0 && signer.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return &CertError{Role: "signer", Cert: signer, Err: ErrWrongUsage, Detail: "key usage lacks digitalSignature"}
	}
	if err := checkEKU("signer", signer); err != nil {
		return err
	}
	return checkChain("signer", signer, certs, o.Roots, now)
}

func findSigner(sid *cms.Node, certs []*x509.Certificate) (*x509.Certificate, error) {
	if sid.Is(2, 0, false) { // subjectKeyIdentifier
		for _, c := range certs {
			if bytes.Equal(c.SubjectKeyId, sid.Content) {
				return c, nil
			}
		}
		return nil, ErrNoSigner
	}
	var is issuerSerial
	if _, err := asn1.Unmarshal(sid.DER(), &is); err != nil {
		return nil, fmt.Errorf("%w: signer identifier: %w", ErrMalformed, err)
	}
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, is.Issuer.FullBytes) && c.SerialNumber.Cmp(is.Serial) == 0 {
			return c, nil
		}
	}
	return nil, ErrNoSigner
}

func checkSignedAttrs(attrs *cms.Node, digest []byte, eType asn1.ObjectIdentifier) error {
	var sawDigest, sawType bool
	for _, a := range attrs.Children {
		if len(a.Children) < 2 || len(a.Child(1).Children) == 0 {
			return fmt.Errorf("%w: signed attribute", ErrMalformed)
		}
		var oid asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(a.Child(0).Raw, &oid); err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		v := a.Child(1).Child(0)
		switch {
		case oid.Equal(cms.OIDAttrMessageDigest):
			sawDigest = true
			if !bytes.Equal(v.Bytes(), digest) {
				return ErrDigestMismatch
			}
		case oid.Equal(cms.OIDAttrContentType):
			sawType = true
			var ct asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(v.Raw, &ct); err != nil || !ct.Equal(eType) {
				return fmt.Errorf("%w: contentType attribute does not match", ErrBadSignature)
			}
		}
	}
	if !sawDigest || !sawType {
		return fmt.Errorf("%w: signed attributes lack messageDigest or contentType", ErrMalformed)
	}
	return nil
}

type pssParams struct {
	Hash       pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:0"`
	MGF        pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:1"`
	SaltLength int                      `asn1:"explicit,optional,tag:2,default:20"`
}

func checkSig(cert *x509.Certificate, alg pkix.AlgorithmIdentifier, h crypto.Hash, digest, sig []byte) error {
	a := alg.Algorithm
	var err error
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		switch {
		case a.Equal(cms.OIDRSAEncryption), a.Equal(cms.OIDSHA256WithRSA), a.Equal(cms.OIDSHA384WithRSA),
			a.Equal(cms.OIDSHA512WithRSA), a.Equal(cms.OIDSHA1WithRSA):
			err = rsa.VerifyPKCS1v15(pub, h, digest, sig)
		case a.Equal(cms.OIDRSAPSS):
			var p pssParams
			if _, perr := asn1.Unmarshal(alg.Parameters.FullBytes, &p); perr != nil {
				return fmt.Errorf("%w: RSASSA-PSS parameters: %w", ErrMalformed, perr)
			}
			ph := crypto.SHA1
			if len(p.Hash.Algorithm) > 0 {
				if ph, err = hashFromOID(p.Hash.Algorithm, true); err != nil {
					return err
				}
			}
			if ph != h {
				return fmt.Errorf("%w: PSS hash differs from digest algorithm", ErrUnsupported)
			}
			err = rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: p.SaltLength, Hash: h})
		default:
			return fmt.Errorf("%w: signature algorithm %v", ErrUnsupported, a)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			err = errors.New("ecdsa verification failed")
		}
	default:
		return fmt.Errorf("%w: signer key %T", ErrUnsupportedKey, cert.PublicKey)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return nil
}

type oaepParams struct {
	Hash   pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:0"`
	MGF    pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:1"`
	Source pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:2"`
}

func decryptEnveloped(env *cms.Node, auth bool, o OpenOptions) ([]byte, string, error) {
	i := 1
	if env.Child(i).Is(2, 0, true) { // originatorInfo
		i++
	}
	ris, eci := env.Child(i), env.Child(i+1)
	if !ris.Is(0, 17, true) || !eci.Is(0, 16, true) {
		return nil, "", fmt.Errorf("%w: EnvelopedData layout", ErrMalformed)
	}
	var mac, aad []byte
	if auth {
		for _, c := range env.Children[i+2:] {
			switch {
			case c.Is(2, 1, true):
				aad = append([]byte(nil), c.DER()...)
				aad[0] = cms.TagSet
			case c.Is(0, 4, false), c.Is(0, 4, true):
				mac = c.Bytes()
			}
		}
		if mac == nil {
			return nil, "", fmt.Errorf("%w: AuthEnvelopedData without mac", ErrMalformed)
		}
	}
	cek, err := unwrapKey(ris, o.Identity)
	if err != nil {
		return nil, "", err
	}
	alg, err := parseAlg(eci.Child(1))
	if err != nil {
		return nil, "", err
	}
	ecNode := eci.Child(2)
	if ecNode == nil || !ecNode.Is(2, 0, ecNode.Constructed) {
		return nil, "", fmt.Errorf("%w: no encrypted content", ErrMalformed)
	}
	name, keyLen, gcm, err := contentCipher(alg.Algorithm)
	if err != nil {
		return nil, "", err
	}
	if len(cek) != keyLen {
		return nil, "", fmt.Errorf("%w: key length %d for %s", ErrDecrypt, len(cek), name)
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, "", err
	}
	if gcm != auth {
		return nil, "", fmt.Errorf("%w: %s in the wrong container (GCM needs AuthEnvelopedData)", ErrUnsupported, name)
	}
	var pt []byte
	if gcm {
		pt, err = openGCM(block, alg.Parameters.FullBytes, ecNode.Bytes(), mac, aad)
	} else {
		pt, err = openCBC(block, alg.Parameters.FullBytes, ecNode.Bytes())
	}
	if err != nil {
		return nil, "", err
	}
	return pt, name, nil
}

// contentCipher names the content-encryption algorithm a: its name, key
// length and whether it is AES-GCM. DES, 3DES and RC2 are refused.
func contentCipher(a asn1.ObjectIdentifier) (name string, keyLen int, gcm bool, err error) {
	switch {
	case a.Equal(cms.OIDAES128CBC):
		return "aes128-cbc", 16, false, nil
	case a.Equal(cms.OIDAES192CBC):
		return "aes192-cbc", 24, false, nil
	case a.Equal(cms.OIDAES256CBC):
		return "aes256-cbc", 32, false, nil
	case a.Equal(cms.OIDAES128GCM):
		return "aes128-gcm", 16, true, nil
	case a.Equal(cms.OIDAES192GCM):
		return "aes192-gcm", 24, true, nil
	case a.Equal(cms.OIDAES256GCM):
		return "aes256-gcm", 32, true, nil
	case a.Equal(cms.OIDDESEDE3), a.Equal(cms.OIDDESCBC), a.Equal(cms.OIDRC2CBC):
		return "", 0, false, fmt.Errorf("%w: obsolete content cipher %v (DES/3DES/RC2)", ErrUnsupported, a)
	}
	return "", 0, false, fmt.Errorf("%w: content cipher %v", ErrUnsupported, a)
}

// openGCM decrypts AES-GCM content (RFC 5084) and checks its tag.
func openGCM(block cipher.Block, params, ct, mac, aad []byte) ([]byte, error) {
	var p struct {
		Nonce  []byte
		ICVLen int `asn1:"optional,default:12"`
	}
	if _, err := asn1.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("%w: GCM parameters: %w", ErrMalformed, err)
	}
	if p.ICVLen != len(mac) || len(p.Nonce) == 0 {
		return nil, fmt.Errorf("%w: GCM tag length", ErrMalformed)
	}
	aead, err := cipher.NewGCMWithNonceSize(block, len(p.Nonce))
	if p.ICVLen != 16 && err == nil {
		if len(p.Nonce) != 12 {
			return nil, fmt.Errorf("%w: GCM with %d-byte nonce and %d-byte tag", ErrUnsupported, len(p.Nonce), p.ICVLen)
		}
		aead, err = cipher.NewGCMWithTagSize(block, p.ICVLen)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	pt, err := aead.Open(nil, p.Nonce, append(ct, mac...), aad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication tag mismatch (content altered or wrong key)", ErrDecrypt)
	}
	return pt, nil
}

// openCBC decrypts AES-CBC content and removes its PKCS#7 padding.
func openCBC(block cipher.Block, params, ct []byte) ([]byte, error) {
	var iv []byte
	if _, err := asn1.Unmarshal(params, &iv); err != nil || len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("%w: CBC IV", ErrMalformed)
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: ciphertext length %d", ErrDecrypt, len(ct))
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	pad := int(pt[len(pt)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, fmt.Errorf("%w: bad padding", ErrDecrypt)
	}
	for _, b := range pt[len(pt)-pad:] {
		if int(b) != pad {
			return nil, fmt.Errorf("%w: bad padding", ErrDecrypt)
		}
	}
	return pt[:len(pt)-pad], nil
}

func unwrapKey(ris *cms.Node, id *Identity) ([]byte, error) {
	if id == nil || id.Cert == nil {
		return nil, fmt.Errorf("%w: no decryption identity given", ErrNoRecipient)
	}
	for _, ri := range ris.Children {
		if ri.Is(2, 1, true) {
			cek, err := unwrapKARI(ri, id)
			if err != nil || cek != nil {
				return cek, err
			}
			continue
		}
		if !ri.Is(0, 16, true) || len(ri.Children) < 4 {
			continue
		}
		if c, err := findSigner(ri.Child(1), []*x509.Certificate{id.Cert}); err != nil || c == nil {
			continue
		}
		dec, ok := id.Key.(crypto.Decrypter)
		if _, isRSA := id.Key.Public().(*rsa.PublicKey); !ok || !isRSA {
			return nil, fmt.Errorf("%w: key transport needs an RSA key", ErrUnsupportedKey)
		}
		alg, err := parseAlg(ri.Child(2))
		if err != nil {
			return nil, err
		}
		ek := ri.Child(3).Bytes()
		var cek []byte
		switch {
		case alg.Algorithm.Equal(cms.OIDRSAEncryption):
			//lint:ignore SA1019 reading PKCS#1 v1.5 key transport is required to open what senders write (RFC 8551 section 2.3).
			cek, err = dec.Decrypt(rand.Reader, ek, &rsa.PKCS1v15DecryptOptions{})
		case alg.Algorithm.Equal(cms.OIDRSAOAEP):
			var p oaepParams
			if len(alg.Parameters.FullBytes) > 0 {
				if _, perr := asn1.Unmarshal(alg.Parameters.FullBytes, &p); perr != nil {
					return nil, fmt.Errorf("%w: OAEP parameters: %w", ErrMalformed, perr)
				}
			}
			h, mh := crypto.SHA1, crypto.SHA1
			if len(p.Hash.Algorithm) > 0 {
				if h, err = hashFromOID(p.Hash.Algorithm, true); err != nil {
					return nil, err
				}
			}
			if len(p.MGF.Algorithm) > 0 {
				var mgfHash pkix.AlgorithmIdentifier
				if _, perr := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mgfHash); perr != nil {
					return nil, fmt.Errorf("%w: OAEP MGF: %w", ErrMalformed, perr)
				}
				if mh, err = hashFromOID(mgfHash.Algorithm, true); err != nil {
					return nil, err
				}
			}
			var label []byte
			if len(p.Source.Algorithm) > 0 {
				asn1.Unmarshal(p.Source.Parameters.FullBytes, &label)
			}
			cek, err = dec.Decrypt(rand.Reader, ek, &rsa.OAEPOptions{Hash: h, MGFHash: mh, Label: label})
		default:
			return nil, fmt.Errorf("%w: key transport %v", ErrUnsupported, alg.Algorithm)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: content-encryption key: %w", ErrDecrypt, err)
		}
		return cek, nil
	}
	return nil, ErrNoRecipient
}
