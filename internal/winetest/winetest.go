// Package winetest runs the Windows build of the project's programs for real
// under Wine, for tests of the Windows-only paths (SSPI, the certificate
// store, the service manager, Windows file semantics). The test environment
// (testenv/up.sh) prepares the Wine prefix and exports MW_WINE and
// MW_WINEPREFIX; without them a test is skipped, or fails under
// MAILWARDEN_REQUIRE_PEERS=1 as every real-peer test does.
package winetest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
)

// Wine is a Wine binary and the prefix it runs in.
type Wine struct {
	Bin, Prefix string
	// Env is added to every program's environment (after os.Environ and
	// WINEPREFIX); WINEDEBUG defaults to -all unless Env sets it.
	Env []string
	// unset drops variables of os.Environ from a program's environment
	// (RunTest's).
	unset func(kv string) bool
}

// Need returns the test environment's Wine, skipping or failing the test as
// peers.Need does when it is not there.
func Need(t testing.TB) *Wine {
	t.Helper()
	v := peers.Need(t, "MW_WINE", "MW_WINEPREFIX")
	return &Wine{Bin: v[0], Prefix: v[1]}
}

// Build builds the Go package pkg (a path relative to the test's directory)
// for windows/amd64 with cgo off into dir and returns the .exe's path.
func Build(t testing.TB, dir, pkg, name string) string {
	t.Helper()
	goBin := peers.Tool(t, "go", "needed to build the Windows binaries")
	exe := filepath.Join(dir, name)
	build := exec.Command(goBin, "build", "-o", exe, pkg)
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go build %s: %v\n%s", pkg, err, out)
	}
	return exe
}

// Result is what a program run under Wine printed and its exit code.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs prog with args under Wine, with env added to the environment,
// and waits at most timeout. A program that cannot be started or is killed
// at the timeout fails the test.
func (w *Wine) Run(t testing.TB, timeout time.Duration, env []string, prog string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.Bin, append([]string{prog}, args...)...)
	var base []string
	for _, kv := range os.Environ() {
		if w.unset == nil || !w.unset(kv) {
			base = append(base, kv)
		}
	}
	cmd.Env = append(base, "WINEPREFIX="+w.Prefix, "WINEDEBUG=-all")
	cmd.Env = append(append(cmd.Env, w.Env...), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("wine %s %s: killed after %s\nstdout: %s\nstderr: %s", prog, strings.Join(args, " "), timeout, out.String(), errb.String())
	case err == nil:
		return Result{out.String(), errb.String(), 0}
	case errors.As(err, &ee):
		return Result{out.String(), errb.String(), ee.ExitCode()}
	}
	t.Fatalf("wine %s: %v", prog, err)
	return Result{Code: -1}
}

// WinPath is p (relative to the test's directory or absolute) as a Windows
// path on Wine's Z: drive, which maps the host's root.
func WinPath(t testing.TB, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return `Z:` + strings.ReplaceAll(abs, "/", `\`)
}

// Private gives one test its own copy of w's prefix and its own wineserver,
// for tests that change the prefix (services, the registry) or need a
// debug channel of the processes the service manager starts. The copy hard
// links the prefix's files (about 700 MB, most of them DLLs Wine only
// reads; a real copy when linking fails) but copies the registry files,
// which wineserver rewrites. The wineserver is persistent until the test
// ends, so services.exe and the services it starts outlive each program run;
// the first program, wineboot, runs with WINEDEBUG=debug and its standard
// error, which services.exe and every service it starts inherit, goes to
// the returned file (e.g. debug "-all,+eventlog" for what ReportEvent
// writes). The wineserver is stopped at cleanup, after the cleanups the test
// registers later.
func (w *Wine) Private(t testing.TB, debug string) (*Wine, string) {
	t.Helper()
	dir := t.TempDir()
	prefix := filepath.Join(dir, "prefix")
	begin := time.Now()
	if err := linkTree(w.Prefix, prefix); err != nil {
		t.Fatalf("copying the Wine prefix: %v", err)
	}
	t.Logf("private Wine prefix %s copied in %s", prefix, time.Since(begin).Round(time.Millisecond))
	server := filepath.Join(filepath.Dir(w.Bin), "wineserver")
	if _, err := os.Stat(server); err != nil {
		if server, err = exec.LookPath("wineserver"); err != nil {
			t.Fatalf("no wineserver beside %s or on PATH", w.Bin)
		}
	}
	env := append(os.Environ(), "WINEPREFIX="+prefix)
	ws := exec.Command(server, "-f", "-p")
	ws.Env = env
	if err := ws.Start(); err != nil {
		t.Fatalf("wineserver: %v", err)
	}
	t.Cleanup(func() {
		kill := exec.Command(server, "-k")
		kill.Env = env
		_ = kill.Run()
		done := make(chan struct{})
		go func() { ws.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			ws.Process.Kill()
			<-done
		}
	})
	logPath := filepath.Join(dir, "debug.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	boot := exec.CommandContext(ctx, w.Bin, "wineboot")
	boot.Env = append(env, "WINEDEBUG="+debug)
	boot.Stdout, boot.Stderr = logFile, logFile // files: Wait does not wait for services.exe
	if err := boot.Run(); err != nil {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("wineboot in the private prefix: %v\n%s", err, b)
	}
	return &Wine{Bin: w.Bin, Prefix: prefix, Env: w.Env}, logPath
}

// readOnlyExt are the kinds of files of a prefix Wine only reads: the
// DLLs, programs, drivers and fonts linkTree hard-links.
var readOnlyExt = map[string]bool{".dll": true, ".exe": true, ".drv": true, ".sys": true, ".ocx": true, ".cpl": true,
	".acm": true, ".ax": true, ".tlb": true, ".nls": true, ".ttf": true, ".fon": true, ".mui": true, ".com": true, ".ds": true}

// linkTree recreates the tree src at dst: directories made, symbolic
// links copied as links, the files Wine only reads (readOnlyExt)
// hard-linked (copied when linking fails), every other file copied: the
// registry files, which wineserver rewrites, and the .ini files.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil // a temporary file of a wineserver using src, gone
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case !d.Type().IsRegular():
			return nil
		case !readOnlyExt[strings.ToLower(filepath.Ext(rel))]:
			err = copyFile(p, to)
		case os.Link(p, to) == nil:
			return nil
		default:
			err = copyFile(p, to)
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil // as above
		}
		return err
	})
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, fi.Mode().Perm())
}
