package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"mailwarden"
)

const configUsage = `usage:
  smtpcheck config check FILE              validate every profile in FILE
  smtpcheck config show [--config FILE] [--profile NAME]
                                           print a profile with its provider preset applied
  smtpcheck config presets [--json]        list the provider presets
  smtpcheck config import-xml [--name NAME] [--password-ref REF] FILE
                                           turn an XML <SMTP> block into a configuration file (stdout)`

func runConfig(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, configUsage)
		return exitUsage
	}
	switch args[0] {
	case "check":
		return runConfigCheck(ctx, e, args[1:])
	case "show":
		return configShow(e, args[1:])
	case "presets":
		return configPresets(e, args[1:])
	case "import-xml":
		return configImportXML(e, args[1:])
	}
	if isHelp(args[0]) {
		fmt.Fprintln(e.stdout, configUsage)
		return exitOK
	}
	fmt.Fprintf(e.stderr, "smtpcheck config: unknown command %q\n%s\n", args[0], configUsage)
	return exitUsage
}

func configShow(e *env, args []string) int {
	fs := flag.NewFlagSet("config show", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("config", "", "configuration `FILE` (default $MAILWARDEN_CONFIG)")
	name := fs.String("profile", "", "profile `NAME` (default $MAILWARDEN_PROFILE, then the active one)")
	if code, done := parseFlags(fs, e, args, "config show", "usage: smtpcheck config show [--config FILE] [--profile NAME]\n\nPrints the profile as JSON with its provider preset applied. Secrets are references and print as such."); done {
		return code
	}
	if *file == "" {
		*file = e.getenv("MAILWARDEN_CONFIG")
	}
	if *name == "" {
		*name = e.getenv("MAILWARDEN_PROFILE")
	}
	if *file == "" {
		fmt.Fprintln(e.stderr, "smtpcheck config show: --config is required")
		return exitUsage
	}
	p, err := mailwarden.LoadProfile(*file, *name)
	if err == nil {
		if p, err = p.WithPreset(); err == nil {
			writeJSON(e.stdout, p)
			return exitOK
		}
	}
	fmt.Fprintf(e.stderr, "smtpcheck config show: %s\n", errLine(err))
	return exitUsage
}

func configPresets(e *env, args []string) int {
	fs := flag.NewFlagSet("config presets", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print the presets as JSON")
	if code, done := parseFlags(fs, e, args, "config presets", "usage: smtpcheck config presets [--json]"); done {
		return code
	}
	ps := mailwarden.Presets()
	if *asJSON {
		writeJSON(e.stdout, ps)
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tSERVER\tTLS\tAUTH\tTITLE")
	for _, p := range ps {
		server := "-"
		if len(p.Servers) > 0 {
			server = p.Servers[0]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, server, dash(p.TLS), dash(p.Mechanism), p.Title)
	}
	tw.Flush()
	return exitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func configImportXML(e *env, args []string) int {
	fs := flag.NewFlagSet("config import-xml", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "imported", "`NAME` of the new profile")
	ref := fs.String("password-ref", "", "secret `REF` (env:NAME, file:PATH) where you stored the password the XML holds")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(e.stdout, importXMLUsage)
			return exitOK
		}
		fmt.Fprintln(e.stderr, "usage: smtpcheck config import-xml [--name NAME] [--password-ref REF] FILE")
		return exitUsage
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck config import-xml: %s\n", errLine(err))
		return exitUsage
	}
	defer f.Close()
	imp, err := mailwarden.ImportSMTPXML(f, *name)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck config import-xml: %s: %s\n", fs.Arg(0), errLine(err))
		return exitUsage
	}
	for _, w := range imp.Warnings {
		fmt.Fprintf(e.stderr, "smtpcheck config import-xml: note: %s\n", w)
	}
	p := imp.Profile
	if *ref != "" {
		p.Auth.Password = mailwarden.SecretRef(*ref)
		if err := p.Validate(); err != nil {
			fmt.Fprintf(e.stderr, "smtpcheck config import-xml: --password-ref: %s\n", errLine(err))
			return exitUsage
		}
	} else if imp.Password != "" {
		fmt.Fprintln(e.stderr, "smtpcheck config import-xml: note: the XML holds a password; it was NOT copied. Store it in a file or the environment and pass --password-ref file:PATH or env:NAME (or set auth.password in the output).")
	}
	writeJSON(e.stdout, mailwarden.Config{Active: p.Name, Profiles: []mailwarden.Profile{p}})
	return exitOK
}
