package main

import (
	"strings"
	"testing"

	"mailwarden/internal/peers"
)

// TestProbeGSSAPIFromCCachePrintsPrincipal: with a credential cache from
// kinit (no --user), probe says which principal it authenticated as,
// against the real Dovecot and MIT KDC.
func TestProbeGSSAPIFromCCachePrintsPrincipal(t *testing.T) {
	v := peers.Need(t, "MW_DOVECOT_SUBMISSION", "MW_KRB5_CONF", "MW_KRB5_USER_PRINCIPAL", "MW_KRB5_USER_KEYTAB", "MW_KRB5_SPN_HOST", "MW_TEST_CA")
	ccache := peers.Kinit(t, v[1], v[3], v[2])
	_, port, _ := strings.Cut(v[0], ":")
	out, stderr, code := runWith(t, nil, "", "probe", "--server", v[4]+":"+port+"-starttls", "--ca", v[5],
		"--auth", "GSSAPI", "--ccache", ccache, "--krb5-conf", v[1])
	if code != exitOK || !strings.Contains(out, "auth      authenticated with GSSAPI as "+v[2]+"\n") {
		t.Errorf("exit %d, stdout %q, stderr %q; want the principal %s", code, out, stderr, v[2])
	}
}
