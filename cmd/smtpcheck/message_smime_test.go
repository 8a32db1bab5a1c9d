package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"mailwarden/internal/peers"
)

// TestMessageSMIMEOpensWithOpenSSL: 'message' takes send's S/MIME flags,
// and OpenSSL decrypts and verifies what it writes.
func TestMessageSMIMEOpensWithOpenSSL(t *testing.T) {
	openssl := needOpenSSL(t)
	c := certsDir(t)
	out, stderr, code := runWith(t, nil, "", "message", "--from", "Alerts <alerts@example.com>", "--to", "security@example.org",
		"--subject", "sealed", "--body", "build only, signed and sealed",
		"--sign-p12", filepath.Join(c, "signer-rsa.p12"), "--sign-password-file", filepath.Join(c, "PASSWORD"),
		"--encrypt-cert", filepath.Join(c, "recipient-rsa.pem"), "--encrypt-cipher", "aes256-gcm")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "smime-type=authEnveloped-data") || strings.Contains(out, "signed and sealed") {
		t.Fatalf("not encrypted:\n%.600s", out)
	}
	if content := openSMIME(t, openssl, []byte(out)); !bytes.Contains(content, []byte("build only, signed and sealed")) {
		t.Fatalf("verified content lacks the body:\n%s", content)
	}

	// A wrong PKCS#12 password is a usage error, and nothing is written.
	bad := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(bad, []byte("wrong\n"), 0o600)
	out, _, code = runWith(t, nil, "", "message", "--from", "a@example.com", "--to", "b@example.com",
		"--sign-p12", filepath.Join(c, "signer-rsa.p12"), "--sign-password-file", bad)
	if code != exitUsage || out != "" {
		t.Errorf("wrong password: exit %d, %d bytes written", code, len(out))
	}
}

// needOpenSSL returns the openssl command, or skips (fails when peers are
// required).
func needOpenSSL(t *testing.T) string {
	t.Helper()
	openssl := peers.Tool(t, "openssl", "a required peer")
	return openssl
}

// openSMIME has OpenSSL decrypt msg for the test recipient and verify the
// signature against the test CA, and returns the verified content.
func openSMIME(t *testing.T, openssl string, msg []byte) []byte {
	t.Helper()
	c := certsDir(t)
	msgFile := filepath.Join(t.TempDir(), "msg.eml")
	os.WriteFile(msgFile, msg, 0o600)
	inner, err := exec.Command(openssl, "cms", "-decrypt", "-in", msgFile, "-recip", filepath.Join(c, "recipient-rsa.pem"), "-inkey", filepath.Join(c, "recipient-rsa.key")).Output()
	if err != nil {
		t.Fatalf("openssl cms -decrypt: %v", err)
	}
	ver := exec.Command(openssl, "cms", "-verify", "-CAfile", filepath.Join(c, "ca.pem"))
	ver.Stdin = bytes.NewReader(inner)
	var verr bytes.Buffer
	ver.Stderr = &verr
	content, err := ver.Output()
	if err != nil || !strings.Contains(verr.String(), "Verification successful") {
		t.Fatalf("openssl cms -verify: %v: %s", err, verr.String())
	}
	return content
}

// heapWatch discards what is written and samples the heap every 4 MiB.
type heapWatch struct {
	n, next int64
	peak    uint64
}

func (h *heapWatch) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	if h.n >= h.next {
		h.next = h.n + 4<<20
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		h.peak = max(h.peak, m.HeapInuse)
	}
	return len(p), nil
}

// TestMessageSMIMEConstantMemory: a signed and encrypted message with a
// 64 MiB attachment is written without holding it in memory.
func TestMessageSMIMEConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MiB")
	}
	c := certsDir(t)
	big := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	if err := f.Truncate(size); err != nil { // sparse: no disk needed
		t.Fatal(err)
	}
	f.Close()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	w := &heapWatch{}
	var errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: w, stderr: &errb, getenv: func(string) string { return "" }}
	code := run(context.Background(), e, []string{"message", "--from", "a@example.com", "--to", "b@example.com", "--attach", big,
		"--sign-p12", filepath.Join(c, "signer-rsa.p12"), "--sign-password-file", filepath.Join(c, "PASSWORD"),
		"--encrypt-cert", filepath.Join(c, "recipient-rsa.pem")})
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if w.n < size*4/3 {
		t.Fatalf("wrote %d bytes, want more than the base64 of %d", w.n, size)
	}
	grew := int64(w.peak) - int64(base.HeapInuse)
	t.Logf("wrote %d MiB; heap in use grew by at most %d KiB", w.n>>20, grew>>10)
	if grew > 16<<20 {
		t.Errorf("heap grew by %d MiB while writing a %d MiB message: not streaming", grew>>20, size>>20)
	}
}
