//go:build windows

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"

	"mailwarden/audit"
)

const hintElevated = "hint: run it from an elevated prompt (Run as administrator)"

// scmFail prints why the service manager refused and returns the exit
// code: 4 when the service does not exist, else 1.
func scmFail(e *env, cmd, name string, err error) int {
	switch {
	case errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST):
		fmt.Fprintf(e.stderr, "smtpcheck service %s: service %s is not installed\n", cmd, name)
		return exitServiceNotInstalled
	case errors.Is(err, windows.ERROR_SERVICE_EXISTS):
		fmt.Fprintf(e.stderr, "smtpcheck service %s: service %s is already installed (remove it first, or choose another --name)\n", cmd, name)
		return exitCheck
	case errors.Is(err, windows.ERROR_SERVICE_MARKED_FOR_DELETE):
		fmt.Fprintf(e.stderr, "smtpcheck service %s: service %s is being deleted: close the Services console (or any program holding it open) and try again\n", cmd, name)
		return exitCheck
	}
	fmt.Fprintf(e.stderr, "smtpcheck service %s: %s: %s\n", cmd, name, errLine(err))
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		fmt.Fprintln(e.stderr, hintElevated)
	}
	return exitCheck
}

// openService opens the service manager with scmAccess and the service
// name with access.
func openService(name string, scmAccess, access uint32) (*mgr.Service, func(), error) {
	h, err := windows.OpenSCManager(nil, nil, scmAccess)
	if err != nil {
		return nil, nil, fmt.Errorf("service manager: %w", err)
	}
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		windows.CloseServiceHandle(h)
		return nil, nil, err
	}
	sh, err := windows.OpenService(h, n, access)
	if err != nil {
		windows.CloseServiceHandle(h)
		return nil, nil, err
	}
	s := &mgr.Service{Name: name, Handle: sh}
	return s, func() { s.Close(); windows.CloseServiceHandle(h) }, nil
}

func serviceInstall(e *env, o installOptions) int {
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.Abs(exe)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck service install: this executable's path: %s\n", errLine(err))
		return exitCheck
	}
	m, err := mgr.Connect()
	if err != nil {
		return scmFail(e, "install", o.name, err)
	}
	defer m.Disconnect()
	start := uint32(mgr.StartManual)
	if o.autoStart {
		start = mgr.StartAutomatic
	}
	s, err := m.CreateService(o.name, exe, mgr.Config{
		DisplayName:  o.display,
		StartType:    start,
		ErrorControl: mgr.ErrorNormal,
		Description:  "Mailwarden: delivers the outbox (smtpcheck outbox run). Logs to the Application log, source " + o.name + ".",
	}, o.args...)
	if err != nil {
		return scmFail(e, "install", o.name, err)
	}
	defer s.Close()
	if err := audit.InstallEventSource(o.name); err != nil && !strings.Contains(err.Error(), "already exists") {
		fmt.Fprintf(e.stderr, "smtpcheck service install: the Event Log source %s: %s; the service is removed again\n", o.name, errLine(err))
		if derr := s.Delete(); derr != nil {
			fmt.Fprintf(e.stderr, "smtpcheck service install: removing the service: %s\n", errLine(derr))
		}
		return exitCheck
	}
	fmt.Fprintf(e.stdout, "installed service %s (%s, start %s)\n  %s\nEvent Log: Application log, source %s\nstart it with: smtpcheck service start --name %s\n",
		o.name, o.display, map[bool]string{true: "auto", false: "manual"}[o.autoStart], commandLine(exe, o.args), o.name, o.name)
	return exitOK
}

// commandLine is the command line the service manager runs, quoted as
// Windows quotes it.
func commandLine(exe string, args []string) string {
	parts := []string{windows.EscapeArg(exe)}
	for _, a := range args {
		parts = append(parts, windows.EscapeArg(a))
	}
	return strings.Join(parts, " ")
}

var stateNames = map[svc.State]string{
	svc.Stopped:         "stopped",
	svc.StartPending:    "starting",
	svc.StopPending:     "stopping",
	svc.Running:         "running",
	svc.ContinuePending: "continuing",
	svc.PausePending:    "pausing",
	svc.Paused:          "paused",
}

