package main

import (
	"path/filepath"
	"strings"
	"testing"

	"mailwarden/internal/peers"
)

// TestSystemAuthCLI: --auth system with the process's credential cache
// authenticates to the real Dovecot (tickets from the real MIT KDC) and
// probe names the principal and the package; with no ticket and no client
// keytab, send exits 4 with the hint. The mechanism reads the process
// environment (KRB5CCNAME, KRB5_CLIENT_KTNAME), so the test sets it.
func TestSystemAuthCLI(t *testing.T) {
	v := peers.Need(t, "MW_DOVECOT_SUBMISSION", "MW_KRB5_CONF", "MW_KRB5_USER_PRINCIPAL", "MW_KRB5_USER_KEYTAB", "MW_KRB5_SPN_HOST", "MW_TEST_CA")
	ccache := peers.Kinit(t, v[1], v[3], v[2])
	dir := t.TempDir()
	t.Setenv("KRB5_CONFIG", v[1])
	t.Setenv("KRB5_CLIENT_KTNAME", "")
	_, port, _ := strings.Cut(v[0], ":")
	server := v[4] + ":" + port + "-starttls"

	t.Setenv("KRB5CCNAME", "FILE:"+ccache)
	out, stderr, code := runWith(t, nil, "", "probe", "--server", server, "--ca", v[5], "--auth", "system")
	want := "auth      authenticated with GSSAPI as " + v[2] + " (system account, Kerberos from the credential cache FILE:" + ccache + ")\n"
	if code != exitOK || !strings.Contains(out, want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, stderr, want)
	}

	t.Setenv("KRB5CCNAME", "FILE:"+filepath.Join(dir, "none"))
	out, stderr, code = runWith(t, nil, "", "send", "--server", server, "--ca", v[5], "--auth", "system",
		"--from", "a@example.com", "--to", "b@example.com", "--subject", "system auth without a ticket")
	if code != exitAuth || !strings.Contains(stderr, "no Kerberos ticket") || !strings.Contains(stderr, "kinit") {
		t.Errorf("exit %d, stdout %q, stderr %q; want %d and the hint", code, out, stderr, exitAuth)
	}
}
