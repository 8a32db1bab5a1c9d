//go:build cgo

package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
)

// softhsm is the test environment's SoftHSM token.
type softhsm struct {
	module, pinFile, rsa, ec, tls string
}

func needToken(t *testing.T) softhsm {
	t.Helper()
	v := peers.Need(t, "MW_PKCS11_MODULE", "MW_PKCS11_PIN_FILE", "MW_PKCS11_RSA", "MW_PKCS11_EC", "MW_PKCS11_TLS", "MW_SOFTHSM2_CONF")
	t.Setenv("SOFTHSM2_CONF", v[5])
	return softhsm{module: v[0], pinFile: v[1], rsa: v[2], ec: v[3], tls: v[4]}
}

func (h softhsm) flags() []string {
	return []string{"--pkcs11-module", h.module, "--pkcs11-pin-file", h.pinFile}
}

// TestSendSignedWithTokenKeysThroughPostfixVerifiedByOpenSSLAndGpgsm signs
// with the RSA (PKCS#1 v1.5 and PSS) and P-256 keys on the SoftHSM token,
// the certificate read from the token too, sends through the real Postfix,
// and has two independent CMS implementations verify the delivered file:
// OpenSSL's cms -verify and GnuPG's gpgsm --verify.
func TestSendSignedWithTokenKeysThroughPostfixVerifiedByOpenSSLAndGpgsm(t *testing.T) {
	h := needToken(t)
	v := peers.Need(t, "MW_POSTFIX_STARTTLS", "MW_POSTFIX_MAILDIR", "MW_TEST_CA")
	openssl := needOpenSSL(t)
	gpgsm := gpgsmHome(t, v[2])
	for _, tc := range []struct {
		name, ref string
		extra     []string
		algo      string // what gpgsm reports
	}{
		{"rsa-pkcs1", h.rsa, nil, "rsa2048"},
		{"rsa-pss", h.rsa, []string{"--sign-pss"}, "rsa2048"},
		{"p256", h.ec, nil, "nistp256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag := "p11-" + tc.name + "-" + time.Now().Format("150405.000000000")
			args := append([]string{"send", "--server", v[0], "--tls", "explicit", "--ca", v[2],
				"--from", "Alerts <alerts@example.com>", "--to", "security@example.org", "--subject", tag, "--body", "signed on the token " + tag,
				"--sign-key", tc.ref, "--json"}, append(h.flags(), tc.extra...)...)
			out, stderr, code := runWith(t, nil, "", args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var res sendOut
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			msg := waitDelivered(t, v[1], res.QueueID)
			if !bytes.Contains(msg, []byte("application/pkcs7-signature")) {
				t.Fatalf("not signed:\n%.500s", msg)
			}
			f := filepath.Join(t.TempDir(), "msg.eml")
			os.WriteFile(f, msg, 0o600)
			cmd := exec.Command(openssl, "cms", "-verify", "-CAfile", v[2], "-purpose", "smimesign", "-in", f)
			content, err := cmd.Output()
			if err != nil || !bytes.Contains(content, []byte("signed on the token "+tag)) {
				t.Fatalf("openssl cms -verify: %v\n%s", err, content)
			}
			data, sig := splitSigned(t, msg)
			gout := gpgsm(t, data, sig)
			if !strings.Contains(gout, "Good signature") || !strings.Contains(gout, tc.algo) {
				t.Fatalf("gpgsm --verify:\n%s", gout)
			}
		})
	}
}