func serviceControl(_ context.Context, e *env, cmd string, o controlOptions) int {
	access := map[string]uint32{
		"status": windows.SERVICE_QUERY_STATUS | windows.SERVICE_QUERY_CONFIG,
		"start":  windows.SERVICE_START | windows.SERVICE_QUERY_STATUS,
		"stop":   windows.SERVICE_STOP | windows.SERVICE_QUERY_STATUS,
		"remove": windows.SERVICE_STOP | windows.SERVICE_QUERY_STATUS | windows.DELETE,
	}[cmd]
	s, closeService, err := openService(o.name, windows.SC_MANAGER_CONNECT, access)
	if err != nil {
		if cmd == "status" && errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) && o.json {
			writeJSON(e.stdout, map[string]any{"name": o.name, "installed": false, "state": "not installed"})
			return exitServiceNotInstalled
		}
		return scmFail(e, cmd, o.name, err)
	}
	defer closeService()
	switch cmd {
	case "status":
		return serviceStatus(e, s, o)
	case "start":
		return serviceStart(e, s, o)
	case "stop":
		if st, err := s.Query(); err == nil && st.State == svc.Stopped {
			fmt.Fprintf(e.stdout, "service %s was not running (stopped)\n", o.name)
			return exitOK
		}
		if code := serviceStop(e, s, o, cmd); code != exitOK {
			return code
		}
		fmt.Fprintf(e.stdout, "service %s stopped\n", o.name)
		return exitOK
	}
	// remove
	if code := serviceStop(e, s, o, cmd); code != exitOK {
		return code
	}
	if err := s.Delete(); err != nil {
		return scmFail(e, "remove", o.name, err)
	}
	if err := audit.RemoveEventSource(o.name); err != nil && !errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		fmt.Fprintf(e.stderr, "smtpcheck service remove: the service is deleted, but not its Event Log source: %s\n", errLine(err))
		return exitCheck
	}
	fmt.Fprintf(e.stdout, "removed service %s and its Event Log source\n", o.name)
	return exitOK
}

func serviceStatus(e *env, s *mgr.Service, o controlOptions) int {
	st, err := s.Query()
	if err != nil {
		return scmFail(e, "status", o.name, err)
	}
	j := serviceStatusJSON{Name: o.name, Installed: true, State: stateNames[st.State], PID: st.ProcessId,
		Win32ExitCode: st.Win32ExitCode, ServiceSpecificExitCode: st.ServiceSpecificExitCode}
	if j.State == "" {
		j.State = fmt.Sprintf("state %d", st.State)
	}
	if c, err := queryConfig(s); err == nil {
		j.DisplayName, j.Command = windows.UTF16PtrToString(c.DisplayName), windows.UTF16PtrToString(c.BinaryPathName)
		j.Start = map[uint32]string{mgr.StartAutomatic: "auto", mgr.StartManual: "manual", mgr.StartDisabled: "disabled"}[c.StartType]
	}
	if o.json {
		writeJSON(e.stdout, j)
	} else {
		fmt.Fprintf(e.stdout, "%s: %s", o.name, j.State)
		if j.PID != 0 {
			fmt.Fprintf(e.stdout, " (pid %d)", j.PID)
		}
		if st.State == svc.Stopped && (j.Win32ExitCode != 0 && j.Win32ExitCode != uint32(windows.ERROR_SERVICE_NEVER_STARTED)) {
			fmt.Fprintf(e.stdout, ", last exit: %s", exitText(st))
		}
		fmt.Fprintln(e.stdout)
		if j.DisplayName != "" {
			fmt.Fprintf(e.stdout, "  display name: %s\n  start:        %s\n  command:      %s\n", term(j.DisplayName), j.Start, term(j.Command))
		}
	}
	if st.State == svc.Running {
		return exitOK
	}
	return exitServiceNotRunning
}

// queryConfig is the service's configuration without its description
// (mgr.Service.Config also asks for that, which Wine does not answer).
func queryConfig(s *mgr.Service) (*windows.QUERY_SERVICE_CONFIG, error) {
	n := uint32(1024)
	for {
		b := make([]byte, n)
		c := (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&b[0]))
		err := windows.QueryServiceConfig(s.Handle, c, n, &n)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || n <= uint32(len(b)) {
			return nil, err
		}
	}
}

// exitText says how a stopped service last ended.
func exitText(st svc.Status) string {
	if st.Win32ExitCode == uint32(windows.ERROR_SERVICE_SPECIFIC_ERROR) {
		return fmt.Sprintf("smtpcheck exit code %d (see the Event Log)", st.ServiceSpecificExitCode)
	}
	return windows.Errno(st.Win32ExitCode).Error()
}

