package mailwarden

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"mailwarden/smime"
)

// SMIMEConfig configures S/MIME signing and encryption. Signing is on when a
// signing identity is set (a PKCS#12 file, or a PEM certificate and key);
// encryption is on when at least one recipient certificate is set.
type SMIMEConfig struct {
	SignP12      string    `json:"sign_p12,omitempty"`
	SignCert     string    `json:"sign_cert,omitempty"`
	SignKey      string    `json:"sign_key,omitempty"`
	SignPassword SecretRef `json:"sign_password,omitempty"`
	// SignHash is sha256 (default), sha384 or sha512.
	SignHash string `json:"sign_hash,omitempty"`
	// SignPSS signs with RSASSA-PSS instead of RSA PKCS#1 v1.5 (RSA keys).
	SignPSS bool `json:"sign_pss,omitempty"`
	// SignOpaque writes application/pkcs7-mime signed-data instead of
	// multipart/signed.
	SignOpaque bool `json:"sign_opaque,omitempty"`
	// OmitCertificate leaves the signer certificate out of the message
	// (admin screens call the opposite "attach certificate").
	OmitCertificate bool `json:"omit_certificate,omitempty"`
	// EncryptCerts are recipient certificate files (PEM or DER).
	EncryptCerts []string `json:"encrypt_certs,omitempty"`
	// EncryptCipher is aes256-cbc (default), aes128-cbc or aes256-gcm.
	EncryptCipher string `json:"encrypt_cipher,omitempty"`
	// EncryptOAEP uses RSA-OAEP key transport instead of PKCS#1 v1.5.
	EncryptOAEP bool `json:"encrypt_oaep,omitempty"`
	// EncryptToSelf adds the signer certificate as a recipient, so the
	// sent copy stays readable.
	EncryptToSelf bool `json:"encrypt_to_self,omitempty"`
}

// enabled reports whether the profile asks for any S/MIME.
func (c SMIMEConfig) enabled() bool {
	return c.SignP12 != "" || c.SignCert != "" || c.SignKey != "" || len(c.EncryptCerts) > 0
}

