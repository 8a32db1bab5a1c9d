package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
)

func certsDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs("../../testdata/certs")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSendSignedEncryptedThroughPostfixOpensWithOpenSSL sends a signed
// (RSA-PSS) and encrypted (AES-256-GCM, RSA-OAEP) message through the real
// Postfix and has OpenSSL decrypt and verify the delivered file.
func TestSendSignedEncryptedThroughPostfixOpensWithOpenSSL(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_STARTTLS", "MW_POSTFIX_MAILDIR", "MW_TEST_CA")
	openssl := needOpenSSL(t)
	c := certsDir(t)
	tag := "smime-" + time.Now().Format("150405.000000000")
	out, stderr, code := runWith(t, nil, "", "send", "--server", v[0], "--tls", "explicit", "--ca", v[2],
		"--from", "Alerts <alerts@example.com>", "--to", "security@example.org", "--subject", tag, "--body", "signed and sealed "+tag,
		"--sign-p12", filepath.Join(c, "signer-rsa.p12"), "--sign-password-file", filepath.Join(c, "PASSWORD"), "--sign-pss", "--sign-hash", "sha384",
		"--encrypt-cert", filepath.Join(c, "recipient-rsa.pem"), "--encrypt-oaep", "--encrypt-cipher", "aes256-gcm", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res sendOut
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	delivered := waitDelivered(t, v[1], res.QueueID)
	if !bytes.Contains(delivered, []byte("smime-type=authEnveloped-data")) || bytes.Contains(delivered, []byte("signed and sealed")) {
		t.Fatalf("the delivered message is not encrypted:\n%.600s", delivered)
	}
	content := openSMIME(t, openssl, delivered)
	if !bytes.Contains(content, []byte("signed and sealed "+tag)) {
		t.Errorf("verified content lacks the body:\n%s", content)
	}
}

func TestSMIMEVerifyCommand(t *testing.T) {
	c := certsDir(t)
	args := []string{"smime", "verify", "--sign-p12", filepath.Join(c, "signer-rsa.p12"), "--sign-password-file", filepath.Join(c, "PASSWORD"),
		"--encrypt-cert", filepath.Join(c, "recipient-rsa.pem")}
	out, stderr, code := runWith(t, nil, "", append(args, "--from", "alerts@example.com")...)
	if code != exitOK || !strings.Contains(out, "ok") {
		t.Fatalf("good configuration: exit %d %s %s", code, out, stderr)
	}
	_, stderr, code = runWith(t, nil, "", append(args, "--from", "someone-else@example.com")...)
	if code != exitCheck || !strings.Contains(stderr, "someone-else@example.com") && !strings.Contains(stderr, "not in the certificate") {
		t.Errorf("From not in the certificate: exit %d %q", code, stderr)
	}
	bad := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(bad, []byte("wrong-p12-password\n"), 0o600)
	_, stderr, code = runWith(t, nil, "", "smime", "verify", "--sign-p12", filepath.Join(c, "signer-rsa.p12"), "--sign-password-file", bad)
	if code != exitUsage || strings.Contains(stderr, "wrong-p12-password") {
		t.Errorf("wrong PKCS#12 password: exit %d %q", code, stderr)
	}
}
