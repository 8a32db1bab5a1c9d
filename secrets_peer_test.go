package mailwarden

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/peers"
	"mailwarden/internal/testcert"
)

// leakScanner finds secrets in output: as written, hex-encoded, or inside
// any base64 run at any alignment.
type leakScanner map[string]string // secret -> label

var (
	b64Run = regexp.MustCompile(`[A-Za-z0-9+/]{8,}={0,2}`)
	hexRun = regexp.MustCompile(`[0-9a-fA-F]{16,}`)
)

func (s leakScanner) scan(t *testing.T, where string, data []byte) {
	t.Helper()
	for _, label := range s.find(data) {
		t.Errorf("%s leaked into %s", label, where)
	}
}

// find returns the labels of the secrets found in data.
func (s leakScanner) find(data []byte) []string {
	views := [][]byte{data, bytes.ToLower(data)}
	for _, run := range b64Run.FindAll(data, -1) {
		for off := 0; off < 4 && off < len(run); off++ {
			r := bytes.TrimRight(run[off:], "=")
			r = r[:len(r)/4*4]
			if d, err := base64.StdEncoding.DecodeString(string(r)); err == nil {
				views = append(views, d)
			}
			if d, err := base64.RawStdEncoding.DecodeString(string(bytes.TrimRight(run[off:], "="))); err == nil {
				views = append(views, d)
			}
		}
	}
	for _, run := range hexRun.FindAll(data, -1) {
		for off := 0; off < 2; off++ {
			r := run[off:]
			r = r[:len(r)/2*2]
			if d, err := hex.DecodeString(string(r)); err == nil {
				views = append(views, d)
			}
		}
	}
	var found []string
	for secret, label := range s {
		for _, v := range views {
			if bytes.Contains(v, []byte(secret)) {
				found = append(found, label)
				break
			}
		}
	}
	return found
}

// TestLeakScannerFindsEncodedSecrets shows the scanner can fail: a secret
// hidden as base64 at each alignment, as hex, or plain is found.
func TestLeakScannerFindsEncodedSecrets(t *testing.T) {
	s := leakScanner{"hunter2-secret": "pw"}
	for _, prefix := range []string{"", "x", "xy", "xyz"} {
		blob := base64.StdEncoding.EncodeToString([]byte(prefix + "\x00user\x00hunter2-secret"))
		if got := s.find([]byte("C: AUTH PLAIN " + blob + "\r\n")); len(got) != 1 {
			t.Errorf("base64 with prefix %q not found", prefix)
		}
	}
	if got := s.find([]byte(`{"k":"` + hex.EncodeToString([]byte("a hunter2-secret")) + `"}`)); len(got) != 1 {
		t.Error("hex not found")
	}
	if got := s.find([]byte("password=hunter2-secret")); len(got) != 1 {
		t.Error("plain not found")
	}
	if got := s.find([]byte("nothing to see, aHVudGVy, 68756e746572")); len(got) != 0 {
		t.Errorf("false positive: %v", got)
	}
}

