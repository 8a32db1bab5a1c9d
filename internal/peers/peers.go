// Package peers gives tests the addresses of the real peers (Postfix,
// Dovecot, the Kerberos KDC, Dante, Squid, rsyslog, ...) that the project's
// test environment starts on 127.0.0.1. testenv/up.sh starts them and writes
// their addresses as MW_* environment variables into an env file that .ci/run
// sources before it runs the tests.
//
// Without the environment a test that needs a peer is skipped with a message
// saying how to start it; with MAILWARDEN_REQUIRE_PEERS=1 (as .ci/run sets) it
// fails instead, so a CI run cannot pass by skipping.
package peers

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a skip into a failure.
const RequireEnv = "MAILWARDEN_REQUIRE_PEERS"

// Need returns the value of each named MW_* variable, skipping (or, with
// MAILWARDEN_REQUIRE_PEERS=1, failing) the test when any is unset.
func Need(t testing.TB, names ...string) []string {
	t.Helper()
	vals := make([]string, len(names))
	for i, n := range names {
		v := os.Getenv(n)
		if v == "" {
			msg := "real peer not running: " + n + " is unset; start the test environment with 'testenv/up.sh' and 'source testenv/run/env'"
			if os.Getenv(RequireEnv) == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		vals[i] = v
	}
	return vals
}

// Get is Need for a single variable.
func Get(t testing.TB, name string) string {
	t.Helper()
	return Need(t, name)[0]
}

// Delivered waits up to 20 seconds for a file in maildir (a delivery
// directory of the test Postfix) that contains tag, and returns its path and
// contents; the test fails when none appears.
func Delivered(t testing.TB, maildir, tag string) (string, []byte) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(maildir, "*"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(tag)) {
				return f, b
			}
		}
	}
	t.Fatalf("no message delivered to %s contains %q", maildir, tag)
	return "", nil
}

// Kinit gets a ticket for principal from keytab with MIT Kerberos' kinit
// (under the krb5.conf krb5conf) into a new file credential cache and
// returns the cache's path. Without kinit on PATH the test is skipped (it
// fails with MAILWARDEN_REQUIRE_PEERS=1).
func Kinit(t testing.TB, krb5conf, keytab, principal string) string {
	t.Helper()
	ccache, ok := TryKinit(t, krb5conf, keytab, principal)
	if !ok {
		t.Skip("no kinit (krb5-user) on PATH")
	}
	return ccache
}

// TryKinit is Kinit for a test that has other cases to run without a
// ticket: without kinit it returns false (and, with
// MAILWARDEN_REQUIRE_PEERS=1, marks the test failed) instead of skipping.
func TryKinit(t testing.TB, krb5conf, keytab, principal string) (string, bool) {
	t.Helper()
	kinit, err := exec.LookPath("kinit")
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatal("kinit (krb5-user) is not installed")
		}
		return "", false
	}
	ccache := filepath.Join(t.TempDir(), "ccache")
	cmd := exec.Command(kinit, "-k", "-t", keytab, "-c", "FILE:"+ccache, principal)
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+krb5conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kinit: %v: %s", err, out)
	}
	return ccache, true
}

// Tool returns the path of the program name on PATH. Without it the test
// is skipped, or, with MAILWARDEN_REQUIRE_PEERS=1, fails; the message is
// name and what (the package that has it, what the test needs it for).
func Tool(t testing.TB, name, what string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := name + " is not on PATH: " + what
		if os.Getenv(RequireEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}
