package main

import (
	"context"
	"fmt"

	"mailwarden/internal/demo"
)

func runDemo(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "--help", "-help":
			fmt.Fprintln(e.stdout, "usage: smtpcheck demo\n\nRuns Mailwarden end to end against an embedded relay on 127.0.0.1, with no configuration.")
			return exitOK
		}
		fmt.Fprintf(e.stderr, "smtpcheck demo: unexpected argument %q\n", args[0])
		return exitUsage
	}
	if err := demo.Run(ctx, e.stdout, demo.Options{}); err != nil {
		return report(e, "demo", err)
	}
	return exitOK
}
