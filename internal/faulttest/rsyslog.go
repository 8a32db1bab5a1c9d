package faulttest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Signal numbers on Linux, the only system StartRsyslog runs on (the
// names do not exist in package syscall everywhere).
const (
	sigCont = syscall.Signal(18)
	sigStop = syscall.Signal(19)
	sigKill = syscall.Signal(9)
)

// An Rsyslog is a private rsyslogd process with one RELP input (imrelp) on
// 127.0.0.1, writing what it receives to File. Its main queue is Direct:
// a record is written to File before imrelp acknowledges it, so a record
// acknowledged survives a SIGKILL of rsyslogd (with the default in-memory
// queue, records acknowledged but not yet written die with the process). A test can stop it
// (SIGSTOP: it accepts connections in the kernel but answers nothing),
// resume it (SIGCONT) and kill it (SIGKILL).
type Rsyslog struct {
	Addr string // host:port of the RELP input
	File string // where rsyslogd writes the records (RFC 5424 lines)
	cmd  *exec.Cmd
	done chan struct{}
	bin  string
	args []string
	log  string
}

// StartRsyslog starts an rsyslogd with imrelp for the test and kills it
// when the test ends. It needs rsyslogd and its imrelp module (Debian's
// rsyslog and rsyslog-relp); without them the test is skipped, unless
// MAILWARDEN_REQUIRE_PEERS=1, when it fails.
func StartRsyslog(t testing.TB) *Rsyslog {
	t.Helper()
	skip := t.Skip
	if os.Getenv("MAILWARDEN_REQUIRE_PEERS") == "1" {
		skip = t.Fatal
	}
	if runtime.GOOS != "linux" {
		skip("a private rsyslogd needs Linux")
		return nil
	}
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		bin = "/usr/sbin/rsyslogd"
		if _, err := os.Stat(bin); err != nil {
			skip("rsyslogd not found (install rsyslog and rsyslog-relp)")
			return nil
		}
	}
	mods, _ := filepath.Glob("/usr/lib/*/rsyslog/imrelp.so")
	if len(mods) == 0 {
		skip("rsyslog's imrelp module not found (install rsyslog-relp)")
		return nil
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &Rsyslog{Addr: fmt.Sprintf("127.0.0.1:%d", port), File: filepath.Join(dir, "relp.log")}
	conf := filepath.Join(dir, "rsyslog.conf")
	os.MkdirAll(filepath.Join(dir, "work"), 0o700)
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`global(workDirectory="%s" maxMessageSize="64k" net.enableDNS="off")
main_queue(queue.type="Direct")
module(load="imrelp")
input(type="imrelp" address="127.0.0.1" port="%d")
action(type="omfile" file="%s" template="RSYSLOG_SyslogProtocol23Format" flushOnTXEnd="on")
`, filepath.Join(dir, "work"), port, r.File)), 0o600); err != nil {
		t.Fatal(err)
	}
	r.bin, r.args, r.log = bin, []string{"-n", "-f", conf, "-i", filepath.Join(dir, "rsyslogd.pid")}, filepath.Join(dir, "rsyslogd.log")
	if err := r.spawn(); err != nil {
		skip("rsyslogd: " + err.Error())
		return nil
	}
	t.Cleanup(func() {
		r.cmd.Process.Signal(sigCont)
		r.Kill()
	})
	r.wait(t)
	return r
}

func (r *Rsyslog) spawn() error {
	logf, err := os.OpenFile(r.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	r.cmd = exec.Command(r.bin, r.args...)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.done = make(chan struct{})
	if err := r.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := r.done
	cmd := r.cmd
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	return nil
}

// Restart starts rsyslogd again (after Kill) on the same port and file.
func (r *Rsyslog) Restart(t testing.TB) {
	t.Helper()
	r.Kill()
	if err := r.spawn(); err != nil {
		t.Fatal(err)
	}
	r.wait(t)
}

// wait waits until the RELP input accepts connections.
func (r *Rsyslog) wait(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-r.done:
			b, _ := os.ReadFile(r.log)
			t.Fatalf("rsyslogd exited: %s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslogd does not answer on %s", r.Addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pid is the rsyslogd's process id.
func (r *Rsyslog) Pid() int { return r.cmd.Process.Pid }

// Stop suspends rsyslogd (SIGSTOP) and waits until every one of its
// threads is stopped (the signal takes effect asynchronously).
func (r *Rsyslog) Stop() {
	r.cmd.Process.Signal(sigStop)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if r.stopped() {
			return
		}
	}
}

// stopped reports whether every thread of rsyslogd is in state T.
func (r *Rsyslog) stopped() bool {
	stats, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", r.cmd.Process.Pid))
	if len(stats) == 0 {
		return false
	}
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			return false
		}
		// pid (comm) STATE ...: the state follows the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// Resume continues a stopped rsyslogd (SIGCONT).
func (r *Rsyslog) Resume() { r.cmd.Process.Signal(sigCont) }

// Kill kills rsyslogd (SIGKILL) and waits for it.
func (r *Rsyslog) Kill() {
	r.cmd.Process.Signal(sigCont)
	r.cmd.Process.Signal(sigKill)
	<-r.done
}

// Count returns how many lines of File contain substr.
func (r *Rsyslog) Count(substr string) int {
	b, _ := os.ReadFile(r.File)
	return strings.Count(string(b), substr)
}

// Lines returns the lines of File that contain substr.
func (r *Rsyslog) Lines(substr string) []string {
	b, _ := os.ReadFile(r.File)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}
