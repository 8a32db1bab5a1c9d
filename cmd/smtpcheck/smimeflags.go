package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"mailwarden"
)

// smimeFlags are the S/MIME flags of send and smime verify.
type smimeFlags struct {
	p12, cert, key, passwordFile, hash string
	opaque, attachCert, noAttachCert   bool
	pss, oaep                          bool
	encryptCerts                       stringList
	cipher                             string
	toSelf                             bool
	// p11 is set by the commands without connection flags (message, smime
	// verify), through registerPKCS11; send and outbox set the profile's.
	p11 mailwarden.PKCS11Config
}

func (f *smimeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.p12, "sign-p12", "", "sign with the certificate and key in PKCS#12 `FILE`")
	fs.StringVar(&f.cert, "sign-cert", "", "sign with the PEM certificate `FILE` (with --sign-key), or a pkcs11: URI of a certificate on the token")
	fs.StringVar(&f.key, "sign-key", "", "PEM private key `FILE` for --sign-cert, or a key that stays on a token or in a store: pkcs11:token=...;object=... (RFC 7512; the certificate is then taken from the token unless --sign-cert is given) or certstore:CurrentUser/My?thumbprint=... (Windows)")
	fs.StringVar(&f.passwordFile, "sign-password-file", "", "`FILE` holding the PKCS#12 password")
	fs.StringVar(&f.hash, "sign-hash", "sha256", "signature `HASH`: sha256, sha384, sha512")
	fs.BoolVar(&f.pss, "sign-pss", false, "sign with RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys)")
	fs.BoolVar(&f.oaep, "encrypt-oaep", false, "RSA-OAEP key transport instead of PKCS#1 v1.5")
	fs.BoolVar(&f.opaque, "sign-opaque", false, "opaque signature (application/pkcs7-mime) instead of multipart/signed")
	fs.BoolVar(&f.attachCert, "attach-cert", true, "include the signer certificate (the default)")
	fs.BoolVar(&f.noAttachCert, "no-attach-cert", false, "leave the signer certificate out")
	fs.Var(&f.encryptCerts, "encrypt-cert", "encrypt to the recipient certificate in `FILE` (PEM or DER; repeatable)")
	fs.StringVar(&f.cipher, "encrypt-cipher", "aes256-cbc", "`CIPHER`: aes256-gcm, aes256-cbc, aes128-cbc")
	fs.BoolVar(&f.toSelf, "encrypt-to-self", false, "also encrypt to the signer certificate, so the sent copy stays readable")
}

// registerPKCS11 adds --pkcs11-module and --pkcs11-pin-file, for the
// commands that have no connection flags (which add their own).
func (f *smimeFlags) registerPKCS11(fs *flag.FlagSet) {
	registerPKCS11(fs, &f.p11)
}

// registerPKCS11 binds the PKCS#11 flags to p.
func registerPKCS11(fs *flag.FlagSet, p *mailwarden.PKCS11Config) {
	fs.StringVar(&p.Module, "pkcs11-module", "", "PKCS#11 library `PATH` for pkcs11: key URIs (default: MAILWARDEN_PKCS11_MODULE, else the URI's module-path)")
	fs.Var(secretRef("file:", &p.PIN), "pkcs11-pin-file", "`FILE` holding the token's user PIN (default: the URI's pin-source); a PIN the token rejects is not tried again")
}

func (f *smimeFlags) config() mailwarden.SMIMEConfig {
	c := mailwarden.SMIMEConfig{
		SignP12: f.p12, SignCert: f.cert, SignKey: f.key, SignHash: f.hash, SignOpaque: f.opaque, SignPSS: f.pss, EncryptOAEP: f.oaep,
		OmitCertificate: f.noAttachCert || !f.attachCert,
		EncryptCerts:    f.encryptCerts, EncryptCipher: f.cipher, EncryptToSelf: f.toSelf,
	}
	if f.passwordFile != "" {
		c.SignPassword = mailwarden.SecretRef("file:" + f.passwordFile)
	}
	return c
}

func runSMIME(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(e.stdout, smimeUsage)
		return exitOK
	}
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(e.stderr, "usage: smtpcheck smime verify [--from ADDRESS] [S/MIME flags]")
		return exitUsage
	}
	fs := flag.NewFlagSet("smime verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sf smimeFlags
	sf.register(fs)
	sf.registerPKCS11(fs)
	from := fs.String("from", "", "sender `ADDRESS` that must be in the signer certificate")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	ca := fs.String("ca", "", "PEM `FILE` of the certificate authorities every certificate must chain to (only these; without it the chain is not checked)")
	if code, done := parseFlags(fs, e, args[1:], "smime verify", smimeVerifyUsage); done {
		return code
	}
	cfg := sf.config()
	if cfg.SignP12 == "" && cfg.SignCert == "" && cfg.SignKey == "" && len(cfg.EncryptCerts) == 0 {
		fmt.Fprintln(e.stderr, "smtpcheck smime verify: nothing to verify: give --sign-p12, --sign-cert/--sign-key or --encrypt-cert")
		return exitUsage
	}
	return smimeVerify(ctx, e, cfg, sf.p11, *from, *ca, *asJSON)
}
