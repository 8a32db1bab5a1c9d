package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

const serviceUsage = `usage: smtpcheck service <command> [--name NAME] [flags]

Runs 'smtpcheck outbox run' as a Windows service: the service manager starts
it (at boot with --start auto), and stops it cleanly on 'service stop', 'net
stop', the Services console or a system shutdown: the worker's context is
cancelled as by SIGTERM on Unix, so a delivery in progress finishes or stays
intact in the spool for the next start. Services are a Windows feature: on
Linux and other Unix systems run 'outbox run' under the init system (a
systemd unit: docs/smtpcheck-outbox.service).

Commands:
  install [--name NAME] [--display-name TEXT] [--start auto|manual] -- outbox run FLAGS
        check FLAGS exactly as 'outbox run' does (a typo fails now, not when
        the service starts), then create the service: this executable's
        absolute path, 'service run --name NAME', and FLAGS, plus
        '--eventlog NAME' unless FLAGS or the profile name an Event Log
        source; and register NAME as an Event Log source (Application log)
  remove [--name NAME] [--timeout D]
        stop the service if it runs, delete it and its Event Log source
  start  [--name NAME] [--timeout D]   start it and wait until it runs
  stop   [--name NAME] [--timeout D]   ask it to stop and wait until it has
                                       (deliveries in progress finish first)
  status [--name NAME] [--json]        its state, pid, last exit code and
                                       command line
  run    --name NAME outbox run FLAGS  what the service manager starts (not
                                       for a console)

NAME defaults to smtpcheck-outbox. install, remove, start and stop need an
elevated (administrator) prompt. The service runs as LocalSystem and starts
in the system directory: give absolute paths (install refuses a relative
--spool or --config), and no --password (it would be stored in the service's
command line: use --password-file, a profile, or --auth system, which
authenticates as the computer account).

Event Log (Application log, source NAME): the service's own lines (started,
stop requested, stopped, and a failure with the worker's last error and its
hint) and, through --eventlog, the audit record of every delivery.

Exit codes:
  0  done; status: the service is running
  1  the service manager refused or failed (not elevated, already
     installed, did not start or stop within --timeout: see the Event Log)
  2  usage error, wrong 'outbox run' flags, or not Windows
  3  status: installed but not running (stopped, starting or stopping)
  4  the service is not installed (status, remove, start, stop)
`

const defaultServiceName = "smtpcheck-outbox"

// Exit codes of 'service' beyond the common ones (see serviceUsage).
const (
	exitServiceNotRunning   = 3
	exitServiceNotInstalled = 4
)

// installOptions is what 'service install' creates.
type installOptions struct {
	name, display string
	autoStart     bool
	args          []string // after the executable: service run --name NAME outbox run ...
}

// serviceStatusJSON is 'service status --json'.
type serviceStatusJSON struct {
	Name                    string `json:"name"`
	Installed               bool   `json:"installed"`
	State                   string `json:"state"`
	PID                     uint32 `json:"pid,omitempty"`
	Win32ExitCode           uint32 `json:"win32_exit_code"`
	ServiceSpecificExitCode uint32 `json:"exit_code"`
	DisplayName             string `json:"display_name,omitempty"`
	Start                   string `json:"start,omitempty"`
	Command                 string `json:"command,omitempty"`
}

// controlOptions are the flags of remove, start, stop and status.
type controlOptions struct {
	name    string
	timeout time.Duration
	json    bool
}

