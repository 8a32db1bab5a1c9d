package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"mailwarden"
)

const configCheckUsage = `usage: smtpcheck config check FILE

Checks every profile in FILE without connecting anywhere, and reports every
problem found, not just the first (exit 2 when there is one). Secret
references (env:NAME, file:PATH) that do not resolve on this machine are
warnings: the machine that sends may differ.`

func runConfigCheck(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		if code, done := parseFlags(fs, e, args, "config check", configCheckUsage); done && code == exitOK {
			return code
		}
		fmt.Fprintln(e.stderr, "usage: smtpcheck config check FILE")
		return exitUsage
	}
	rep, err := mailwarden.CheckConfig(ctx, fs.Arg(0), e.getenv)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck config check: %s\n", term(err.Error()))
		return exitUsage
	}
	bad := map[string]bool{}
	for _, ce := range rep.Errors {
		bad[ce.Profile] = true
		fmt.Fprintf(e.stderr, "smtpcheck config check: %s\n", term(ce.Error()))
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(e.stderr, "smtpcheck config check: warning: %s\n", term(w.Error()))
	}
	for _, name := range rep.Profiles {
		mark := ""
		if name == rep.Active {
			mark = " (active)"
		}
		if bad[name] {
			fmt.Fprintf(e.stdout, "BAD %s%s\n", name, mark)
		} else {
			fmt.Fprintf(e.stdout, "ok  %s%s\n", name, mark)
		}
	}
	if !rep.OK() {
		fmt.Fprintf(e.stderr, "smtpcheck config check: %d problem(s) in %s\n", len(rep.Errors), fs.Arg(0))
		return exitUsage
	}
	return exitOK
}

const importXMLUsage = `usage: smtpcheck config import-xml [--name NAME] [--password-ref REF] FILE

Reads the first <SMTP> element of the XML file FILE (the settings block some
products keep; element names match in any case) and writes a configuration
file with one profile to standard output. It reads:

  <Host>              the relay's host name or address
  <HostPort>          the port, optionally with -starttls, -ssl or -nossl
                      (25, 587-starttls, 465-ssl, 465-nossl)
  <LoginMethod>       NoLoginMethod, AuthLoginMethod, LoginPlainMethod,
                      CramMD5Method, KERBEROS, System or Windows integrated
                      (the account the process runs as), or a SASL name
                      (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, NTLM, GSSAPI, ...)
  <User>              the user name
  <Password>          env:NAME or file:PATH is kept as a reference; a password
                      written inline is NOT copied (use --password-ref)
  <Helo>              the name sent in EHLO
  <MaxSubjectLength>  longer subjects are cut
  <From>              the sender address
  <SenderName>        the display name of <From>

Other elements are skipped with a note on standard error.

Flags:
  --name NAME          name of the new profile (default "imported")
  --password-ref REF   secret reference (env:NAME, file:PATH) where you stored
                       the password the XML holds`
