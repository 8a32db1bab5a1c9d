package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mailwarden"
	"mailwarden/envelope"
)

const smimeVerifyUsage = `usage: smtpcheck smime verify [--from ADDRESS] [--ca FILE] [S/MIME flags]

Checks an S/MIME configuration without sending anything: the key matches the
certificate, every certificate is valid now and allows S/MIME, the From
address is in the signer certificate, and with --ca every certificate chains
to an authority in FILE. It prints the subject, issuer, validity and SHA-256
fingerprint of each certificate, then each problem on a line of its own.
For the signing key it says where the key lives (a file, a PKCS#11 token's
label, slot and object, or a Windows store) and whether a test signature
with it verified against its public key. --json prints all of it as one
JSON object.

A key on a token is named by an RFC 7512 URI in --sign-key, e.g.
  --sign-key 'pkcs11:token=corp;object=alerts' --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pkcs11-pin-file pin.txt
(the certificate is read from the token unless --sign-cert names one).

Exit codes of smime verify:
  0  the configuration is usable
  1  a certificate check failed (expired or not yet valid, wrong key usage,
     key does not match, From not in the certificate, untrusted chain,
     unsupported key)
  2  usage error, or a file cannot be read (missing, wrong password, not a
     certificate), or a key on a token cannot be opened (no module, token
     not present, no such object, wrong or locked PIN: a rejected PIN is
     not tried again)`

// smimeVerify runs the checks and prints the certificates and problems.
func smimeVerify(ctx context.Context, e *env, cfg mailwarden.SMIMEConfig, p11 mailwarden.PKCS11Config, from, ca string, asJSON bool) int {
	rep, err := mailwarden.CheckSMIMEKeys(ctx, cfg, p11, from, ca, time.Time{}, e.getenv, nil)
	if asJSON {
		return smimeVerifyJSON(e, rep, err)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck smime verify: %s\n", term(err.Error()))
		return exitUsage
	}
	printKeys(e.stdout, rep.Keys)
	for _, c := range rep.Certificates {
		x := c.Cert
		fmt.Fprintf(e.stdout, "%s\n  subject  %s\n  issuer   %s\n  valid    %s to %s\n  sha256   %s\n", c.Role,
			term(x.Subject.String()), term(x.Issuer.String()),
			x.NotBefore.UTC().Format(time.RFC3339), x.NotAfter.UTC().Format(time.RFC3339), c.SHA256())
	}
	if len(rep.Problems) > 0 {
		for _, p := range rep.Problems {
			for _, line := range strings.Split(p.Error(), "\n") {
				fmt.Fprintf(e.stderr, "smtpcheck smime verify: %s\n", term(line))
			}
		}
		fmt.Fprintf(e.stderr, "smtpcheck smime verify: %d problem(s): the configuration is not usable\n", len(rep.Problems))
		return exitCheck
	}
	if ca != "" {
		fmt.Fprintln(e.stdout, "ok: the S/MIME configuration is usable and every certificate chains to "+ca)
	} else {
		fmt.Fprintln(e.stdout, "ok: the S/MIME configuration is usable (chain not checked: give --ca)")
	}
	return exitOK
}

// wrapSMIME sets msg.Wrap from the S/MIME flags, as send's profile would;
// it returns exitUsage (having said why) when the settings cannot load.
func wrapSMIME(ctx context.Context, e *env, msg *envelope.Message, sf *smimeFlags) int {
	wrap, err := mailwarden.SMIMEWrapKeys(ctx, sf.config(), sf.p11, e.getenv, nil)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck message: %s\n", term(err.Error()))
		return exitUsage
	}
	msg.Wrap = wrap
	return exitOK
}

// smimeVerifyOut is smime verify --json.
type smimeVerifyOut struct {
	OK           bool            `json:"ok"`
	Certificates []smimeCertJSON `json:"certificates"`
	Keys         []keyJSON       `json:"keys,omitempty"`
	Problems     []string        `json:"problems,omitempty"`
	Error        *errorJSON      `json:"error,omitempty"`
}

type smimeCertJSON struct {
	Role      string    `json:"role"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"`
}

func smimeVerifyJSON(e *env, rep *mailwarden.SMIMEReport, err error) int {
	out := smimeVerifyOut{Certificates: []smimeCertJSON{}, Error: errJSON(err)}
	if err != nil {
		writeJSON(e.stdout, out)
		return exitUsage
	}
	for _, c := range rep.Certificates {
		out.Certificates = append(out.Certificates, smimeCertJSON{c.Role, c.Cert.Subject.String(), c.Cert.Issuer.String(),
			c.Cert.NotBefore.UTC(), c.Cert.NotAfter.UTC(), c.SHA256()})
	}
	out.Keys = keysJSON(rep.Keys)
	for _, p := range rep.Problems {
		out.Problems = append(out.Problems, p.Error())
	}
	out.OK = len(rep.Problems) == 0
	writeJSON(e.stdout, out)
	if !out.OK {
		return exitCheck
	}
	return exitOK
}