func runService(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, serviceUsage)
		return exitUsage
	}
	if isHelp(args[0]) {
		fmt.Fprint(e.stdout, serviceUsage)
		return exitOK
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "install":
		o, code, done := parseServiceInstall(e, args)
		if done {
			return code
		}
		return serviceInstall(e, o)
	case "remove", "start", "stop", "status":
		fs := flag.NewFlagSet("service "+cmd, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var o controlOptions
		fs.StringVar(&o.name, "name", defaultServiceName, "the service's `NAME`")
		if cmd == "status" {
			fs.BoolVar(&o.json, "json", false, "print JSON")
		} else {
			fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for the service to reach its new state")
		}
		help := map[string]string{
			"remove": "usage: smtpcheck service remove [--name NAME] [--timeout D]\n\nStops the service if it runs, deletes it and its Event Log source.",
			"start":  "usage: smtpcheck service start [--name NAME] [--timeout D]\n\nStarts the service and waits until it runs.",
			"stop":   "usage: smtpcheck service stop [--name NAME] [--timeout D]\n\nAsks the service to stop and waits until it has: deliveries in progress\nfinish or stay intact in the spool.",
			"status": "usage: smtpcheck service status [--name NAME] [--json]\n\nPrints the service's state, pid, last exit code and command line.\nExit 0 running, 3 installed but not running, 4 not installed.",
		}[cmd]
		if code, done := parseFlags(fs, e, args, "service "+cmd, help); done {
			return code
		}
		if err := checkServiceName(o.name); err != nil {
			fmt.Fprintf(e.stderr, "smtpcheck service %s: %s\n", cmd, err)
			return exitUsage
		}
		return serviceControl(ctx, e, cmd, o)
	case "run":
		fs := flag.NewFlagSet("service run", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		name := fs.String("name", "", "the service's `NAME`")
		if err := fs.Parse(args); err != nil {
			fmt.Fprintf(e.stderr, "smtpcheck service run: %s\n", errLine(err))
			return exitUsage
		}
		rest := fs.Args()
		if checkServiceName(*name) != nil || len(rest) < 2 || rest[0] != "outbox" || rest[1] != "run" {
			fmt.Fprintln(e.stderr, "usage: smtpcheck service run --name NAME outbox run FLAGS (what the service manager starts; see 'smtpcheck service install')")
			return exitUsage
		}
		return serviceRun(ctx, e, *name, rest[2:])
	}
	fmt.Fprintf(e.stderr, "smtpcheck service: unknown command %q\n\n", cmd)
	fmt.Fprint(e.stderr, serviceUsage)
	return exitUsage
}

// notWindows adds, where there is no service manager, that install would
// not work even with the right flags.
func notWindows(e *env) {
	if runtime.GOOS != "windows" {
		fmt.Fprintf(e.stderr, "note: %s\n", serviceNotWindows)
	}
}

// checkServiceName refuses a name the service manager or the registry
// would refuse or misread.
func checkServiceName(name string) error {
	switch {
	case name == "":
		return errors.New("--name is empty")
	case len(name) > 256:
		return errors.New("--name is longer than 256 characters")
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("--name %q: a service name has no / or \\", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("--name %q: control character", name)
		}
	}
	return nil
}

const serviceInstallHelp = `usage: smtpcheck service install [--name NAME] [--display-name TEXT] [--start auto|manual] -- outbox run FLAGS

Checks FLAGS as 'outbox run' does, then creates the Windows service NAME
that runs 'outbox run FLAGS', and registers NAME as an Event Log source.
See 'smtpcheck service --help'.`

// parseServiceInstall parses install's own flags and checks the 'outbox
// run' flags that follow them; done true: the help or the error was
// printed and code is the exit code.
func parseServiceInstall(e *env, args []string) (installOptions, int, bool) {
	fs := flag.NewFlagSet("service install", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o installOptions
	fs.StringVar(&o.name, "name", defaultServiceName, "the service's `NAME` (also its Event Log source)")
	fs.StringVar(&o.display, "display-name", "", "the `TEXT` the Services console shows (default: Mailwarden outbox (NAME))")
	start := fs.String("start", "auto", "start `TYPE`: auto (at boot) or manual")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(e.stdout, serviceInstallHelp)
			fmt.Fprintln(e.stdout, "\nFlags:")
			fs.SetOutput(e.stdout)
			fs.PrintDefaults()
			return o, exitOK, true
		}
		fmt.Fprintf(e.stderr, "smtpcheck service install: %s\n", errLine(err))
		if strings.Contains(err.Error(), "flag provided but not defined") {
			fmt.Fprintln(e.stderr, "hint: install's own flags are --name, --display-name and --start; the service's flags follow them after -- outbox run")
		}
		notWindows(e)
		return o, exitUsage, true
	}
	fail := func(format string, a ...any) (installOptions, int, bool) {
		fmt.Fprintf(e.stderr, "smtpcheck service install: "+format+"\n", a...)
		notWindows(e)
		return o, exitUsage, true
	}
	if err := checkServiceName(o.name); err != nil {
		return fail("%s", err)
	}
	switch *start {
	case "auto":
		o.autoStart = true
	case "manual":
	default:
		return fail("--start %q: auto or manual", *start)
	}
	if o.display == "" {
		o.display = "Mailwarden outbox (" + o.name + ")"
	}
	rest := fs.Args()
	if len(rest) < 2 || rest[0] != "outbox" || rest[1] != "run" {
		return fail("the service's command is missing: end with -- outbox run FLAGS (e.g. -- outbox run --spool C:\\ProgramData\\Mailwarden\\spool --config C:\\ProgramData\\Mailwarden\\mailwarden.json)")
	}
	runArgs, err := serviceRunArgs(e, o.name, rest[2:])
	if err != nil {
		return fail("%s", err)
	}
	o.args = append([]string{"service", "run", "--name", o.name, "outbox", "run"}, runArgs...)
	return o, 0, false
}

