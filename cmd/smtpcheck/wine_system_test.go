package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
	"mailwarden/internal/winetest"
)

// TestWineSystemAuthSSPI runs the Windows build of smtpcheck under Wine,
// whose SSPI Kerberos package is MIT Kerberos with the credential cache
// and krb5.conf it inherits: --auth system authenticates to the real
// Dovecot and to the real Postfix with Cyrus SASL's GSSAPI (which offers
// NTLM too) with a ticket from the real KDC (SASL GSSAPI through SSPI,
// security layer included), each message is delivered to Postfix's files,
// probe names the account and the package; with no ticket the exit code is
// 4 and the hint is printed. smtpcheck.exe is built here from the current
// source.
func TestWineSystemAuthSSPI(t *testing.T) {
	wine := winetest.Need(t)
	v := peers.Need(t, "MW_DOVECOT_SUBMISSION", "MW_KRB5_CONF", "MW_KRB5_USER_PRINCIPAL",
		"MW_KRB5_USER_KEYTAB", "MW_KRB5_SPN_HOST", "MW_TEST_CA", "MW_POSTFIX_MAILDIR", "MW_CYRUS_SUBMISSION")
	krb5conf, principal, keytab, host, ca, maildir := v[1], v[2], v[3], v[4], v[5], v[6]
	ccache := peers.Kinit(t, krb5conf, keytab, principal)
	dir := t.TempDir()
	exe := winetest.Build(t, dir, ".", "smtpcheck.exe")
	_, port, _ := strings.Cut(v[0], ":")
	server := host + ":" + port + "-starttls"

	run := func(ccname string, args ...string) (string, string, int) {
		t.Helper()
		r := wine.Run(t, 3*time.Minute, []string{"KRB5_CONFIG=" + krb5conf, "KRB5CCNAME=" + ccname}, exe, args...)
		return r.Stdout, r.Stderr, r.Code
	}

	tag := fmt.Sprintf("wine-sspi-%d", time.Now().UnixNano())
	out, stderr, code := run("FILE:"+ccache, "send", "--server", server, "--ca", ca, "--auth", "system",
		"--from", "a@example.com", "--to", "b@example.com", "--subject", tag, "--body", "sent through SSPI under Wine")
	if code != exitOK {
		t.Fatalf("send under Wine: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	peers.Delivered(t, maildir, tag)

	_, cyrusPort, _ := strings.Cut(v[7], ":")
	tag = fmt.Sprintf("wine-sspi-cyrus-%d", time.Now().UnixNano())
	out, stderr, code = run("FILE:"+ccache, "send", "--server", host+":"+cyrusPort+"-starttls", "--ca", ca, "--auth", "system",
		"--from", "a@example.com", "--to", "b@example.com", "--subject", tag, "--body", "sent through SSPI to Cyrus under Wine")
	if code != exitOK {
		t.Fatalf("send to Cyrus under Wine: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	peers.Delivered(t, maildir, tag)

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
