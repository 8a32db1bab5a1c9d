package winetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
)

// BuildTest builds the test binary of the Go package pkg (a path relative
// to the test's directory) for windows/amd64 with cgo off into dir and
// returns the .exe's path; dir should be the test's own (t.TempDir()). The binary is built with the winetest tag: a
// package whose Windows tests import internal/winetest/removeall then
// removes directory trees the way Wine supports (see that package).
func BuildTest(t testing.TB, dir, pkg, name string) string {
	t.Helper()
	goBin := peers.Tool(t, "go", "needed to build the Windows binaries")
	// go test caches a passing result on the files the test process
	// opened, but the Windows build reads the sources in a child process:
	// a cached pass would hide a change to them. Opening a file that exists
	// only during this run (dir is the test's) makes every run a cache miss.
	stamp := filepath.Join(dir, ".winetest-run")
	if err := os.WriteFile(stamp, []byte(time.Now().String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(stamp); err == nil {
		f.Close()
	}
	exe := filepath.Join(dir, name)
	build := exec.Command(goBin, "test", "-c", "-tags", "winetest", "-ldflags=-checklinkname=0", "-o", exe, pkg)
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go test -c %s: %v\n%s", pkg, err, out)
	}
	return exe
}

// TestResult is what a test binary run under Wine did: the tests (and
// subtests) that passed, failed and were skipped, by name, and its output.
type TestResult struct {
	Result
	Passed, Failed, Skipped []string
}

var testLine = regexp.MustCompile(`(?m)^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// RunTest runs a test binary built by BuildTest under Wine with -test.v
// and args, in the test's directory (its testdata is there), and returns
// what it reported. The test environment's variables (MW_*) and
// MAILWARDEN_REQUIRE_PEERS are removed from its environment, so that its
// tests that need a peer skip: it runs the tests that need none.
func (w *Wine) RunTest(t testing.TB, timeout time.Duration, exe string, args ...string) TestResult {
	t.Helper()
	c := *w
	c.unset = func(kv string) bool {
		return strings.HasPrefix(kv, "MW_") || strings.HasPrefix(kv, peers.RequireEnv+"=")
	}
	r := TestResult{Result: c.Run(t, timeout, nil, exe, append([]string{"-test.v"}, args...)...)}
	for _, m := range testLine.FindAllStringSubmatch(r.Stdout, -1) {
		switch m[1] {
		case "PASS":
			r.Passed = append(r.Passed, m[2])
		case "FAIL":
			r.Failed = append(r.Failed, m[2])
		case "SKIP":
			r.Skipped = append(r.Skipped, m[2])
		}
	}
	return r
}

// CheckTests fails t unless every test in r passed or was skipped, except
// those named in known (test name to why it cannot pass under Wine, or on
// Windows at all), and unless every test in must passed. It logs the
// counts, and the known failures that passed this time.
func CheckTests(t testing.TB, r TestResult, must []string, known map[string]string) {
	t.Helper()
	for _, name := range r.Failed {
		if _, ok := known[name]; !ok {
			t.Errorf("%s failed under Wine", name)
		}
	}
	for _, name := range must {
		if !slices.Contains(r.Passed, name) {
			t.Errorf("%s did not pass under Wine", name)
		}
	}
	if r.Code != 0 && len(r.Failed) == 0 {
		t.Errorf("the test binary exited %d without a failed test", r.Code)
	}
	if t.Failed() {
		t.Logf("output under Wine:\n%s\n%s", r.Stdout, r.Stderr)
	}
	for name, why := range known {
		if slices.Contains(r.Failed, name) {
			t.Logf("known failure %s: %s", name, why)
		} else if slices.Contains(r.Passed, name) {
			t.Logf("known failure %s passed this time", name)
		}
	}
	t.Logf("under Wine: %d passed, %d skipped, %d failed (%d of them known)", len(r.Passed), len(r.Skipped), len(r.Failed),
		len(slices.DeleteFunc(slices.Clone(r.Failed), func(n string) bool { _, ok := known[n]; return !ok })))
}
