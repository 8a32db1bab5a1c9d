package envelope

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"mailwarden/headers"
)

// Every way into the message that could carry a header or an SMTP command
// must be refused with a typed error, and nothing may be written.
func TestInjection(t *testing.T) {
	base := func() *Message {
		return &Message{
			From:    headers.Address{Addr: "alerts@example.com"},
			To:      []headers.Address{{Addr: "ops@example.com"}},
			Subject: "ok",
			Text:    "ok",
		}
	}
	const smuggle = "x\r\nBcc: victim@evil.example\r\n\r\n.\r\nMAIL FROM:<spam@evil.example>\r\n"
	tests := []struct {
		name   string
		mutate func(m *Message)
		field  string
		is     error
	}{
		{"TestSubjectHeaderInjection", func(m *Message) { m.Subject = smuggle }, "Subject", headers.ErrInjection},
		{"TestSubjectBareLFInjection", func(m *Message) { m.Subject = "a\nBcc: v@evil.example" }, "Subject", headers.ErrInjection},
		{"TestSubjectBareCRInjection", func(m *Message) { m.Subject = "a\rBcc: v@evil.example" }, "Subject", headers.ErrInjection},
		{"TestSubjectUnicodeLineSeparator", func(m *Message) { m.Subject = "a\u2028Bcc: v@evil.example" }, "Subject", headers.ErrInjection},
		{"TestOrganizationHeaderInjection", func(m *Message) { m.Organization = smuggle }, "Organization", headers.ErrInjection},
		{"TestFromDisplayNameInjection", func(m *Message) { m.From.Name = smuggle }, "From", headers.ErrInjection},
		{"TestFromAddressSMTPCommandInjection", func(m *Message) { m.From.Addr = "a@example.com>\r\nRCPT TO:<victim@evil.example" }, "From", headers.ErrInjection},
		{"TestToAddressSMTPCommandInjection", func(m *Message) {
			m.To = []headers.Address{{Addr: "ops@example.com\r\nDATA"}}
		}, "To", headers.ErrInjection},
		{"TestToAngleBracketSmuggling", func(m *Message) { m.To = []headers.Address{{Addr: "ops@example.com> NOTIFY=NEVER <x@example.com"}} }, "To", headers.ErrAddress},
		{"TestCcNameInjection", func(m *Message) { m.Cc = []headers.Address{{Name: "x\nBcc: v@evil.example", Addr: "c@example.com"}} }, "Cc", headers.ErrInjection},
		{"TestBccAddressInjection", func(m *Message) { m.Bcc = []headers.Address{{Addr: "b@example.com\r\nRSET"}} }, "Bcc", headers.ErrInjection},
		{"TestSenderInjection", func(m *Message) { m.Sender = headers.Address{Addr: "s@example.com\nX: y"} }, "Sender", headers.ErrInjection},
		{"TestReplyToInjection", func(m *Message) { m.ReplyTo = []headers.Address{{Addr: "r@example.com\r\nX: y"}} }, "ReplyTo", headers.ErrInjection},
		{"TestReadReceiptInjection", func(m *Message) { m.ReadReceiptTo = []headers.Address{{Addr: "r@example.com\rX"}} }, "ReadReceiptTo", headers.ErrInjection},
		{"TestReturnReceiptInjection", func(m *Message) { m.ReturnReceiptTo = []headers.Address{{Addr: "r@example.com\nX"}} }, "ReturnReceiptTo", headers.ErrInjection},
		{"TestCustomHeaderValueInjection", func(m *Message) { m.Header = []headers.Field{{Name: "X-Tag", Value: smuggle}} }, "Header[0]", headers.ErrInjection},
		{"TestCustomHeaderNameInjection", func(m *Message) { m.Header = []headers.Field{{Name: "X-Tag: a\r\nBcc", Value: "v@evil.example"}} }, "Header[0]", headers.ErrInjection},
		{"TestCustomHeaderNameColon", func(m *Message) { m.Header = []headers.Field{{Name: "X-Tag: a", Value: "b"}} }, "Header[0]", headers.ErrFieldName},
		{"TestCustomHeaderOverridesBcc", func(m *Message) { m.Header = []headers.Field{{Name: "bcc", Value: "v@evil.example"}} }, "Header[0]", ErrOwnedField},
		{"TestCustomHeaderOverridesFrom", func(m *Message) { m.Header = []headers.Field{{Name: "From", Value: "ceo@example.com"}} }, "Header[0]", ErrOwnedField},
		{"TestCustomHeaderOverridesContentType", func(m *Message) {
			m.Header = []headers.Field{{Name: "Content-Type", Value: "multipart/mixed; boundary=x"}}
		}, "Header[0]", ErrOwnedField},
		{"TestCustomHeaderOverridesMIMEVersion", func(m *Message) { m.Header = []headers.Field{{Name: "MIME-Version", Value: "1.0"}} }, "Header[0]", ErrOwnedField},
		{"TestCustomHeaderOverridesXPriority", func(m *Message) { m.Header = []headers.Field{{Name: "X-Priority", Value: "1"}} }, "Header[0]", ErrOwnedField},
		{"TestMessageIDInjection", func(m *Message) { m.MessageID = "a@example.com>\r\nBcc: v@evil.example" }, "MessageID", headers.ErrInjection},
		{"TestMessageIDAngleSmuggling", func(m *Message) { m.MessageID = "a@b> <c@d" }, "MessageID", ErrInvalid},
		{"TestAttachmentFilenameInjection", func(m *Message) {
			m.Attachments = []Attachment{{Filename: "a.txt\"\r\nContent-Type: text/html", Body: strings.NewReader("x")}}
		}, "Attachments[0]", headers.ErrInjection},
		{"TestAttachmentPathTraversal", func(m *Message) {
			m.Attachments = []Attachment{{Filename: "../../etc/passwd", Body: strings.NewReader("x")}}
		}, "Attachments[0]", ErrInvalid},
		{"TestAttachmentContentTypeInjection", func(m *Message) {
			m.Attachments = []Attachment{{Filename: "a", ContentType: "text/plain\r\nBcc: v@evil.example", Body: strings.NewReader("x")}}
		}, "Attachments[0]", headers.ErrInjection},
		{"TestAttachmentMultipartContentType", func(m *Message) {
			m.Attachments = []Attachment{{Filename: "a", ContentType: "multipart/mixed; boundary=b", Body: strings.NewReader("x")}}
		}, "Attachments[0]", ErrInvalid},
		{"TestContentIDInjection", func(m *Message) {
			m.Attachments = []Attachment{{ContentID: "x@y>\r\nBcc: v@evil.example", Body: strings.NewReader("x")}}
		}, "Attachments[0]", headers.ErrInjection},
		{"TestInvalidUTF8Text", func(m *Message) { m.Text = "\xff" }, "Text", ErrInvalid},
		{"TestMissingFrom", func(m *Message) { m.From = headers.Address{} }, "From", ErrMissing},
		{"TestNoRecipients", func(m *Message) { m.To = nil }, "To", ErrMissing},
		{"TestNilAttachmentBody", func(m *Message) { m.Attachments = []Attachment{{Filename: "a"}} }, "Attachments[0]", ErrMissing},
		{"TestUnknownPriority", func(m *Message) { m.Priority = 42 }, "Priority", headers.ErrUnknownValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			tt.mutate(m)
			var buf bytes.Buffer
			n, err := m.WriteTo(&buf)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("WriteTo error = %v (%T), want *Error; wrote:\n%s", err, err, buf.String())
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %v", err, tt.is)
			}
			if e.Field != tt.field {
				t.Errorf("Error.Field = %q, want %q", e.Field, tt.field)
			}
			if n != 0 || buf.Len() != 0 {
				t.Errorf("wrote %d bytes before refusing", buf.Len())
			}
			if s := err.Error(); strings.ContainsAny(s, "\r\n") || !strings.HasPrefix(s, "envelope: ") {
				t.Errorf("error text %q: want one line with the package prefix", s)
			}
			if _, _, _, err := m.Envelope(); err == nil {
				t.Error("Envelope accepted the same message")
			}
		})
	}
}

func TestOwnedFieldMessage(t *testing.T) {
	m := &Message{From: headers.Address{Addr: "a@example.com"}, To: []headers.Address{{Addr: "b@example.com"}},
		Header: []headers.Field{{Name: "X-Ok", Value: "1"}, {Name: "subject", Value: "x"}}}
	err := m.Validate()
	want := `envelope: Header[1]: header field is set by the builder: "subject" (use Message.Subject)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
}