// splitSigned returns the signed part of a multipart/signed message in
// canonical (CRLF) form and the decoded detached signature.
func splitSigned(t *testing.T, msg []byte) (data, sig []byte) {
	t.Helper()
	m := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	b := regexp.MustCompile(`boundary="([^"]+)"`).FindSubmatch(m)
	if b == nil {
		t.Fatalf("no boundary in\n%.400s", m)
	}
	parts := bytes.Split(m, append([]byte("\n--"), b[1]...))
	if len(parts) < 3 {
		t.Fatalf("%d parts", len(parts))
	}
	data = bytes.ReplaceAll(bytes.TrimPrefix(parts[1], []byte("\n")), []byte("\n"), []byte("\r\n"))
	_, body, _ := bytes.Cut(parts[2], []byte("\n\n"))
	sig, err := base64.StdEncoding.DecodeString(string(bytes.ReplaceAll(body, []byte("\n"), nil)))
	if err != nil {
		t.Fatal(err)
	}
	return data, sig
}

// gpgsmHome makes a GnuPG home that trusts only the test CA (CRLs off: the
// test CA publishes none) and returns a function verifying a detached
// signature with gpgsm.
func gpgsmHome(t *testing.T, ca string) func(t *testing.T, data, sig []byte) string {
	t.Helper()
	gpgsm := peers.Tool(t, "gpgsm", "a required peer (testenv installs gpgsm)")
	home, err := os.MkdirTemp("", "mw-gpgsm-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o700)
	t.Cleanup(func() {
		// gpgsm started an agent for this home only; stop it, by home.
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	os.WriteFile(filepath.Join(home, "gpgsm.conf"), []byte("disable-crl-checks\ndisable-dirmngr\n"), 0o600)
	if out, err := exec.Command(gpgsm, "--homedir", home, "--batch", "--import", ca).CombinedOutput(); err != nil {
		t.Fatalf("gpgsm --import: %v\n%s", err, out)
	}
	pemData, _ := os.ReadFile(ca)
	der := pemDER(t, pemData)
	sum := sha1.Sum(der)
	fpr := strings.ToUpper(hex.EncodeToString(sum[:]))
	os.WriteFile(filepath.Join(home, "trustlist.txt"), []byte(fpr+" S relax\n"), 0o600)
	return func(t *testing.T, data, sig []byte) string {
		d := t.TempDir()
		df, sf := filepath.Join(d, "data"), filepath.Join(d, "sig.p7s")
		os.WriteFile(df, data, 0o600)
		os.WriteFile(sf, sig, 0o600)
		out, err := exec.Command(gpgsm, "--homedir", home, "--batch", "--verify", sf, df).CombinedOutput()
		if err != nil {
			t.Fatalf("gpgsm --verify: %v\n%s", err, out)
		}
		return string(out)
	}
}

func pemDER(t *testing.T, p []byte) []byte {
	t.Helper()
	s := string(p)
	i, j := strings.Index(s, "-----BEGIN CERTIFICATE-----"), strings.Index(s, "-----END CERTIFICATE-----")
	if i < 0 || j < 0 {
		t.Fatal("no certificate in CA file")
	}
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s[i+len("-----BEGIN CERTIFICATE-----"):j]), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestProbeClientCertificateKeyOnTokenAcceptedByServerRequiringIt: a TLS
// server that requires a client certificate (openssl s_server -Verify 1
// -verify_return_error, trusting only the test CA) accepts the one whose
// key stays on the token; the module comes from MAILWARDEN_PKCS11_MODULE.
func TestProbeClientCertificateKeyOnTokenAcceptedByServerRequiringIt(t *testing.T) {
	h := needToken(t)
	ca := peers.Get(t, "MW_TEST_CA")
	openssl := needOpenSSL(t)
	c := certsDir(t)
	srv := exec.Command(openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-cert", filepath.Join(c, "server.pem"),
		"-key", filepath.Join(c, "server.key"), "-CAfile", ca, "-Verify", "1", "-verify_return_error")
	// s_server passes its standard input to the client: a scripted SMTP
	// greeting, EHLO reply and QUIT reply.
	// It closes the connection when its input ends: keep it open.
	in, inw := io.Pipe()
	srv.Stdin = in
	go io.WriteString(inw, "220 s_server ready\r\n250 s_server\r\n221 bye\r\n")
	logf := filepath.Join(t.TempDir(), "s_server.out")
	lf, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	srv.Stdout, srv.Stderr = lf, lf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inw.Close(); srv.Process.Kill(); srv.Wait() })
	// waitFor polls s_server's output for a line matching re.
	waitFor := func(re *regexp.Regexp) []string {
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			b, _ := os.ReadFile(logf)
			if m := re.FindStringSubmatch(string(b)); m != nil {
				return m
			}
		}
		b, _ := os.ReadFile(logf)
		t.Fatalf("s_server output has no %s:\n%s", re, b)
		return nil
	}
	port := waitFor(regexp.MustCompile(`ACCEPT 127\.0\.0\.1:(\d+)`))[1]
	out, stderr, code := runWith(t, map[string]string{"MAILWARDEN_PKCS11_MODULE": h.module}, "", "probe",
		"--server", "127.0.0.1:"+port, "--tls", "implicit", "--ca", ca, "--tls-server-name", "localhost", "--timeout", "10s",
		"--client-key", h.tls, "--pkcs11-pin-file", h.pinFile, "--json")
	if code != exitOK {
		t.Fatalf("probe: exit %d\n%s\n%s", code, out, stderr)
	}
	var res probeOut
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Keys) != 1 || res.Keys[0].Use != "tls-client" || res.Keys[0].Kind != "pkcs11" || res.Keys[0].Object != "tls-client" ||
		res.Keys[0].TestSignature != "ok" || res.Keys[0].Slot == nil {
		t.Fatalf("keys in the probe: %+v", res.Keys)
	}
	// The server saw and verified the client certificate from the token.
	waitFor(regexp.MustCompile(`depth=0 O = Mailwarden test, CN = mailwarden-client\s+verify return:1`))
}

