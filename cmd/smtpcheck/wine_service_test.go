package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden/internal/peers"
	"mailwarden/internal/smtptest"
	"mailwarden/internal/winetest"
)

// TestWineService runs the Windows service commands of the Windows build
// for real under Wine's service manager (services.exe, in a private copy of
// the test prefix with its own wineserver): install an 'outbox run' whose
// spool is a Z:\ path and whose relay is the test Postfix, queue a
// message, start the service, see it running and the message delivered to
// Postfix's files, stop it, see it stopped and its spool lock released,
// remove it, see it gone. A service stopped while a relay (in this
// process) holds its reply to DATA stops, and the entry stays intact in its
// spool, not counted as an attempt. Wine's ReportEventW writes each event's text to
// its "eventlog" debug channel (Wine keeps no Event Log to read back): the
// lifecycle lines and the delivery's audit record are read there, and the
// event source's registry key is checked after install and after remove.
// A second service whose spool is on a drive that does not exist fails at
// start: exit 1, status says smtpcheck's exit code, and the error event
// carries the worker's message.
func TestWineService(t *testing.T) {
	shared := winetest.Need(t)
	v := peers.Need(t, "MW_POSTFIX_PLAIN", "MW_POSTFIX_MAILDIR")
	relay, maildir := v[0], v[1]
	dir := t.TempDir()
	exe := winetest.Build(t, dir, ".", "smtpcheck.exe")
	wine, debugLog := shared.Private(t, "-all,+eventlog,err+all")
	wine.Env = append(wine.Env, "WINEDEBUG=-all,err+all") // Wine's own errors, if any, in a failure's stderr
	run := func(args ...string) winetest.Result {
		t.Helper()
		return wine.Run(t, 2*time.Minute, nil, exe, args...)
	}
	name := fmt.Sprintf("mwsvc-%d", time.Now().UnixNano()%1e9)
	t.Cleanup(func() { // before the wineserver stops (cleanups run last first)
		run("service", "remove", "--name", name)
		run("service", "remove", "--name", name+"-bad")
	})
	spool := winetest.WinPath(t, filepath.Join(dir, "spool"))
	conn := []string{"--server", relay, "--tls", "none"}
	regSource := `HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\` + name
	regService := `HKLM\SYSTEM\CurrentControlSet\Services\` + name
	status := func() (serviceStatusJSON, int) {
		t.Helper()
		r := run("service", "status", "--name", name, "--json")
		var st serviceStatusJSON
		if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
			t.Fatalf("status --json: exit %d, %v\nstdout: %s\nstderr: %s", r.Code, err, r.Stdout, r.Stderr)
		}
		return st, r.Code
	}
	// A failure seen once under load (a 'service remove' that exited 1
	// with nothing on stdout or stderr, which no path of smtpcheck does)
	// explains itself: what services.exe and the services wrote to their
	// debug log, and the same command run again with Wine's process and
	// exception traces (whether it fails again, and how).
	unexplained := func(r winetest.Result, args []string) string {
		if r.Code == 0 || r.Stdout != "" || r.Stderr != "" || len(args) == 0 {
			return ""
		}
		b, _ := os.ReadFile(debugLog)
		if len(b) > 8000 {
			b = b[len(b)-8000:]
		}
		again := wine.Run(t, 2*time.Minute, []string{"WINEDEBUG=err+all,warn+seh,+process"}, exe, args...)
		serr := again.Stderr
		if len(serr) > 8000 {
			serr = serr[len(serr)-8000:]
		}
		return fmt.Sprintf("\nno output at all: not smtpcheck's error paths (the process did not run to one of them)\n"+
			"services.exe's debug log (end):\n%s\nthe same command again with WINEDEBUG=err+all,warn+seh,+process: exit %d\nstdout: %s\nstderr (end): %s",
			b, again.Code, again.Stdout, serr)
	}
	expect := func(what string, r winetest.Result, code int, out string, args ...string) {
		t.Helper()
		if r.Code != code || !strings.Contains(r.Stdout+r.Stderr, out) {
			t.Fatalf("%s: exit %d, want %d and %q\nstdout: %s\nstderr: %s%s", what, r.Code, code, out, r.Stdout, r.Stderr, unexplained(r, args))
		}
	}
	// do runs args and expects code and out.
	do := func(what string, code int, out string, args ...string) winetest.Result {
		t.Helper()
		r := run(args...)
		expect(what, r, code, out, args...)
		return r
	}

	if st, code := status(); code != exitServiceNotInstalled || st.Installed {
		t.Fatalf("status before install: exit %d %+v", code, st)
	}
	r := run(append([]string{"service", "install", "--name", name, "--start", "manual", "--", "outbox", "run", "--spool", spool}, conn...)...)
	expect("install", r, exitOK, "service run --name "+name+" outbox run --spool "+spool)
	if !strings.Contains(r.Stdout, "--eventlog "+name) {
		t.Errorf("install did not add --eventlog %s: %s", name, r.Stdout)
	}
	expect("install again", run(append([]string{"service", "install", "--name", name, "--", "outbox", "run", "--spool", spool}, conn...)...),
		exitCheck, "is already installed")
	expect("the event source's registry key", wine.Run(t, time.Minute, nil, "reg", "query", regSource), 0, `EventCreate.exe`)
	expect("the service's registry key", wine.Run(t, time.Minute, nil, "reg", "query", regService), 0, "service run --name "+name)
	if st, code := status(); code != exitServiceNotRunning || st.State != "stopped" || st.Start != "manual" || !strings.Contains(st.Command, `smtpcheck.exe service run --name `+name) {
		t.Fatalf("status after install: exit %d %+v", code, st)
	}

	tag := fmt.Sprintf("wine-service-%d", time.Now().UnixNano())
	expect("enqueue", run(append([]string{"outbox", "enqueue", "--spool", spool, "--from", "a@example.com", "--to", "b@example.com",
		"--subject", tag, "--body", "delivered by the Windows service"}, conn...)...), exitOK, "queued ")
	do("start", exitOK, "service "+name+" running (pid ", "service", "start", "--name", name)
	st, code := status()
	if code != exitOK || st.State != "running" || st.PID == 0 {
		t.Fatalf("status after start: exit %d %+v", code, st)
	}
	peers.Delivered(t, maildir, tag)

	do("stop", exitOK, "service "+name+" stopped", "service", "stop", "--name", name)
	if st, code := status(); code != exitServiceNotRunning || st.State != "stopped" || st.PID != 0 || st.Win32ExitCode != 0 || st.ServiceSpecificExitCode != 0 {
		t.Fatalf("status after stop: exit %d %+v", code, st)
	}
	// The worker is gone: its spool lock is free, another run takes it.
	expect("outbox run --once after the stop", run(append([]string{"outbox", "run", "--once", "--spool", spool}, conn...)...),
		exitOK, "delivered 0, deferred 0, dead 0")
	expect("stop when stopped", run("service", "stop", "--name", name), exitOK, "service "+name+" was not running (stopped)")

	// Stopped during a delivery: a relay (in this process) holds its reply
	// to DATA; the service stops, and the entry stays intact in the spool.
	inData, release := make(chan struct{}), make(chan struct{})
	var held, released sync.Once
	letGo := func() { released.Do(func() { close(release) }) }
	defer letGo()
	holder := smtptest.Start(t, smtptest.Options{Data: func([]byte) error {
		held.Do(func() { close(inData) })
		<-release
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "the client left"}
	}})
	heldSvc := name + "-held"
	t.Cleanup(func() { run("service", "remove", "--name", heldSvc) })
	heldSpool := winetest.WinPath(t, filepath.Join(dir, "held-spool"))
	heldConn := []string{"--server", holder.Addr, "--tls", "none"}
	expect("install the held service", run(append([]string{"service", "install", "--name", heldSvc, "--start", "manual", "--",
		"outbox", "run", "--spool", heldSpool}, heldConn...)...), exitOK, "installed service "+heldSvc)
	expect("enqueue for the held service", run(append([]string{"outbox", "enqueue", "--spool", heldSpool, "--from", "a@example.com",
		"--to", "b@example.com", "--subject", "held", "--body", "in flight at the stop"}, heldConn...)...), exitOK, "queued ")
	expect("start the held service", run("service", "start", "--name", heldSvc), exitOK, "running")
	select {
	case <-inData:
	case <-time.After(time.Minute):
		t.Fatal("the held service's delivery never reached DATA")
	}
	do("stop during the delivery", exitOK, "service "+heldSvc+" stopped", "service", "stop", "--name", heldSvc)
	r = run("outbox", "list", "--spool", heldSpool, "--json")
	var l listJSON
	if r.Code != exitOK || json.Unmarshal([]byte(r.Stdout), &l) != nil || len(l.Entries) != 1 || l.Entries[0].State != "queued" || l.Entries[0].Attempts != 0 {
		t.Fatalf("the entry in flight at the stop is not intact: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	letGo()
	do("remove the held service", exitOK, "removed service "+heldSvc, "service", "remove", "--name", heldSvc)

	do("remove", exitOK, "removed service "+name, "service", "remove", "--name", name)
	if st, code := status(); code != exitServiceNotInstalled || st.Installed {
		t.Fatalf("status after remove: exit %d %+v", code, st)
	}
	expect("status after remove (text)", run("service", "status", "--name", name), exitServiceNotInstalled, "is not installed")
	expect("remove again", run("service", "remove", "--name", name), exitServiceNotInstalled, "is not installed")
	for _, key := range []string{regSource, regService} {
		if r := wine.Run(t, time.Minute, nil, "reg", "query", key); r.Code == 0 {
			t.Errorf("%s is still there after remove:\n%s", key, r.Stdout)
		}
	}

	// A worker that cannot start: the service stops at once with
	// smtpcheck's exit code, and the error goes to the Event Log.
	bad := name + "-bad"
	do("install the failing service", exitOK, "installed service "+bad, append([]string{"service", "install", "--name", bad, "--start", "manual", "--",
		"outbox", "run", "--spool", `Q:\no-such-drive\spool`}, conn...)...)
	do("start the failing service", exitCheck, "stopped at once: smtpcheck exit code 1", "service", "start", "--name", bad)
	do("status of the failing service", exitServiceNotRunning, "last exit: smtpcheck exit code 1", "service", "status", "--name", bad)
	do("remove the failing service", exitOK, "removed service "+bad, "service", "remove", "--name", bad)

	// What Wine's ReportEventW wrote, from every process services.exe
	// started (Information as trace, Error as err).
	var events string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(debugLog)
		events = string(b)
		if strings.Contains(events, bad+" failed") || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{
		`trace:eventlog:ReportEventW L"service ` + name + ` started: delivering the outbox"`,
		`\"msg\":\"outbox.delivered\"`,
		`trace:eventlog:ReportEventW L"service ` + name + `: stop requested: finishing the deliveries in progress`,
		`trace:eventlog:ReportEventW L"service ` + name + ` stopped"`,
		`trace:eventlog:ReportEventW L"service ` + heldSvc + `: stop requested: finishing the deliveries in progress`,
		`trace:eventlog:ReportEventW L"service ` + heldSvc + ` stopped"`,
		`err:eventlog:ReportEventW L"service ` + bad + ` failed: outbox run exited with code 1:\nsmtpcheck outbox run: `,
	} {
		if !strings.Contains(events, want) {
			t.Errorf("the eventlog channel lacks %s\n%s", want, events)
		}
	}
}
