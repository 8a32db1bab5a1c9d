package mailwarden

import (
	"context"
	"errors"
	"strings"
	"testing"

	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/smtptest"
)

// TestProfileDefaultRecipients: a profile's to and cc go to a message
// that names no recipient (Send and SendTest), never to one that does.
func TestProfileDefaultRecipients(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	p := Profile{Name: "defaults", Servers: []string{srv.Addr}, TLS: "none", From: "alerts@example.com",
		To: "ops@example.com", Cc: "Jane <jane@example.org>; noc@example.org"}
	s, err := NewSender(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Send(ctx, &envelope.Message{Subject: "no recipients", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(ctx, &envelope.Message{Bcc: []headers.Address{{Addr: "audit@example.com"}}, Subject: "bcc only", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendTest(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendTest(ctx, "other@example.net"); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	want := []string{"ops@example.com jane@example.org noc@example.org", "audit@example.com",
		"ops@example.com jane@example.org noc@example.org", "other@example.net"}
	if len(msgs) != len(want) {
		t.Fatalf("%d messages", len(msgs))
	}
	for i, m := range msgs {
		if got := strings.Join(m.To, " "); got != want[i] {
			t.Errorf("message %d: RCPT %s, want %s", i, got, want[i])
		}
	}
	if !strings.Contains(string(msgs[0].Data), "Cc: Jane <jane@example.org>, noc@example.org\r\n") {
		t.Errorf("no Cc header:\n%s", msgs[0].Data)
	}
	p.Cc = "not an address"
	var ce *ConfigError
	if err := p.Validate(); !errors.As(err, &ce) || ce.Field != "cc" {
		t.Errorf("bad cc: %v", err)
	}
}
