package authmech

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretsNeverLeak runs every mechanism with a known password and token
// against well-formed and hostile server messages, and searches every error,
// every fmt rendering of the clients and Credentials, and slog output (text
// and JSON) for the secrets, plain, base64 and hex.
func TestSecretsNeverLeak(t *testing.T) {
	const pw, tok = "S3cr3t-Pa55word-xyzzy", "tok-9f8e7d6c5b4a-bearer"
	creds := Credentials{Username: "user", Password: pw, Authzid: "boss", TokenSource: StaticToken(tok),
		Kerberos: Kerberos{Realm: "EXAMPLE.COM"}, NTLM: NTLMOptions{Domain: "CORP"}}
	var out bytes.Buffer
	text := slog.New(slog.NewTextHandler(&out, nil))
	js := slog.New(slog.NewJSONHandler(&out, nil))
	record := func(v ...any) {
		for _, x := range v {
			fmt.Fprintf(&out, "%v|%+v|%#v|%s\n", x, x, x, x)
			text.Info("x", "v", x)
			js.Info("x", "v", x)
		}
	}
	record(creds, &creds, creds.Password, creds.TokenSource)
	reg := NewRegistry()
	challenges := [][]byte{
		[]byte("<1.2@host>"), []byte("r=zz,s=QSXCR+Q6sek8bf92,i=4096"), []byte("e=invalid-proof"),
		[]byte(`{"status":"401","scope":"mail"}`), []byte("not json"), []byte("v=AAAA"), nil, {},
	}
	infos := []*ServerInfo{tlsInfo, {Name: "h", Mechanisms: tlsInfo.Mechanisms}, {}}
	for _, name := range append(reg.Mechanisms(), "auto", "none", "KERBEROS", "BOGUS") {
		for _, info := range infos {
			c, err := reg.Client(name, creds)
			record(err)
			if c == nil {
				continue
			}
			record(c)
			_, _, err = c.Start(context.Background(), info)
			record(err)
			for _, ch := range challenges {
				_, err := c.Next(context.Background(), ch)
				record(err)
			}
			if v, ok := c.(Verifier); ok {
				record(v.Verify())
			}
			if r, ok := c.(ErrorReporter); ok {
				record(r.Err())
			}
			record(c)
		}
	}
	// SCRAM with the RFC 5802 exchange, up to a wrong server signature.
	c, _ := reg.Client("SCRAM-SHA-1", Credentials{Username: "user", Password: pw})
	c.(*scramClient).nonce = "fyko+d2lbbFgONRv9qkxdawL"
	c.Start(context.Background(), tlsInfo)
	c.Next(context.Background(), []byte("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"))
	_, err := c.Next(context.Background(), []byte("v=rmF9pqV8S7suAoZWja4dJRkFsKA="))
	record(err, c)

	s := out.String()
	if i := strings.Index(s, pw); i >= 0 {
		t.Logf("context: %q", s[max(0, i-200):i+30])
	}
	if !strings.Contains(s, "[REDACTED]") || !strings.Contains(s, "authmech") {
		t.Fatal("nothing was recorded")
	}
	for _, secret := range []string{pw, tok} {
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)),
			base64.RawStdEncoding.EncodeToString([]byte(secret))[:16], hex.EncodeToString([]byte(secret))} {
			if strings.Contains(s, form) {
				t.Errorf("secret %q appears (as %q) in output", secret[:4], form)
			}
		}
	}
}