// TestTokenErrorsExitCodes: a wrong PIN, a missing object and a missing
// module are usage/configuration errors (exit 2) with a hint, and the
// PIN never appears in the output. Each runs as its own smtpcheck process
// (a process logs in to a token once).
func TestTokenErrorsExitCodes(t *testing.T) {
	h := needToken(t)
	wrong := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(wrong, []byte("not-the-pin-4711\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong PIN", []string{"--sign-key", h.rsa, "--pkcs11-module", h.module, "--pkcs11-pin-file", wrong}, "PIN incorrect"},
		{"missing object", append([]string{"--sign-key", "pkcs11:token=mailwarden;object=no-such-key"}, h.flags()...), "object not found"},
		{"missing module", []string{"--sign-key", h.rsa, "--pkcs11-module", "/nonexistent/libp11.so", "--pkcs11-pin-file", h.pinFile}, "--pkcs11-module"},
		{"inline PIN", append([]string{"--sign-key", h.rsa + "?pin-value=1234"}, h.flags()...), "pin-source"},
	} {
		cmd, out := smtpcheckProc(t, append([]string{"smime", "verify"}, tc.args...)...)
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		if err != nil && code < 0 {
			t.Fatal(err)
		}
		if code != exitUsage || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: exit %d, output %q, want exit %d and %q", tc.name, code, out.String(), exitUsage, tc.want)
		}
		if strings.Contains(out.String(), "not-the-pin-4711") {
			t.Errorf("%s: output contains the PIN", tc.name)
		}
	}
}

// TestSMIMEVerifyShowsTokenKey: smime verify names the token, slot and
// object of the key and the outcome of the test signature.
func TestSMIMEVerifyShowsTokenKey(t *testing.T) {
	h := needToken(t)
	out, stderr, code := runWith(t, nil, "", append([]string{"smime", "verify", "--sign-key", h.ec, "--from", "alerts@example.com"}, h.flags()...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !regexp.MustCompile(`key +smime-sign: pkcs11 token "mailwarden" serial \S+ slot \d+ object "smime-ec" .*test signature ok`).MatchString(out) {
		t.Fatalf("no key line in:\n%s", out)
	}
}