// TestSecretsNeverWritten runs sends with every password mechanism, OAuth
// tokens, a proxy password and an S/MIME key password, right and wrong,
// through an audit file, real rsyslog and a transcript, and searches every
// byte written, and every error, for the secrets.
func TestSecretsNeverWritten(t *testing.T) {
	peers.Need(t, "MW_CYRUS_SUBMISSION", "MW_SASL_DOMAIN", "MW_KRB5_CONF", "MW_KRB5_USER_PRINCIPAL", "MW_KRB5_USER_PASSWORD")
	v := peers.Need(t, "MW_DOVECOT_SUBMISSION", "MW_SASL_USER", "MW_SASL_PASSWORD", "MW_OAUTH_JWT_KEY_FILE", "MW_OAUTH_USER",
		"MW_SOCKS5_AUTH", "MW_PROXY_USER", "MW_PROXY_PASSWORD", "MW_SYSLOG_TCP", "MW_SYSLOG_FILE", "MW_TEST_CA")
	dir := t.TempDir()
	token := mintJWT(t, v[3], v[4], 10*time.Minute)
	const p12Password = "P12-Secret-Passphrase-77"
	const wrongPassword = "Wrong-SASL-Passw0rd-42"
	const wrongProxy = "Wrong-Proxy-Passw0rd-43"
	leaks := leakScanner{os.Getenv("MW_KRB5_USER_PASSWORD"): "Kerberos password", v[2]: "SASL password", token: "OAuth token", v[7]: "proxy password", p12Password: "PKCS#12 password",
		wrongPassword: "wrong SASL password", wrongProxy: "wrong proxy password"}
	// The token's signature part alone is secret enough to search for too.
	leaks[token[strings.LastIndexByte(token, '.')+1:]] = "OAuth token signature"

	ca, _ := testcert.NewCA("secrets test")
	signer, _ := ca.Issue(testcert.Options{CommonName: "signer", Emails: []string{"a@example.com"}, Purpose: testcert.SMIME})
	p12, _ := signer.PKCS12(p12Password)
	p12File := filepath.Join(dir, "signer.p12")
	os.WriteFile(p12File, p12, 0o600)

	env := map[string]string{"SASL_PW": v[2], "TOKEN": token, "PROXY_PW": v[7], "P12_PW": p12Password}
	getenv := func(k string) string { return env[k] }
	auditFile := filepath.Join(dir, "audit.log")
	transcript := filepath.Join(dir, "transcript.log")
	tf, err := os.Create(transcript)
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()

	_, dport, _ := strings.Cut(v[0], ":")
	base := Profile{
		Name: "secrets", Servers: []string{"localhost:" + dport + "-starttls"}, CAFile: v[10],
		Proxy: Proxy{Type: "socks5", Host: hostPart(v[5]), Port: portPart(t, v[5]), User: v[6], Password: "env:PROXY_PW"},
		SMIME: SMIMEConfig{SignP12: p12File, SignPassword: "env:P12_PW"},
		Audit: AuditConfig{File: auditFile, Syslog: "tcp://" + v[8]},
	}
	var errs []string
	mechs := []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER", "NTLM", "GSSAPI"}
	for _, mech := range mechs {
		for _, wrong := range []bool{false, true} {
			p := base
			p.Auth = Auth{Mechanism: mech, Username: v[1], Password: "env:SASL_PW"}
			if strings.Contains(mech, "OAUTH") {
				p.Auth = Auth{Mechanism: mech, Username: v[4], OAuthToken: "env:TOKEN"}
			}
			if mech == "GSSAPI" {
				p.Auth = Auth{Mechanism: mech, Username: os.Getenv("MW_KRB5_USER_PRINCIPAL"), Password: "env:KRB5_PW", Krb5Conf: os.Getenv("MW_KRB5_CONF")}
				env["KRB5_PW"] = os.Getenv("MW_KRB5_USER_PASSWORD")
				if wrong {
					env["KRB5_PW"] = wrongPassword
				}
			}
			if mech == "NTLM" { // Dovecot has no NTLM here: Cyrus does
				_, cport, _ := strings.Cut(os.Getenv("MW_CYRUS_SUBMISSION"), ":")
				p.Servers = []string{"localhost:" + cport + "-starttls"}
				p.Auth.Username = os.Getenv("MW_SASL_DOMAIN") + `\` + v[1]
			}
			if wrong {
				env["SASL_PW"], env["TOKEN"] = wrongPassword, token[:len(token)-4]+"AAAA"
			} else {
				env["SASL_PW"], env["TOKEN"] = v[2], token
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			s, err := NewSender(ctx, p, &Options{Getenv: getenv, Transcript: tf})
			if err != nil {
				cancel()
				t.Fatalf("%s: %v", mech, err)
			}
			m := &envelope.Message{From: headers.Address{Addr: "a@example.com"}, To: []headers.Address{{Addr: "b@example.com"}},
				Subject: "secrets " + mech, Text: "body\r\n"}
			_, err = s.Send(ctx, m)
			if wrong == (err == nil) {
				t.Errorf("%s wrong=%v: err = %v", mech, wrong, err)
			}
			if err != nil {
				errs = append(errs, fmt.Sprintf("%v | %+v | %#v", err, err, err))
			}
			_, perr := s.Probe(ctx)
			if perr != nil {
				errs = append(errs, perr.Error())
			}
			s.Close()
			cancel()
		}
	}
	// A wrong proxy password, too.
	env["PROXY_PW"] = wrongProxy
	s, err := NewSender(context.Background(), base, &Options{Getenv: getenv, Transcript: tf})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Probe(context.Background()); err == nil {
		t.Error("wrong proxy password accepted")
	} else {
		errs = append(errs, fmt.Sprintf("%v | %+v", err, err))
	}
	s.Close()

	var trail []byte
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		trail = append(trail, b...)
	}
	if !bytes.Contains(trail, []byte(`"msg":"smtp.send"`)) || !bytes.Contains(trail, []byte(`"signed":true`)) {
		t.Fatalf("the audit file does not hold the sends:\n%.2000s", trail)
	}
	leaks.scan(t, "the audit file", trail)
	tr, _ := os.ReadFile(transcript)
	if !bytes.Contains(tr, []byte("AUTH ")) {
		t.Fatal("the transcript holds no AUTH exchange")
	}
	leaks.scan(t, "the transcript", tr)
	leaks.scan(t, "the errors", []byte(strings.Join(errs, "\n")))
	time.Sleep(500 * time.Millisecond) // rsyslog writes asynchronously
	sys, _ := os.ReadFile(v[9])
	if !bytes.Contains(sys, []byte("secrets")) {
		t.Fatal("rsyslog received none of the records")
	}
	leaks.scan(t, "rsyslog's file", sys)
}

func hostPart(hp string) string { h, _, _ := strings.Cut(hp, ":"); return h }
func portPart(t *testing.T, hp string) int {
	_, p, _ := strings.Cut(hp, ":")
	var n int
	if _, err := fmt.Sscan(p, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
