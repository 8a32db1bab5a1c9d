package main

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
	"mailwarden/internal/winetest"
)

// TestWineCertStore runs the Windows certificate store path
// (certstore:CurrentUser/My?...) of smtpcheck.exe under Wine. The test
// CA-signed RSA signer (testdata/certs/signer-rsa.p12) is imported with its
// key into the prefix's CurrentUser\My by a small Windows program
// (testdata/certimport: PFXImportCertStore + CertAddCertificateContextToStore,
// built here; Wine has no certutil). Wine 8's PFXImportCertStore refuses
// PKCS12_PREFER_CNG_KSP and puts the key in the legacy CryptoAPI provider
// "Microsoft Enhanced Cryptographic Provider v1.0"; keyref signs with such
// a key through CryptSignHash (the container opened with the RSA and AES
// provider for SHA-256). Asserted: the certificate is found by thumbprint,
// by subject and by e-mail address and the test signature succeeds; a
// message signed with it goes through the real Postfix and openssl cms
// -verify verifies it; RSASSA-PSS is refused with a clear error (exit 1);
// an unknown thumbprint is "object not found" (exit 2).
func TestWineCertStore(t *testing.T) {
	wine := winetest.Need(t)
	v := peers.Need(t, "MW_POSTFIX_PLAIN", "MW_POSTFIX_MAILDIR")
	postfix, maildir := v[0], v[1]
	openssl := peers.Tool(t, "openssl", "a required peer")
	dir := t.TempDir()
	exe := winetest.Build(t, dir, ".", "smtpcheck.exe")
	importer := winetest.Build(t, dir, "./testdata/certimport", "certimport.exe")
	run := func(prog string, args ...string) (string, string, int) {
		t.Helper()
		r := wine.Run(t, 2*time.Minute, nil, prog, args...)
		return r.Stdout, r.Stderr, r.Code
	}
	winPath := func(p string) string { return winetest.WinPath(t, p) }

	pemBytes, err := os.ReadFile("../../testdata/certs/signer-rsa.pem")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		t.Fatal("signer-rsa.pem holds no PEM block")
	}
	sum := sha1.Sum(blk.Bytes)
	thumb := hex.EncodeToString(sum[:])
	password, err := os.ReadFile("../../testdata/certs/PASSWORD")
	if err != nil {
		t.Fatal(err)
	}
	p12 := winPath("../../testdata/certs/signer-rsa.p12")

	// The CNG key storage provider is refused by Wine's PFXImportCertStore.
	out, stderr, code := run(importer, p12, strings.TrimSpace(string(password)), "cng")
	if code == 0 {
		t.Logf("PKCS12_PREFER_CNG_KSP import now succeeds under Wine (stdout %q): the legacy-provider assertions below may need updating", out)
	} else if !strings.Contains(stderr, "PFXImportCertStore: invalid argument") {
		t.Errorf("CNG import under Wine: exit %d, stderr %q", code, stderr)
	}
	out, stderr, code = run(importer, p12, strings.TrimSpace(string(password)))
	if code != 0 || strings.TrimSpace(out) != "imported "+thumb {
		t.Fatalf("import of signer-rsa.p12 under Wine: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}

	for _, q := range []string{"thumbprint=" + strings.ToUpper(thumb), "subject=Alerts Signer RSA", "subject=alerts@example.com"} {
		ref := "certstore:CurrentUser/My?" + q
		out, stderr, code = run(exe, "smime", "verify", "--sign-key", ref)
		if code != exitOK || !strings.Contains(out, `key       smime-sign: windows store CurrentUser/My "CN=Alerts Signer RSA,O=Mailwarden test"; test signature ok`) {
			t.Errorf("smime verify --sign-key %s under Wine: exit %d\nstdout: %s\nstderr: %s", ref, code, out, stderr)
		}
	}
	out, stderr, code = run(exe, "smime", "verify", "--sign-pss", "--sign-key", "certstore:CurrentUser/My?thumbprint="+thumb)
	if code != exitCheck || !strings.Contains(out+stderr, "RSASSA-PSS is not available with a key in a legacy CryptoAPI provider") {
		t.Errorf("smime verify --sign-pss under Wine: exit %d, want %d and the PSS error\nstdout: %s\nstderr: %s", code, exitCheck, out, stderr)
	}

	tag := fmt.Sprintf("wine-certstore-%d", time.Now().UnixNano())
	out, stderr, code = run(exe, "send", "--server", postfix, "--from", "alerts@example.com", "--to", "b@example.com",
		"--subject", tag, "--body", "signed with a key in the Windows store under Wine", "--sign-key", "certstore:CurrentUser/My?thumbprint="+thumb)
	if code != exitOK {
		t.Fatalf("send --sign-key certstore: under Wine: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	msg, _ := peers.Delivered(t, maildir, tag)
	ver := exec.Command(openssl, "cms", "-verify", "-CAfile", "../../testdata/certs/ca.pem", "-purpose", "smimesign", "-in", msg, "-out", os.DevNull)
	if vout, err := ver.CombinedOutput(); err != nil || !strings.Contains(string(vout), "Verification successful") {
		t.Errorf("openssl cms -verify of the message signed under Wine: %v\n%s", err, vout)
	}

	out, stderr, code = run(exe, "smime", "verify", "--sign-key", "certstore:CurrentUser/My?thumbprint="+strings.Repeat("00", 20))
	if code != exitUsage || !strings.Contains(stderr, "object not found") || !strings.Contains(stderr, `no certificate in CurrentUser\My matches`) {
		t.Errorf("unknown thumbprint under Wine: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
}