// serviceRunArgs checks the 'outbox run' flags of a service as 'outbox
// run' parses them and resolves its profile (without opening anything:
// no file, no connection, no secret), and returns the flags to store, with
// --eventlog NAME added when nothing names an Event Log source. The check
// sees no MAILWARDEN_* variable: the service will not have the installer's
// environment.
func serviceRunArgs(e *env, name string, args []string) ([]string, error) {
	var msg strings.Builder
	check := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &msg, getenv: func(string) string { return "" }}
	bad := func() error {
		return fmt.Errorf("the 'outbox run' flags are wrong: %s", strings.TrimSpace(strings.TrimPrefix(msg.String(), "smtpcheck outbox run: ")))
	}
	for _, a := range args {
		if isHelp(a) {
			return nil, errors.New("the 'outbox run' flags include a help flag: see 'smtpcheck outbox run --help'")
		}
	}
	rf, _, done := parseOutboxRun(check, args)
	if done {
		return nil, bad()
	}
	cf := &rf.cf
	switch {
	case cf.isSet("password"):
		return nil, errors.New("--password would be stored in the service's command line, readable by every local user: use --password-file, a profile with a secret reference, or --auth system")
	case rf.of.once:
		return nil, errors.New("--once: a service runs until it is stopped")
	case rf.of.spool != "" && !filepath.IsAbs(rf.of.spool):
		return nil, fmt.Errorf("--spool %q is relative: the service starts in the system directory, give an absolute path", rf.of.spool)
	case cf.config != "" && !filepath.IsAbs(cf.config):
		return nil, fmt.Errorf("--config %q is relative: the service starts in the system directory, give an absolute path", cf.config)
	case cf.transcript == "-":
		return nil, errors.New("--transcript -: a service has no standard output, give a file")
	}
	p, _, err := cf.profile(check)
	if err == nil {
		err = cf.diag.apply(cf.fs, &p)
	}
	if err == nil {
		err = p.Validate()
	}
	if err != nil {
		fmt.Fprint(&msg, errLine(err))
		return nil, bad()
	}
	out := append([]string(nil), args...)
	if p.Audit.EventLog == "" {
		out = append(out, "--eventlog", name)
	}
	return out, nil
}

// Service states and control requests, as the Windows service manager
// knows them, kept apart from its API so that serviceLoop runs (and is
// tested) everywhere.
type svcState int

const (
	svcStartPending svcState = iota
	svcRunning
	svcStopPending
)

type svcControl int

const (
	ctlInterrogate svcControl = iota
	ctlStop
	ctlShutdown
)

// svcReport is a status for the service manager: while stopping, each
// report has a new checkpoint and the wait hint until the next one.
type svcReport struct {
	state      svcState
	checkpoint uint32
	waitHint   time.Duration
}

// svcLogger receives the service's lifecycle lines (the Event Log on
// Windows).
type svcLogger interface {
	Info(msg string)
	Error(msg string)
}

// serviceLoop runs work (the outbox worker) under the service manager: it
// reports start-pending, with a new checkpoint every tick, until work calls
// ready (it has opened the spool and the sender), then running; it answers
// interrogations with the last report; on a stop or shutdown request it
// cancels work's context, as SIGTERM does on Unix, then reports
// stop-pending every tick with a new checkpoint until work returns
// (deliveries in flight finish or stay intact in the spool). It returns
// work's exit code; a worker that fails without being asked to stop
// (before or after ready) is logged as an error with what it printed last
// (tail).
func serviceLoop(ctx context.Context, name string, ctl <-chan svcControl, report func(svcReport), log svcLogger,
	work func(ctx context.Context, ready func()) int, tail func() string, tick time.Duration) int {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan int, 1)
	readyc := make(chan struct{})
	var readyOnce sync.Once
	go func() { done <- work(wctx, func() { readyOnce.Do(func() { close(readyc) }) }) }()
	last := svcReport{state: svcStartPending, checkpoint: 1, waitHint: 2 * tick}
	report(last)
	t := time.NewTicker(tick)
	defer t.Stop()
	stopping := false
	for {
		select {
		case <-readyc:
			readyc = nil
			if !stopping {
				last = svcReport{state: svcRunning}
				report(last)
				log.Info(fmt.Sprintf("service %s started: delivering the outbox", name))
			}
		case c := <-ctl:
			switch {
			case c == ctlInterrogate:
				report(last)
			case !stopping:
				stopping = true
				why := map[svcControl]string{ctlStop: "stop", ctlShutdown: "system shutdown"}[c]
				log.Info(fmt.Sprintf("service %s: %s requested: finishing the deliveries in progress (the rest stay in the spool)", name, why))
				cancel()
				last = svcReport{state: svcStopPending, checkpoint: 1, waitHint: 2 * tick}
				report(last)
			}
		case <-t.C:
			if last.state != svcRunning {
				last.checkpoint++
				report(last)
			}
		case code := <-done:
			switch {
			case stopping && code == exitOK:
				log.Info(fmt.Sprintf("service %s stopped", name))
			case code == exitOK:
				log.Info(fmt.Sprintf("service %s: the worker ended; stopped", name))
			default:
				msg := fmt.Sprintf("service %s failed: outbox run exited with code %d", name, code)
				if t := strings.TrimSpace(tail()); t != "" {
					msg += ":\n" + t
				}
				log.Error(msg)
			}
			return code
		}
	}
}

// tailBuffer keeps the last max bytes written to it: the worker's
// standard error, for the Event Log line of a failure.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

const serviceNotWindows = "services are a Windows feature; here, run 'smtpcheck outbox run' under the init system (a systemd unit: docs/smtpcheck-outbox.service)"
