package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
	"mailwarden/internal/winetest"
)

// TestWineSSPIExplicitCredentials runs the Windows build under Wine with
// --auth-provider sspi: SSPI with a user and password given, not the
// process's account. NTLM goes through Wine's NTLM package, which runs
// Samba's ntlm_auth with that user and password (no winbindd), to the
// real Postfix with Cyrus SASL's ntlm plugin; Kerberos goes through Wine's
// Kerberos package, which gets a ticket from the real KDC with the
// password (no credential cache), to Cyrus's and Dovecot's GSSAPI. Each
// message is found in Postfix's files; probe names the account, the
// package and "explicit credentials"; a wrong password exits 4 with the
// hint and without the password. smtpcheck.exe is built here from the
// current source; the password comes from MAILWARDEN_PASSWORD.
func TestWineSSPIExplicitCredentials(t *testing.T) {
	wine := winetest.Need(t)
	v := peers.Need(t, "MW_CYRUS_SUBMISSION", "MW_DOVECOT_SUBMISSION", "MW_SASL_USER", "MW_SASL_PASSWORD", "MW_SASL_DOMAIN",
		"MW_KRB5_CONF", "MW_KRB5_USER_PRINCIPAL", "MW_KRB5_USER_PASSWORD", "MW_KRB5_SPN_HOST", "MW_TEST_CA",
		"MW_POSTFIX_MAILDIR", "MW_WINE_NTLM_PATH")
	cyrus, dovecot, user, password, domain := v[0], v[1], v[2], v[3], v[4]
	krb5conf, principal, krbPassword, host, ca, maildir, ntlmPath := v[5], v[6], v[7], v[8], v[9], v[10], v[11]
	dir := t.TempDir()
	exe := winetest.Build(t, dir, ".", "smtpcheck.exe")
	server := func(addr string) string {
		_, port, _ := strings.Cut(addr, ":")
		return host + ":" + port + "-starttls"
	}
	run := func(pw string, args ...string) (string, string, int) {
		t.Helper()
		env := []string{"PATH=" + ntlmPath + string(os.PathListSeparator) + os.Getenv("PATH"),
			"KRB5_CONFIG=" + krb5conf, "KRB5CCNAME=FILE:" + filepath.Join(dir, "no-ccache"), "MAILWARDEN_PASSWORD=" + pw}
		r := wine.Run(t, 3*time.Minute, env, exe, args...)
		return r.Stdout, r.Stderr, r.Code
	}

	for _, c := range []struct {
		name, mech, server, user, pw, pkg string
	}{
		{"NTLM as DOMAIN-user to Cyrus", "ntlm", cyrus, domain + `\` + user, password, "NTLM"},
		{"NTLM as user@domain to Cyrus", "NTLM", cyrus, user + "@" + domain, password, "NTLM"},
		{"Kerberos to Cyrus", "gssapi", cyrus, principal, krbPassword, "Kerberos"},
		{"Kerberos to Dovecot", "GSSAPI", dovecot, principal, krbPassword, "Kerberos"},
		{"auto to Cyrus picks Kerberos", "", cyrus, principal, krbPassword, "Kerberos"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tag := fmt.Sprintf("wine-sspi-explicit-%d", time.Now().UnixNano())
			args := []string{"--server", server(c.server), "--ca", ca, "--auth-provider", "sspi", "--user", c.user}
			if c.mech != "" {
				args = append(args, "--auth", c.mech)
			}
			out, stderr, code := run(c.pw, append([]string{"send", "--from", "a@example.com", "--to", "b@example.com",
				"--subject", tag, "--body", "sent through SSPI with explicit credentials under Wine"}, args...)...)
			if code != exitOK {
				t.Fatalf("send: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
			}
			peers.Delivered(t, maildir, tag)
			out, stderr, code = run(c.pw, append([]string{"probe"}, args...)...)
			wire := map[string]string{"NTLM": "NTLM", "Kerberos": "GSSAPI"}[c.pkg]
			want := "auth      authenticated with " + wire + " as " + c.user + " (SSPI " + c.pkg + ", explicit credentials)\n"
			if code != exitOK || !strings.Contains(out, want) {
				t.Errorf("probe: exit %d, want %q\nstdout: %s\nstderr: %s", code, want, out, stderr)
			}
		})
	}

	for _, c := range []struct {
		name, mech, server, user, hint string
	}{
		{"NTLM wrong password", "ntlm", cyrus, domain + `\` + user, "the server rejected the credentials"},
		{"Kerberos wrong password", "gssapi", cyrus, principal, "SSPI could not authenticate with the user and password given"},
	} {
		t.Run(c.name, func(t *testing.T) {
			const wrong = "wrong-sspi-password-never-shown"
			out, stderr, code := run(wrong, "send", "--server", server(c.server), "--ca", ca, "--auth", c.mech, "--auth-provider", "sspi",
				"--user", c.user, "--from", "a@example.com", "--to", "b@example.com", "--subject", "wrong password")
			if code != exitAuth || !strings.Contains(stderr, "hint: "+c.hint) {
				t.Errorf("exit %d, want %d and the hint %q\nstdout: %s\nstderr: %s", code, exitAuth, c.hint, out, stderr)
			}
			if strings.Contains(out+stderr, wrong) {
				t.Error("the password is in the output")
			}
		})
	}
}

// TestWineSystemAuthNTLM runs --auth system under Wine against the Cyrus
// listener that offers NTLM alone (as Exchange's internal connectors do),
// so SSPI's NTLM package runs with the process's own credentials. Wine's
// NTLM package has two sources for them: a domain credential saved for the
// relay's host in Credential Manager ("cmdkey /add:HOST", which Windows'
// NTLM prefers too; testdata/credstore saves one, as Wine has no cmdkey),
// handed to ntlm_auth as user and password; else ntlm_auth
// --use-cached-creds, which needs winbindd holding the logon's cached
// credentials in a joined domain. Without a saved credential (and with no
// winbindd here) the exchange fails: exit 4 and the NTLM hint. With one,
// the message is delivered and probe names the saved account.
func TestWineSystemAuthNTLM(t *testing.T) {
	wine := winetest.Need(t)
	v := peers.Need(t, "MW_CYRUS_NTLM_SUBMISSION", "MW_SASL_USER", "MW_SASL_PASSWORD", "MW_SASL_DOMAIN",
		"MW_KRB5_SPN_HOST", "MW_TEST_CA", "MW_POSTFIX_MAILDIR", "MW_WINE_NTLM_PATH")
	addr, user, password, domain, host, ca, maildir, ntlmPath := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	dir := t.TempDir()
	exe := winetest.Build(t, dir, ".", "smtpcheck.exe")
	credstore := winetest.Build(t, dir, "./testdata/credstore", "credstore.exe")
	_, port, _ := strings.Cut(addr, ":")
	server := host + ":" + port + "-starttls"
	env := []string{"PATH=" + ntlmPath + string(os.PathListSeparator) + os.Getenv("PATH")}
	// No credential from an earlier, interrupted run.
	wine.Run(t, time.Minute, nil, credstore, "-delete", host)

	r := wine.Run(t, 3*time.Minute, env, exe, "send", "--server", server, "--ca", ca, "--auth", "system",
		"--from", "a@example.com", "--to", "b@example.com", "--subject", "system NTLM without credentials")
	if r.Code != exitAuth || !strings.Contains(r.Stderr, "hint: NTLM through SSPI failed") {
		t.Errorf("without a saved credential: exit %d, want %d and the NTLM hint\nstdout: %s\nstderr: %s", r.Code, exitAuth, r.Stdout, r.Stderr)
	}

	account := domain + `\` + user
	if r := wine.Run(t, time.Minute, []string{"CREDSTORE_PASSWORD=" + password}, credstore, host, account); r.Code != 0 {
		t.Fatalf("credstore: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	t.Cleanup(func() { wine.Run(t, time.Minute, nil, credstore, "-delete", host) })
	tag := fmt.Sprintf("wine-system-ntlm-%d", time.Now().UnixNano())
	r = wine.Run(t, 3*time.Minute, env, exe, "send", "--server", server, "--ca", ca, "--auth", "system",
		"--from", "a@example.com", "--to", "b@example.com", "--subject", tag, "--body", "sent through SSPI NTLM under Wine")
	if r.Code != exitOK {
		t.Fatalf("send with a saved credential: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	peers.Delivered(t, maildir, tag)
	r = wine.Run(t, 3*time.Minute, env, exe, "probe", "--server", server, "--ca", ca, "--auth", "system")
	want := "auth      authenticated with NTLM as " + account + " (saved in Credential Manager for " + host + ") (system account, SSPI NTLM)\n"
	if r.Code != exitOK || !strings.Contains(r.Stdout, want) {
		t.Errorf("probe: exit %d, want %q\nstdout: %s\nstderr: %s", r.Code, want, r.Stdout, r.Stderr)
	}
}