// smimeSetup is what NewSender derives from an SMIMEConfig.
type smimeSetup struct {
	identity   *smime.Identity
	recipients []*x509.Certificate
	wrap       smime.Wrapper
	attrs      []slog.Attr
	key        *keyUse // the signing key and where it lives; nil without signing
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

func loadSMIME(ctx context.Context, p Profile, getenv func(string) string, src SecretSource) (*smimeSetup, error) {
	c := p.SMIME
	if !c.enabled() {
		return nil, nil
	}
	bad := func(field string, err error) (*smimeSetup, error) {
		return nil, &ConfigError{Profile: p.Name, Field: "smime." + field, Err: err}
	}
	st := &smimeSetup{}
	var err error
	if st.identity, st.recipients, st.key, err = loadSMIMECerts(ctx, p, getenv, src); err != nil {
		return nil, err
	}
	if c.EncryptToSelf && len(st.recipients) == 0 {
		return bad("encrypt_to_self", errors.New("needs at least one recipient certificate"))
	}
	var signer *smime.Signer
	if st.identity != nil {
		h, err := smime.ParseHash(orDefault(c.SignHash, "sha256"))
		if err != nil {
			return bad("sign_hash", err)
		}
		signer, err = smime.NewSigner(smime.SignConfig{Identity: st.identity, Hash: h, Opaque: c.SignOpaque, OmitCertificates: c.OmitCertificate, RSAPSS: c.SignPSS})
		if err != nil {
			return bad("sign_cert", err)
		}
		st.attrs = append(st.attrs, slog.Bool("signed", true), slog.String("signer_sha256", fingerprint(st.identity.Cert)),
			slog.String("hash", orDefault(c.SignHash, "sha256")), slog.Bool("opaque", c.SignOpaque), slog.String("signer_key", st.key.loc.String()))
	}
	var enc *smime.Encrypter
	if len(st.recipients) > 0 {
		cipher, err := smime.ParseCipher(orDefault(c.EncryptCipher, "aes256-cbc"))
		if err != nil {
			return bad("encrypt_cipher", err)
		}
		ec := smime.EncryptConfig{Recipients: st.recipients, Cipher: cipher}
		if c.EncryptOAEP {
			ec.KeyTransport = smime.RSAOAEP
		}
		if c.EncryptToSelf {
			if st.identity == nil {
				return bad("encrypt_to_self", errors.New("needs a signing identity to encrypt to"))
			}
			ec.Self = st.identity.Cert
		}
		enc, err = smime.NewEncrypter(ec)
		if err != nil {
			return bad("encrypt_certs", err)
		}
		// The trail names every key that can read the message: the
		// sender's own, with encrypt_to_self, too.
		var fps []string
		for _, r := range st.recipients {
			fps = append(fps, fingerprint(r))
		}
		if ec.Self != nil {
			fps = append(fps, fingerprint(ec.Self))
		}
		st.attrs = append(st.attrs, slog.Bool("encrypted", true), slog.String("cipher", cipher.String()), slog.Any("recipients_sha256", fps))
	}
	switch {
	case signer != nil && enc != nil:
		st.wrap = smime.SignAndEncrypt(signer, enc)
	case signer != nil:
		st.wrap = signer
	default:
		st.wrap = enc
	}
	return st, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// VerifySMIME is the S/MIME "Verify" button: it checks that the signing key
// matches its certificate, that every certificate is valid now and allows
// S/MIME, and that from (when not empty) is in the signer certificate. It
// returns nil when the profile has no S/MIME settings.
func (s *Sender) VerifySMIME(from string) error {
	if s.smime == nil {
		return nil
	}
	err := smime.Verify(smime.VerifyConfig{Signer: s.smime.identity, From: from, Recipients: s.smime.recipients})
	if err != nil {
		return fmt.Errorf("mailwarden: profile %s: S/MIME: %w", s.profile.Name, err)
	}
	return nil
}

// loadSMIMECerts reads the signing identity and the recipient certificates
// of p's S/MIME settings, without judging them (see smime.Verify). Errors
// are *ConfigError.
func loadSMIMECerts(ctx context.Context, p Profile, getenv func(string) string, src SecretSource) (identity *smime.Identity, recipients []*x509.Certificate, key *keyUse, err error) {
	c := p.SMIME
	bad := func(field string, err error) (*smime.Identity, []*x509.Certificate, *keyUse, error) {
		return nil, nil, nil, &ConfigError{Profile: p.Name, Field: "smime." + field, Err: err}
	}
	switch {
	case c.SignP12 != "":
		if c.SignCert != "" || c.SignKey != "" {
			return bad("sign_p12", errors.New("set either a PKCS#12 file or a PEM certificate and key, not both"))
		}
		pw, err := c.SignPassword.Resolve(ctx, getenv, src)
		if err != nil {
			return bad("sign_password", err)
		}
		id, err := smime.LoadPKCS12File(c.SignP12, pw)
		if err != nil {
			return bad("sign_p12", err)
		}
		identity = id
	case isKeyRef(c.SignKey):
		k, err := openKeyRef(ctx, p, getenv, src, "smime.sign_key", c.SignKey)
		if err != nil {
			return nil, nil, nil, err
		}
		cert, err := keyRefCert(ctx, p, getenv, src, "smime.sign_cert", c.SignCert, k, loadFirstCert)
		if err != nil {
			return nil, nil, nil, err
		}
		identity = &smime.Identity{Cert: cert, Key: k.Signer}
		key = &keyUse{use: "smime-sign", loc: k.Location, signer: k.Signer, pss: c.SignPSS}
	case isKeyRef(c.SignCert):
		return nil, nil, nil, certRefWithoutKey(p, "smime.sign_cert")
	case c.SignCert != "" || c.SignKey != "":
		if c.SignCert == "" || c.SignKey == "" {
			return bad("sign_cert", errors.New("a PEM signing identity needs both the certificate and the key"))
		}
		id, err := smime.LoadPEMFiles(c.SignCert, c.SignKey)
		if err != nil {
			return bad("sign_cert", err)
		}
		identity = id
	}
	if identity != nil && key == nil {
		path := c.SignKey
		if c.SignP12 != "" {
			path = c.SignP12
		}
		key = &keyUse{use: "smime-sign", loc: fileLocation(path), signer: identity.Key, pss: c.SignPSS}
	}
	for _, f := range c.EncryptCerts {
		certs, err := smime.LoadCertificateFile(f)
		if err != nil {
			return bad("encrypt_certs", err)
		}
		recipients = append(recipients, certs[0])
	}
	return identity, recipients, key, nil
}
