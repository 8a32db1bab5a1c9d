//go:build !windows

package main

import (
	"context"
	"fmt"
)

const serviceNotWindows = "services are a Windows feature; here, run 'smtpcheck outbox run' under the init system (a systemd unit: docs/smtpcheck-outbox.service)"

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
