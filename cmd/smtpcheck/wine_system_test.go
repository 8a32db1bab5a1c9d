package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
)

// TestWineSystemAuthSSPI runs the Windows build of smtpcheck under Wine,
// whose SSPI Kerberos package is MIT Kerberos with the credential cache
// and krb5.conf it inherits: --auth system authenticates to the real
// Dovecot with a ticket from the real KDC (SASL GSSAPI through SSPI,
// security layer included), the message is delivered to Postfix's files,
// probe names the account and the package; with no ticket the exit code is
// 4 and the hint is printed. smtpcheck.exe is built here from the current
// source.
func TestWineSystemAuthSSPI(t *testing.T) {
	v := peers.Need(t, "MW_WINE", "MW_WINEPREFIX", "MW_DOVECOT_SUBMISSION", "MW_KRB5_CONF", "MW_KRB5_USER_PRINCIPAL",
		"MW_KRB5_USER_KEYTAB", "MW_KRB5_SPN_HOST", "MW_TEST_CA", "MW_POSTFIX_MAILDIR")
	wine, prefix, krb5conf, principal, keytab, host, ca, maildir := v[0], v[1], v[3], v[4], v[5], v[6], v[7], v[8]
	kinit, err := exec.LookPath("kinit")
	goBin, gerr := exec.LookPath("go")
	if err != nil || gerr != nil {
		if os.Getenv(peers.RequireEnv) == "1" {
			t.Fatalf("kinit (krb5-user) or go is not on PATH: %v %v", err, gerr)
		}
		t.Skip("no kinit or go on PATH")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "smtpcheck.exe")
	build := exec.Command(goBin, "build", "-o", exe, ".")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go build: %v\n%s", err, out)
	}
	ccache := filepath.Join(dir, "ccache")
	k := exec.Command(kinit, "-k", "-t", keytab, "-c", "FILE:"+ccache, principal)
	k.Env = append(os.Environ(), "KRB5_CONFIG="+krb5conf)
	if out, err := k.CombinedOutput(); err != nil {
		t.Fatalf("kinit: %v: %s", err, out)
	}
	_, port, _ := strings.Cut(v[2], ":")
	server := host + ":" + port + "-starttls"

	run := func(ccname string, args ...string) (string, string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, wine, append([]string{exe}, args...)...)
		cmd.Env = append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all", "KRB5_CONFIG="+krb5conf, "KRB5CCNAME="+ccname)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return out.String(), errb.String(), 0
		case errors.As(err, &ee):
			return out.String(), errb.String(), ee.ExitCode()
		}
		t.Fatalf("wine %s: %v", exe, err)
		return "", "", -1
	}

	tag := fmt.Sprintf("wine-sspi-%d", time.Now().UnixNano())
	out, stderr, code := run("FILE:"+ccache, "send", "--server", server, "--ca", ca, "--auth", "system",
		"--from", "a@example.com", "--to", "b@example.com", "--subject", tag, "--body", "sent through SSPI under Wine")
	if code != exitOK {
		t.Fatalf("send under Wine: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	found := false
	for deadline := time.Now().Add(20 * time.Second); !found && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(maildir, "*"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(tag)) {
				found = true
				break
			}
		}
	}
	if !found {
		t.Errorf("the message sent under Wine (%s) was not delivered", tag)
	}

	out, stderr, code = run("FILE:"+ccache, "probe", "--server", server, "--ca", ca, "--auth", "system")
	if code != exitOK || !strings.Contains(out, "auth      authenticated with GSSAPI as ") || !strings.Contains(out, "(system account, SSPI Kerberos)") {
		t.Errorf("probe under Wine: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}

	out, stderr, code = run("FILE:"+filepath.Join(dir, "no-such-ccache"), "send", "--server", server, "--ca", ca, "--auth", "system",
		"--from", "a@example.com", "--to", "b@example.com", "--subject", "no ticket")
	if code != exitAuth || !strings.Contains(stderr, "hint: ") || !strings.Contains(stderr, "SSPI found no credentials") {
		t.Errorf("without a ticket under Wine: exit %d, want %d and the hint\nstdout: %s\nstderr: %s", code, exitAuth, out, stderr)
	}
}
