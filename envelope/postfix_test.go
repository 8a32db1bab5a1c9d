package envelope

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden/internal/peers"
)

// TestPostfixDeliversByteForByte submits messages to the real Postfix of
// the test environment and checks that what it delivers is exactly what
// WriteTo wrote, and that its envelope is what Envelope returned: Bcc only
// in the envelope, SMTPUTF8 accepted for a UTF-8 local part.
func TestPostfixDeliversByteForByte(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_PLAIN", "MW_POSTFIX_MAILDIR")
	server, sink := v[0], v[1]
	cases := goldenCases(t)
	for _, name := range []string{"full", "smtputf8", "cjk-html-only"} {
		t.Run(name, func(t *testing.T) {
			m := cases[name]
			m.Rand = nil // a fresh, unique Message-ID and boundaries
			from, rcpts, utf8, err := m.Envelope()
			if err != nil {
				t.Fatal(err)
			}
			_, domain, _ := strings.Cut(from, "@")
			if m.MessageID, err = NewMessageID(domain, nil); err != nil {
				t.Fatal(err)
			}
			var msg bytes.Buffer
			if _, err := m.WriteTo(&msg); err != nil {
				t.Fatal(err)
			}

			c, err := smtp.Dial(server)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if err := c.Hello("localhost"); err != nil {
				t.Fatal(err)
			}
			if err := c.Mail(from, &smtp.MailOptions{UTF8: utf8}); err != nil {
				t.Fatal(err)
			}
			for _, r := range rcpts {
				if err := c.Rcpt(r, nil); err != nil {
					t.Fatalf("RCPT %s: %v", r, err)
				}
			}
			w, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(msg.Bytes()); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := c.Quit(); err != nil {
				t.Fatal(err)
			}

			path := waitForMessage(t, sink, "Message-ID: <"+m.MessageID+">\r\n")
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := msg.Bytes()
			if !bytes.HasSuffix(want, []byte("\r\n")) {
				want = append(want, "\r\n"...) // the DATA terminator needs a line end
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Postfix delivered %d bytes that differ from the %d written", len(got), len(want))
			}
			env, err := os.ReadFile(filepath.Join(sink, "..", "envelope", filepath.Base(path)))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(env)), "\n")
			gotRcpts := append([]string(nil), lines[1:]...)
			wantRcpts := append([]string(nil), rcpts...)
			slices.Sort(gotRcpts) // Postfix may reorder recipients
			slices.Sort(wantRcpts)
			if lines[0] != from || !slices.Equal(gotRcpts, wantRcpts) {
				t.Errorf("delivered envelope %q, want sender %q and recipients %q", env, from, rcpts)
			}
		})
	}
}

// waitForMessage returns the file in dir that contains marker, waiting up
// to 30 seconds for Postfix to deliver it.
func waitForMessage(t *testing.T, dir, marker string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(entries) - 1; i >= 0; i-- {
			p := filepath.Join(dir, entries[i].Name())
			b, err := os.ReadFile(p)
			if err == nil && bytes.Contains(b, []byte(marker)) {
				return p
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no message with %q delivered to %s", marker, dir)
	return ""
}
