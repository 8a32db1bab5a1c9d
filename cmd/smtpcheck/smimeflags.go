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
}

func (f *smimeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.p12, "sign-p12", "", "sign with the certificate and key in PKCS#12 `FILE`")
	fs.StringVar(&f.cert, "sign-cert", "", "sign with the PEM certificate `FILE` (with --sign-key)")
	fs.StringVar(&f.key, "sign-key", "", "PEM private key `FILE` for --sign-cert")
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
	from := fs.String("from", "", "sender `ADDRESS` that must be in the signer certificate")
	ca := fs.String("ca", "", "PEM `FILE` of the certificate authorities every certificate must chain to (only these; without it the chain is not checked)")
	if code, done := parseFlags(fs, e, args[1:], "smime verify", smimeVerifyUsage); done {
		return code
	}
	cfg := sf.config()
	if cfg.SignP12 == "" && cfg.SignCert == "" && len(cfg.EncryptCerts) == 0 {
		fmt.Fprintln(e.stderr, "smtpcheck smime verify: nothing to verify: give --sign-p12, --sign-cert/--sign-key or --encrypt-cert")
		return exitUsage
	}
	return smimeVerify(ctx, e, cfg, *from, *ca)
}
