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
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv(peers.RequireEnv) == "1" {
			t.Fatalf("go is not on PATH: %v", err)
		}
		t.Skip("no go on PATH")
	}
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
