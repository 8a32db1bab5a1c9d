package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/authmech"
	"mailwarden/internal/peers"
)

// Known secrets, as a test run would set them for every mechanism, the
// proxy and the S/MIME key.
var knownSecrets = []string{
	"Pl41n-P4ssw0rd!",                         // PLAIN / LOGIN password
	"ya29.OAuth-Access-Token-Zx9",             // XOAUTH2 / OAUTHBEARER token
	"Scr4m-Sha256-Secret",                     // SCRAM password
	"Ntlm-D0ma1n-P4ss",                        // NTLM password
	"Krb5-K3ytab-Pass",                        // Kerberos password
	"S0cks-Pr0xy-Pass",                        // SOCKS5 / HTTP proxy password
	"Sm1me-P12-Passphrase",                    // PKCS#12 passphrase
	"-----BEGIN PRIVATE KEY-----MIIEvQIBADAN", // a private key
}

// leak reports how secret appears in data: plainly, in hex, or inside any
// base64 run (standard or URL alphabet, any alignment), or "" when it does
// not.
func leak(data []byte, secret string) string {
	if bytes.Contains(data, []byte(secret)) {
		return "plain"
	}
	low := bytes.ToLower(data)
	if bytes.Contains(low, []byte(hex.EncodeToString([]byte(secret)))) {
		return "hex"
	}
	isB64 := func(c byte) bool {
		return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_' || c == '='
	}
	for i := 0; i < len(data); {
		if !isB64(data[i]) {
			i++
			continue
		}
		j := i
		for j < len(data) && isB64(data[j]) {
			j++
		}
		run := strings.TrimRight(string(data[i:j]), "=")
		for off := 0; off < 4 && off < len(run); off++ {
			s := run[off:]
			if len(s)%4 == 1 {
				s = s[:len(s)-1] // a lone trailing character decodes to nothing
			}
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				if dec, err := enc.DecodeString(s); err == nil && bytes.Contains(dec, []byte(secret)) {
					return "base64"
				}
			}
		}
		i = j
	}
	return ""
}

func TestLeakDetector(t *testing.T) {
	s := "Pl41n-P4ssw0rd!"
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + s))
	for _, data := range []string{
		"x " + s + " y",
		"x " + hex.EncodeToString([]byte(s)) + " y",
		"x " + strings.ToUpper(hex.EncodeToString([]byte(s))) + " y",
		"AUTH PLAIN " + plain,
		`"ir":"` + base64.URLEncoding.EncodeToString([]byte("user="+s)) + `"`,
	} {
		if leak([]byte(data), s) == "" {
			t.Errorf("leak not found in %q", data)
		}
	}
	if got := leak([]byte("nothing here "+base64.StdEncoding.EncodeToString([]byte("harmless"))), s); got != "" {
		t.Errorf("false positive: %s", got)
	}
}

// secretRecords logs records that carry every known secret in the ways a
// careless caller could: under secret-looking keys, inside groups, inside
// structs marshalled with slog.Any, encoded, and as authmech.Secret under
// innocent keys.
func secretRecords(t *testing.T, log *slog.Logger) {
	t.Helper()
	type proxyConfig struct {
		URL      string
		User     string
		Password string
	}
	type p12 struct {
		File       string
		Passphrase string `json:"passphrase"`
	}
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER", "NTLM", "GSSAPI"} {
		for i, s := range knownSecrets {
			ir := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + s))
			log.Info("smtp.auth",
				slog.Group("auth", "mech", mech, "user", "alice", "password", s, "auth_payload", ir,
					"token", hex.EncodeToString([]byte(s))),
				"proxy", "socks5://127.0.0.1:1080",
				"proxy_config", proxyConfig{URL: "socks5://127.0.0.1:1080", User: "p", Password: s},
				"smime_key", p12{File: "signer.p12", Passphrase: s},
				"value", authmech.Secret(s),
				"Authorization", "Bearer "+s,
				"private_key", []byte(s),
				"i", i,
			)
		}
	}
	log.Info("smtp.send", "server", "127.0.0.1:587", "from", "a@example.com",
		"rcpts", []map[string]any{{"addr": "b@example.com", "code": 250}}, "message_id", "<x@example.com>",
		slog.Group("auth", "mech", "PLAIN", "user", "alice"), "credentials", map[string]string{"user": "alice", "pass": knownSecrets[0]})
}