// waitState polls s until it reaches want, stops (when want is running:
// it failed to start) or the timeout passes.
func waitState(s *mgr.Service, want svc.State, timeout time.Duration) (svc.Status, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := s.Query()
		if err != nil || st.State == want || st.State == svc.Stopped || time.Now().After(deadline) {
			return st, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func serviceStart(e *env, s *mgr.Service, o controlOptions) int {
	if err := s.Start(); err != nil && !errors.Is(err, windows.ERROR_SERVICE_ALREADY_RUNNING) {
		return scmFail(e, "start", o.name, err)
	}
	st, err := waitState(s, svc.Running, o.timeout)
	switch {
	case err != nil:
		return scmFail(e, "start", o.name, err)
	case st.State == svc.Running:
		fmt.Fprintf(e.stdout, "service %s running (pid %d)\n", o.name, st.ProcessId)
		return exitOK
	case st.State == svc.Stopped:
		fmt.Fprintf(e.stderr, "smtpcheck service start: service %s stopped at once: %s; the Application log (source %s) says why\n", o.name, exitText(st), o.name)
		return exitCheck
	}
	fmt.Fprintf(e.stderr, "smtpcheck service start: service %s is still %s after %s\n", o.name, stateNames[st.State], o.timeout)
	return exitCheck
}

// serviceStop asks s to stop unless it is stopped, and waits for it; cmd
// (stop or remove) names the command in its messages.
func serviceStop(e *env, s *mgr.Service, o controlOptions, cmd string) int {
	st, err := s.Query()
	if err != nil {
		return scmFail(e, cmd, o.name, err)
	}
	if st.State == svc.Stopped {
		return exitOK
	}
	if st.State != svc.StopPending {
		if _, err := s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
			return scmFail(e, cmd, o.name, err)
		}
	}
	st, err = waitState(s, svc.Stopped, o.timeout)
	switch {
	case err != nil:
		return scmFail(e, cmd, o.name, err)
	case st.State != svc.Stopped:
		fmt.Fprintf(e.stderr, "smtpcheck service %s: service %s is still %s after %s (a delivery may still be finishing)\n", cmd, o.name, stateNames[st.State], o.timeout)
		return exitCheck
	}
	return exitOK
}

// eventLogger writes the service's lifecycle lines to the Event Log under
// its source.
type eventLogger struct{ l *eventlog.Log }

func (l eventLogger) Info(msg string)  { _ = l.l.Info(audit.EventIDInfo, msg) }
func (l eventLogger) Error(msg string) { _ = l.l.Error(audit.EventIDError, msg) }

type discardLogger struct{}

func (discardLogger) Info(string)  {}
func (discardLogger) Error(string) {}

// serviceHandler is 'outbox run' under the service manager.
type serviceHandler struct {
	ctx  context.Context
	name string
	args []string
	log  svcLogger
	code int
}

func (h *serviceHandler) Execute(_ []string, r <-chan svc.ChangeRequest, changes chan<- svc.Status) (bool, uint32) {
	ctl := make(chan svcControl)
	loopDone := make(chan struct{})
	defer close(loopDone)
	go func() {
		for c := range r {
			k, ok := map[svc.Cmd]svcControl{svc.Interrogate: ctlInterrogate, svc.Stop: ctlStop, svc.Shutdown: ctlShutdown}[c.Cmd]
			if !ok {
				continue
			}
			select {
			case ctl <- k:
			case <-loopDone: // the worker has ended: the status is stopped
				return
			}
		}
	}()
	report := func(rp svcReport) {
		st := svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
		switch rp.state {
		case svcStartPending:
			st = svc.Status{State: svc.StartPending, CheckPoint: rp.checkpoint, WaitHint: uint32(rp.waitHint / time.Millisecond)}
		case svcStopPending:
			st = svc.Status{State: svc.StopPending, CheckPoint: rp.checkpoint, WaitHint: uint32(rp.waitHint / time.Millisecond)}
		}
		changes <- st
	}
	stderr := &tailBuffer{max: 4096}
	work := func(ctx context.Context, ready func()) int {
		return runOutboxRun(ctx, &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderr, getenv: os.Getenv, ready: ready}, h.args)
	}
	h.code = serviceLoop(h.ctx, h.name, ctl, report, h.log, work, stderr.String, time.Second)
	if h.code != exitOK {
		return true, uint32(h.code)
	}
	return false, 0
}

func serviceRun(ctx context.Context, e *env, name string, args []string) int {
	var log svcLogger = discardLogger{}
	if l, err := eventlog.Open(name); err == nil {
		defer l.Close()
		log = eventLogger{l}
	}
	h := &serviceHandler{ctx: ctx, name: name, args: args, log: log}
	if err := svc.Run(name, h); err != nil {
		if errors.Is(err, windows.ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
			// Started from a console: only the service manager can run it.
			fmt.Fprintf(e.stderr, "smtpcheck service run: not started by the service manager; start the service with 'smtpcheck service start --name %s', or run 'smtpcheck outbox run' itself in a console\n", name)
			return exitUsage
		}
		log.Error(fmt.Sprintf("service %s: the service manager: %s", name, err))
		fmt.Fprintf(e.stderr, "smtpcheck service run: %s\n", errLine(err))
		return exitCheck
	}
	return h.code
}
