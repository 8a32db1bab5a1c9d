package audit

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func redactTranscript(t *testing.T, in string, chunk int) string {
	t.Helper()
	var out bytes.Buffer
	tr := NewTranscript(&out)
	b := []byte(in)
	for len(b) > 0 {
		n := min(chunk, len(b))
		if w, err := tr.Write(b[:n]); err != nil || w != n {
			t.Fatalf("Write = %d, %v", w, err)
		}
		b = b[n:]
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestTranscriptRedacts(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name, in, want string
	}{
		{
			"plain with initial response",
			"S: 250-mail.example.com\r\nS: 250 AUTH PLAIN LOGIN\r\nC: AUTH PLAIN " + b64([]byte("\x00alice\x00hunter2")) + "\r\nS: 235 2.7.0 Authentication successful\r\nC: MAIL FROM:<a@example.com>\r\n",
			"S: 250-mail.example.com\r\nS: 250 AUTH PLAIN LOGIN\r\nC: AUTH PLAIN [REDACTED]\r\nS: 235 2.7.0 Authentication successful\r\nC: MAIL FROM:<a@example.com>\r\n",
		},
		{
			"login exchange",
			"C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: " + b64([]byte("alice")) + "\nS: 334 UGFzc3dvcmQ6\nC: " + b64([]byte("hunter2")) + "\nS: 235 ok\nC: QUIT\n",
			"C: AUTH LOGIN\nS: 334 [REDACTED]\nC: [REDACTED]\nS: 334 [REDACTED]\nC: [REDACTED]\nS: 235 ok\nC: QUIT\n",
		},
		{
			"arrows, failure, lower case",
			"> auth xoauth2 " + b64([]byte("user=a\x01auth=Bearer tok\x01\x01")) + "\n< 334 eyJzdGF0dXMiOiI0MDEifQ==\n> \n< 535 5.7.8 no\n> RSET\n",
			"> auth xoauth2 [REDACTED]\n< 334 [REDACTED]\n> [REDACTED]\n< 535 5.7.8 no\n> RSET\n",
		},
		{
			"no prefixes",
			"AUTH CRAM-MD5\n334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\ndGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\n235 Authentication successful\nQUIT\n",
			"AUTH CRAM-MD5\n334 [REDACTED]\n[REDACTED]\n235 Authentication successful\nQUIT\n",
		},
		{
			"cancel",
			"C: AUTH GSSAPI\nS: 334 \nC: *\nS: 501 cancelled\n",
			"C: AUTH GSSAPI\nS: 334 [REDACTED]\nC: [REDACTED]\nS: 501 cancelled\n",
		},
		{
			"proxy authorization",
			"C: CONNECT 127.0.0.1:25 HTTP/1.1\r\nC: Proxy-Authorization: Basic dTpodW50ZXIy\r\n",
			"C: CONNECT 127.0.0.1:25 HTTP/1.1\r\nC: Proxy-Authorization: [REDACTED]\r\n",
		},
		{
			"password parameter",
			"dial socks5://127.0.0.1:1080 user=u password=hunter2\n",
			"dial socks5://127.0.0.1:1080 user=u password=[REDACTED]\n",
		},
		{
			"timestamps with milliseconds",
			"2026-11-22 19:04:21.100 C: AUTH LOGIN\n2026-11-22 19:04:21.323 S: 334 VXNlcm5hbWU6\n2026-11-22 19:04:21.450 C: YWxpY2U=\n2026-11-22 19:04:21.523 S: 334 UGFzc3dvcmQ6\n2026-11-22 19:04:21.250 C: aHVudGVyMg==\n2026-11-22 19:04:22.001 S: 235 2.7.0 ok\n2026-11-22 19:04:22.002 C: MAIL FROM:<a@example.com>\n",
			"2026-11-22 19:04:21.100 C: AUTH LOGIN\n2026-11-22 19:04:21.323 S: 334 [REDACTED]\n2026-11-22 19:04:21.450 C: [REDACTED]\n2026-11-22 19:04:21.523 S: 334 [REDACTED]\n2026-11-22 19:04:21.250 C: [REDACTED]\n2026-11-22 19:04:22.001 S: 235 2.7.0 ok\n2026-11-22 19:04:22.002 C: MAIL FROM:<a@example.com>\n",
		},
		{
			"client line with digits",
			"C: AUTH PLAIN\nS: 334 \nC: 250 MTIz\nS: 235 ok\n",
			"C: AUTH PLAIN\nS: 334 [REDACTED]\nC: [REDACTED]\nS: 235 ok\n",
		},
		{
			"unterminated last line during auth",
			"C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: aHVudGVyMg==",
			"C: AUTH LOGIN\nS: 334 [REDACTED]\nC: [REDACTED]",
		},
	} {
		for _, chunk := range []int{1, 7, 1 << 20} {
			got := redactTranscript(t, tc.in, chunk)
			if got != tc.want {
				t.Errorf("%s (chunk %d):\n got %q\nwant %q", tc.name, chunk, got, tc.want)
			}
		}
	}
}

func TestCreateTranscriptMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "transcript.log")
	tr, err := CreateTranscript(path)
	if err != nil {
		t.Fatal(err)
	}
	tr.Write([]byte("C: AUTH PLAIN AGFsaWNlAGh1bnRlcjI=\n"))
	tr.Close()
	st, _ := os.Stat(path)
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "AGFsaWNl") {
		t.Errorf("content %q: the secret was written", b)
	}
	// Windows has no group/other mode bits (Go reports 0666 for any
	// writable file).
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := tr.Write([]byte("x\n")); err == nil {
		t.Error("Write after Close succeeded")
	}
}