// TestSecretsNeverWritten sends records full of known secrets through every
// sink and searches every byte written, and every error returned, for them.
func TestSecretsNeverWritten(t *testing.T) {
	dir := t.TempDir()
	udp := newSyslogServer(t, NetUDP)
	tcp := newSyslogServer(t, NetTLS)
	ctx := context.Background()
	file, err := OpenFile(FileConfig{Path: filepath.Join(dir, "audit.log"), Key: testKey, MaxSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	su, err := DialSyslog(ctx, SyslogConfig{Network: NetUDP, Addr: udp.addr})
	if err != nil {
		t.Fatal(err)
	}
	st, err := DialSyslog(ctx, SyslogConfig{Network: NetTLS, Addr: tcp.addr, CAFile: tcp.ca})
	if err != nil {
		t.Fatal(err)
	}
	sinks := []Sink{Named("file", file), Named("syslog-udp", NewAsync(su, 0)), Named("syslog-tls", st)}
	var rsyslogFile string
	if os.Getenv("MW_SYSLOG_TCP") != "" || os.Getenv(peers.RequireEnv) == "1" {
		v := peers.Need(t, "MW_SYSLOG_TCP", "MW_SYSLOG_FILE")
		rs, err := DialSyslog(ctx, SyslogConfig{Network: NetTCP, Addr: v[0]})
		if err != nil {
			t.Fatal(err)
		}
		sinks = append(sinks, Named("rsyslog", rs))
		rsyslogFile = v[1]
	} else {
		t.Log("MW_SYSLOG_TCP unset: real rsyslog not included")
	}
	var errs []error
	h := NewHandler(Multi(sinks...), &Options{OnError: func(err error) { errs = append(errs, err) }})
	log := slog.New(h).With("profile", "secrets-test")
	secretRecords(t, log)
	marker := fmt.Sprintf("secrets-test-end-%d", time.Now().UnixNano())
	log.Info("smtp.probe", "marker", marker)
	if err := h.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	// Transcript: the AUTH exchanges of each mechanism, with secrets.
	tpath := filepath.Join(dir, "transcript.log")
	tr, err := CreateTranscript(tpath)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range knownSecrets {
		b := base64.StdEncoding.EncodeToString
		fmt.Fprintf(tr, "C: AUTH PLAIN %s\r\nS: 235 ok\r\n", b([]byte("\x00alice\x00"+s)))
		fmt.Fprintf(tr, "C: AUTH LOGIN\r\nS: 334 VXNlcm5hbWU6\r\nC: %s\r\nS: 334 UGFzc3dvcmQ6\r\nC: %s\r\nS: 235 ok\r\n", b([]byte("alice")), b([]byte(s)))
		fmt.Fprintf(tr, "C: AUTH XOAUTH2 %s\r\nS: 235 ok\r\n", b([]byte("user=alice\x01auth=Bearer "+s+"\x01\x01")))
		fmt.Fprintf(tr, "C: AUTH NTLM\r\nS: 334 TlRMTVNTUAACAAAA\r\nC: %s\r\nS: 235 ok\r\n", b([]byte("NTLMSSP\x00\x03"+s)))
		fmt.Fprintf(tr, "C: AUTH GSSAPI %s\r\nS: 334 \r\nC: \r\nS: 334 BQQF\r\nC: %s\r\nS: 235 ok\r\n", b([]byte(s)), hex.EncodeToString([]byte(s)))
		fmt.Fprintf(tr, "C: CONNECT 127.0.0.1:587 HTTP/1.1\r\nC: Proxy-Authorization: Basic %s\r\n", b([]byte("p:"+s)))
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	// Errors a user would see: a syslog URL with credentials, a failing sink.
	for _, s := range knownSecrets {
		_, err := ParseSyslogURL("tcp://alice:" + s + "@127.0.0.1:514")
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		t.Fatal("no errors collected")
	}

	written := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if strings.HasSuffix(f, ".lock") {
			continue // the File sink's empty lock file
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		written[filepath.Base(f)] = b
	}
	for name, srv := range map[string]*syslogServer{"syslog-udp": udp, "syslog-tls": tcp} {
		var all []byte
		for {
			select {
			case m := <-srv.msgs:
				all = append(all, m...)
				all = append(all, '\n')
				continue
			case <-time.After(200 * time.Millisecond):
			}
			break
		}
		if !bytes.Contains(all, []byte(`"msg":"smtp.auth"`)) {
			t.Errorf("%s received no auth records", name)
		}
		written[name] = all
	}
	if rsyslogFile != "" {
		waitForLine(t, rsyslogFile, marker)
		b, err := os.ReadFile(rsyslogFile)
		if err != nil {
			t.Fatal(err)
		}
		written["rsyslog"] = b
	}
	var errText []byte
	for _, e := range errs {
		if e != nil {
			errText = append(errText, e.Error()...)
			errText = append(errText, '\n')
		}
	}
	written["errors"] = errText

	if n := bytes.Count(written["audit.log"], []byte(Redacted)); n < 8*8*6 {
		t.Errorf("only %d redaction markers in the audit file", n)
	}
	for name, data := range written {
		if len(data) == 0 {
			t.Errorf("%s: nothing written", name)
		}
		for _, s := range knownSecrets {
			if how := leak(data, s); how != "" {
				t.Errorf("%s: secret %q written (%s)", name, s, how)
			}
		}
	}
	if _, err := Verify(testKey, func() []string {
		var l []string
		for _, f := range files {
			if strings.HasPrefix(filepath.Base(f), "audit") {
				l = append(l, f)
			}
		}
		return l
	}()...); err != nil {
		t.Errorf("the trail does not verify: %v", err)
	}
	t.Logf("searched %d outputs for %d secrets (plain, hex, base64)", len(written), len(knownSecrets))
}

func TestSecretsInSinkErrors(t *testing.T) {
	// A sink failure carrying the record must not repeat it.
	boom := errors.New("disk full")
	m := &memSink{fail: boom}
	h := NewHandler(Named("file", m), nil)
	err := h.Record(context.Background(), slog.LevelInfo, "smtp.auth", slog.String("password", knownSecrets[0]))
	if err == nil || leak([]byte(err.Error()), knownSecrets[0]) != "" {
		t.Errorf("err = %v", err)
	}
}
