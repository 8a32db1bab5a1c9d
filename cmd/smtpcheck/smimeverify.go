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

Exit codes of smime verify:
  0  the configuration is usable
  1  a certificate check failed (expired or not yet valid, wrong key usage,
     key does not match, From not in the certificate, untrusted chain,
     unsupported key)
  2  usage error, or a file cannot be read (missing, wrong password, not a
     certificate)`

// smimeVerify runs the checks and prints the certificates and problems.
func smimeVerify(ctx context.Context, e *env, cfg mailwarden.SMIMEConfig, from, ca string) int {
	rep, err := mailwarden.CheckSMIME(ctx, cfg, from, ca, time.Time{}, e.getenv, nil)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck smime verify: %s\n", term(err.Error()))
		return exitUsage
	}
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
	wrap, err := mailwarden.SMIMEWrap(ctx, sf.config(), e.getenv, nil)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck message: %s\n", term(err.Error()))
		return exitUsage
	}
	msg.Wrap = wrap
	return exitOK
}
