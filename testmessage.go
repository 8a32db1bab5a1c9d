package mailwarden

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"mailwarden/content"
	"mailwarden/envelope"
	"mailwarden/headers"
)

// SendTest sends a short test message to the given recipients (address
// lists as admins type them) from the profile's From address: the "Send
// test email" button. With no recipients it goes to the profile's default
// To and Cc. The audit trail marks it with test=true. It is TestMessage
// followed by SendTestMessage.
func (s *Sender) SendTest(ctx context.Context, to ...string) (*Result, error) {
	m, err := s.TestMessage(to...)
	if err != nil {
		return nil, err
	}
	return s.SendTestMessage(ctx, m)
}

// TestMessage returns the canned test message SendTest sends: from the
// profile's From address to the given recipients: the built-in "test"
// content template (a subject naming the profile; HTML with a text
// alternative naming the servers, this host and the time).
// With no recipients, To is left empty, and sending the message uses the
// profile's default To and Cc. A missing or bad From is a *ConfigError; a
// bad recipient list is a *headers.Error.
func (s *Sender) TestMessage(to ...string) (*envelope.Message, error) {
	if s.profile.From == "" {
		return nil, &ConfigError{Profile: s.profile.Name, Field: "from", Err: errors.New("a From address is needed to send a test message")}
	}
	from, err := headers.ParseAddress(s.profile.From)
	if err != nil {
		return nil, &ConfigError{Profile: s.profile.Name, Field: "from", Err: err}
	}
	var rcpts []headers.Address
	for _, t := range to {
		list, err := headers.ParseAddressList(t)
		if err != nil {
			return nil, err
		}
		rcpts = append(rcpts, list...)
	}
	host, _ := os.Hostname()
	name := s.profile.Name
	if name == "" {
		name = "(unnamed)"
	}
	tmpl, err := content.Lookup("test")
	if err != nil {
		return nil, err
	}
	r, err := tmpl.Render(&content.Test{Profile: name, Servers: s.delivery.describe(), Host: host, SentAt: time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		return nil, err
	}
	m := &envelope.Message{From: from, To: rcpts}
	r.Apply(m)
	return m, nil
}

// SendTestMessage sends m as Send does, and marks its audit records with
// test=true. Use it to send TestMessage with recipients of your own (Cc,
// Bcc) or to learn the Message-ID it was sent with (set on m, as Send does).
func (s *Sender) SendTestMessage(ctx context.Context, m *envelope.Message) (*Result, error) {
	return s.sendMessage(ctx, m, []slog.Attr{slog.Bool("test", true)})
}
