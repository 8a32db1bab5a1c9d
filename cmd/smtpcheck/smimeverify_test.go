package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func pemFingerprint(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", file)
	}
	sum := sha256.Sum256(blk.Bytes)
	return hex.EncodeToString(sum[:])
}

// TestSMIMEVerifyOutcomes: one exit code per outcome class (0 usable, 1 a
// certificate check failed, 2 cannot load), the chain checked against the
// CA given, each certificate described, each problem on a real line.
func TestSMIMEVerifyOutcomes(t *testing.T) {
	c := certsDir(t)
	signer := []string{"--sign-p12", filepath.Join(c, "signer-rsa.p12"), "--sign-password-file", filepath.Join(c, "PASSWORD")}
	good := append(append([]string{"smime", "verify"}, signer...), "--encrypt-cert", filepath.Join(c, "recipient-rsa.pem"),
		"--from", "alerts@example.com", "--ca", filepath.Join(c, "ca.pem"))
	out, stderr, code := runWith(t, nil, "", good...)
	if code != exitOK || !strings.Contains(out, "chains to") {
		t.Fatalf("usable: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"signer\n  subject  CN=Alerts Signer RSA,O=Mailwarden test\n  issuer   CN=Mailwarden Test CA,O=Mailwarden test\n  valid    2026-01-01T00:00:00Z to 2036-01-01T00:00:00Z\n",
		"recipient\n  subject  CN=Security Team RSA", "  sha256   " + pemFingerprint(t, filepath.Join(c, "recipient-rsa.pem")) + "\n",
		"  sha256   " + pemFingerprint(t, filepath.Join(c, "ca.pem")) + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	// The chain is checked against the CA given, and only that.
	_, stderr, code = runWith(t, nil, "", append(append([]string{"smime", "verify"}, signer...), "--ca", filepath.Join(c, "server.pem"))...)
	if code != exitCheck || !strings.Contains(stderr, "not trusted") {
		t.Errorf("another CA: exit %d, %q", code, stderr)
	}

	// An expired certificate is a failed check (1), not a usage error, and
	// its two problems are two real lines.
	_, stderr, code = runWith(t, nil, "", "smime", "verify", "--sign-p12", filepath.Join(c, "expired.p12"), "--sign-password-file", filepath.Join(c, "PASSWORD"))
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != exitCheck || strings.Contains(stderr, `\n`) || len(lines) != 3 || !strings.Contains(lines[0], "expired") || !strings.Contains(lines[1], "emailProtection") {
		t.Errorf("expired: exit %d, stderr:\n%s", code, stderr)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "smtpcheck smime verify: ") {
			t.Errorf("line %q is not a line of its own", l)
		}
	}

	// Files that cannot be read are usage errors (2).
	if _, _, code := runWith(t, nil, "", "smime", "verify", "--encrypt-cert", filepath.Join(c, "missing.pem")); code != exitUsage {
		t.Errorf("missing file: exit %d", code)
	}
	if _, _, code := runWith(t, nil, "", append(append([]string{"smime", "verify"}, signer...), "--ca", filepath.Join(c, "PASSWORD"))...); code != exitUsage {
		t.Errorf("--ca without a certificate: exit %d", code)
	}
}
