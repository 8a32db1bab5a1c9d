package envelope

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"

	"mailwarden/headers"
)

// FuzzMessage writes whole messages from arbitrary subject, display name,
// custom header value and text, and checks that either WriteTo refuses with
// an *Error and writes nothing, or the output is clean (CRLF only, no line
// over 998 octets) and go-message reads back what went in.
func FuzzMessage(f *testing.F) {
	f.Add("Disk almost full", "Alerts, Team", "42", "Volume /var is 95% full.\n", 0, "report.csv")
	f.Add("Grüße – ディスク", "Jürgen Müller", "Zürich", "ディスク容量\r\n", 10, "日本語のファイル名.pdf")
	f.Add("a\r\nBcc: x@y.z", "x\nBcc: y", "v\rX: y", ".\r\nMAIL FROM:<x@y.z>\r\n", 0, "a\"\r\nX: y")
	f.Fuzz(func(t *testing.T, subject, name, value, text string, max int, filename string) {
		m := &Message{
			From:             headers.Address{Name: name, Addr: "alerts@example.com"},
			To:               []headers.Address{{Addr: "ops@example.com"}},
			Subject:          subject,
			MaxSubjectLength: max % 200,
			Text:             text,
			Header:           []headers.Field{{Name: "X-Value", Value: value}},
			Attachments:      []Attachment{{Filename: filename, ContentType: "application/octet-stream", Body: strings.NewReader(filename)}},
			Clock:            clock,
			Rand:             &seqRand{},
		}
		var buf bytes.Buffer
		_, err := m.WriteTo(&buf)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || buf.Len() != 0 {
				t.Fatalf("error %v (%T) after writing %d bytes", err, err, buf.Len())
			}
			return
		}
		checkWire(t, buf.Bytes())
		r, err := mail.CreateReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("go-message cannot read:\n%s\n%v", buf.String(), err)
		}
		h := r.Header
		wantSubject := headers.Truncate(strings.TrimSpace(subject), m.MaxSubjectLength)
		if got, err := h.Subject(); err != nil || got != wantSubject {
			t.Fatalf("Subject %q read back as %q (%v)", wantSubject, got, err)
		}
		from, err := h.AddressList("From")
		if err != nil || len(from) != 1 || from[0].Name != name {
			t.Fatalf("From name %q read back as %v (%v)", name, from, err)
		}
		// Custom values are written as given when ASCII (they may be
		// structured, e.g. List-Unsubscribe), RFC 2047-encoded otherwise.
		got, err := h.Get("X-Value"), error(nil)
		if !isASCII(value) {
			got, err = h.Text("X-Value")
		}
		if err != nil || got != strings.TrimSpace(value) {
			t.Fatalf("X-Value %q read back as %q (%v)", strings.TrimSpace(value), got, err)
		}
		if h.Has("Bcc") || h.Get("X-Value") != h.Values("X-Value")[0] || len(h.Values("X-Value")) != 1 {
			t.Fatal("an extra field appeared")
		}
		p, err := r.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p.Body)
		if string(body) != crlf(text) {
			t.Fatalf("text %q read back as %q", text, body)
		}
		p, err = r.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		ah, ok := p.Header.(*mail.AttachmentHeader)
		if !ok {
			t.Fatalf("second part is not an attachment: %v", p.Header)
		}
		if got, err := ah.Filename(); err != nil || got != filename {
			t.Fatalf("file name %q read back as %q (%v)", filename, got, err)
		}
	})
}
