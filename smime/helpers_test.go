package smime

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const certDir = "../testdata/certs"

func loadIdentity(t testing.TB, name string) *Identity {
	t.Helper()
	id, err := LoadPEMFiles(filepath.Join(certDir, name+".pem"), filepath.Join(certDir, name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func loadCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	cs, err := LoadCertificateFile(filepath.Join(certDir, name+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	return cs[0]
}

func caPool(t testing.TB) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(loadCert(t, "ca"))
	return p
}

// inner is a typical inner entity with LF line endings, as a caller might
// write it; the wrappers canonicalise to CRLF.
const inner = "Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\nDisk /var is 97% full on host db1.\nFrom here on, a line starting with From.\n.\n"

var innerCRLF = strings.ReplaceAll(inner, "\n", "\r\n")

func wrapAll(t testing.TB, w Wrapper, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	wc, err := w.Wrap(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wc.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := wc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// needOpenSSL returns the openssl path, or skips (fails when
// MAILWARDEN_REQUIRE_PEERS=1).
func needOpenSSL(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("MAILWARDEN_REQUIRE_PEERS") == "1" {
			t.Fatal("openssl not found and MAILWARDEN_REQUIRE_PEERS=1")
		}
		t.Skip("openssl not found; skipping interop test")
	}
	return p
}

func runOpenSSL(t testing.TB, openssl string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(openssl, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Logf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, err
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pemCert(c *x509.Certificate) []byte { return pemBlock("CERTIFICATE", c.Raw) }
