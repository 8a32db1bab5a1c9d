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

func runConfigCheck(e *env, args []string) int {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		if code, done := parseFlags(fs, e, args, "config check", configCheckUsage); done && code == exitOK {
			return code
		}
		fmt.Fprintln(e.stderr, "usage: smtpcheck config check FILE")
		return exitUsage
	}
	rep, err := mailwarden.CheckConfig(context.Background(), fs.Arg(0), e.getenv)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck config check: %s\n", oneLine(err.Error()))
		return exitUsage
	}
	bad := map[string]bool{}
	for _, ce := range rep.Errors {
		bad[ce.Profile] = true
		fmt.Fprintf(e.stderr, "smtpcheck config check: %s\n", oneLine(ce.Error()))
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(e.stderr, "smtpcheck config check: warning: %s\n", oneLine(w.Error()))
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
