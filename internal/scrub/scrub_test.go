package scrub

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// TestEchoedSecretsAreScrubbed: the forms a server or proxy echoes a
// secret in are all removed, and text without a secret is left alone.
func TestEchoedSecretsAreScrubbed(t *testing.T) {
	const pw = "Hunter2-Secret!"
	s := New(pw, "", "tok.en-VALUE_123")
	plainBlob := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + pw))
	for name, text := range map[string]string{
		"plain":              "535 5.7.8 password " + pw + " is wrong",
		"upper case":         "535 5.7.8 PASSWORD " + strings.ToUpper(pw) + " IS WRONG",
		"base64":             "535 bad " + base64.StdEncoding.EncodeToString([]byte(pw)),
		"raw base64":         "535 bad " + base64.RawStdEncoding.EncodeToString([]byte(pw)),
		"url base64":         "bad " + base64.URLEncoding.EncodeToString([]byte("x"+pw+"\xff\xfe")),
		"plain blob":         "535 5.7.8 you sent " + plainBlob,
		"blob glued":         "535 5.7.8 sent:x" + plainBlob + "y",
		"misaligned 1":       "535 " + base64.StdEncoding.EncodeToString([]byte("a"+pw)),
		"misaligned 2":       "535 " + base64.StdEncoding.EncodeToString([]byte("ab"+pw)),
		"hex":                "535 " + hex.EncodeToString([]byte(pw)),
		"hex upper odd":      "535 f" + strings.ToUpper(hex.EncodeToString([]byte(pw))),
		"proxy basic header": "407 Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+pw)),
		"token":              `{"error":"invalid_token","token":"tok.en-VALUE_123"}`,
		"token base64":       "bad " + base64.StdEncoding.EncodeToString([]byte("Bearer tok.en-VALUE_123")),
	} {
		got := s.Scrub(text)
		if !strings.Contains(got, Redacted) || strings.Contains(got, pw) || strings.Contains(strings.ToLower(got), strings.ToLower(pw)) {
			t.Errorf("%s: %q -> %q", name, text, got)
		}
		for _, enc := range []string{base64.StdEncoding.EncodeToString([]byte(pw))[:12], hex.EncodeToString([]byte(pw))} {
			if strings.Contains(got, enc) {
				t.Errorf("%s: encoded secret left in %q", name, got)
			}
		}
	}
	for _, text := range []string{"250 2.0.0 Ok: queued as 4BcDeF123", "535 5.7.8 Error: authentication failed: UGFzc3dvcmQ6", "", "deadbeefcafe 0123456789abcdef"} {
		if got := s.Scrub(text); got != text {
			t.Errorf("no secret in %q, got %q", text, got)
		}
	}
	var nilSet *Set
	if nilSet.Scrub("x") != "x" || (&Set{}).Scrub("y") != "y" {
		t.Error("the zero Set changed text")
	}
	s.Add(pw, "later-token-XYZ")
	if got := s.Scrub("now later-token-XYZ"); got != "now "+Redacted {
		t.Errorf("Add: %q", got)
	}
}

func TestSetPrintsNoSecret(t *testing.T) {
	s := New("Printed-Secret-1")
	v := struct{ S *Set }{s}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(f, s) + fmt.Sprintf(f, v); strings.Contains(got, "Printed-Secret-1") {
			t.Errorf("%s printed the secret: %s", f, got)
		}
	}
}

// BenchmarkScrubReplyLine: the cost Scrub adds to every reply line of a
// session that holds a password and a token, when the line echoes none.
func BenchmarkScrubReplyLine(b *testing.B) {
	s := New("Hunter2-Secret!", "ya29.a0AfH6SMBx-token-value-0123456789")
	b.ReportAllocs()
	for b.Loop() {
		s.Scrub("2.1.5 Ok recipient accepted for delivery, queued as 4BcDeF123")
	}
}
