package main

import (
	"context"
	"fmt"
)

func runMessage(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "smtpcheck message: not built yet")
	return exitUsage
}
