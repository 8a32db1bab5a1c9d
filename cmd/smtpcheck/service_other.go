//go:build !windows

package main

import (
	"context"
	"fmt"
)

func serviceInstall(e *env, _ installOptions) int {
	fmt.Fprintf(e.stderr, "smtpcheck service install: %s\n", serviceNotWindows)
	return exitUsage
}

func serviceControl(_ context.Context, e *env, cmd string, _ controlOptions) int {
	fmt.Fprintf(e.stderr, "smtpcheck service %s: %s\n", cmd, serviceNotWindows)
	return exitUsage
}

func serviceRun(_ context.Context, e *env, _ string, _ []string) int {
	fmt.Fprintf(e.stderr, "smtpcheck service run: %s\n", serviceNotWindows)
	return exitUsage
}
