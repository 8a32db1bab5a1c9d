// Command smtpcheck is Mailwarden's "Test connection / Send test email"
// button as a binary: it builds messages, probes relays, sends, and runs a
// self-contained demo.
//
// Exit codes:
//
//	0  success
//	1  a check failed (audit or smime verify), or the audit trail could
//	   not record a send and it was refused (fail-closed)
//	2  usage or configuration error
//	3  connection, proxy or TLS failure
//	4  authentication failure (Graph: 401/403 or no token)
//	5  message rejected (SMTP 5xx; Graph 4xx other than 401/403/429, or too large)
//	6  temporary failure (SMTP 4xx; Graph 429 or 5xx)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes, documented in the package comment, README and --help.
const (
	exitOK         = 0
	exitCheck      = 1
	exitUsage      = 2
	exitConnection = 3
	exitAuth       = 4
	exitRejected   = 5
	exitTemporary  = 6
)

const exitCodesHelp = `Exit codes:
  0  success
  1  a check failed (audit or smime verify), or the audit trail could not
     record a send (or be opened at startup) and it was refused
     (fail-closed)
  2  usage or configuration error
  3  connection, proxy or TLS failure
  4  authentication failure (Graph: 401/403 or no token)
  5  message rejected (SMTP 5xx; Graph 4xx other than 401/403/429, or too large)
  6  temporary failure (SMTP 4xx; Graph 429 or 5xx)
With --json the error names its class (connection, tls, auth, rejected,
temporary, usage, audit) and a hint.
`

// env is what a subcommand may touch of the outside world.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// ready, when set, is called by 'outbox run' once it has opened
	// everything and starts delivering (the Windows service then reports
	// running).
	ready func()
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

// commands returns the subcommand table. Each subcommand lives in its own file.
func commands() []command {
	cmds := []command{
		{"message", "build a message from flags and write it to stdout (nothing is sent)", runMessage},
		{"probe", "test the connection: connect, TLS, EHLO, AUTH, QUIT (no mail sent)", runProbe},
		{"send", "build a message from flags (or take one with --data) and send it", runSend},
		{"smime", "verify an S/MIME signing and encryption configuration", runSMIME},
		{"demo", "run everything against an embedded relay, with no configuration", runDemo},
		{"audit", "verify a tamper-evident audit file chain, or report on it for reviewers", runAudit},
		{"config", "check configuration files, show profiles and presets, import XML settings", runConfig},
		{"oauth", "log in to an OAuth2 provider (login) or check token acquisition (token)", runOAuth},
		{"template", "list, show and render the alert/report/test content templates", runTemplate},
		{"outbox", "list, retry, purge or deliver (run) a durable outbox spool", runOutbox},
		{"service", "install, remove, start, stop or query 'outbox run' as a Windows service", runService},
		{"version", "print the module version, VCS revision and Go version (also --version)", runVersion},
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: smtpcheck <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'smtpcheck <command> --help' for a command's flags.")
	fmt.Fprintln(w)
	fmt.Fprint(w, exitCodesHelp)
}

func main() {
	// SIGTERM (systemd's stop, docker stop; on Windows the console's close,
	// logoff and shutdown events) stops as SIGINT does: 'outbox run' ends
	// its deliveries in progress cleanly, as on the service manager's stop.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	switch {
	case isHelp(args[0]):
		usage(e.stdout)
		return exitOK
	case args[0] == "-version", args[0] == "--version":
		return runVersion(ctx, e, args[1:])
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "smtpcheck: unknown command %q\n", args[0])
	usage(e.stderr)
	return exitUsage
}
