package main

import (
	"log/slog"
	"os"
	"os/user"

	"mailwarden/audit"
)

// withOperator returns h with the "operator" attribute on every record: who
// ran an action on the outbox (retry, purge), as the local account and host,
// "user@host". It is what the audit report shows as "who".
func withOperator(h *audit.Handler) *audit.Handler {
	return h.WithAttrs([]slog.Attr{slog.String("operator", operatorName())}).(*audit.Handler)
}

// operatorName is "user@host" from the operating system, with "unknown" for
// a part it cannot tell.
func operatorName() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return name + "@" + host
}
