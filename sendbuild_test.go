package mailwarden_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"mailwarden"
	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/smtptest"
)

// TestSendWritesTheMessageOnce checks what Send and SendBatch build the
// message into, now that it is built and checked in one pass: the bytes
// the relay gets are the message with the profile's defaults as
// envelope.Message.WriteTo writes it, the envelope is the message's, and
// an invalid message fails with its *envelope.Error, reports no progress
// and sends nothing.
func TestSendWritesTheMessageOnce(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	var mu sync.Mutex
	var evs []mailwarden.ProgressEvent
	p := mailwarden.Profile{Name: "once", Servers: []string{srv.Addr}, TLS: "none", Timeout: 5 * time.Second,
		From: "Alerts <alerts@example.com>", Organization: "Example", Headers: []mailwarden.HeaderField{{Name: "X-Source", Value: "monitor"}}}
	s, err := mailwarden.NewSender(context.Background(), p, &mailwarden.Options{Progress: func(e mailwarden.ProgressEvent) {
		mu.Lock()
		evs = append(evs, e)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	date := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	msg := func(id string) *envelope.Message {
		return &envelope.Message{
			To:        []headers.Address{{Addr: "ops@example.org"}, {Name: "Jane", Addr: "Jane@Example.org"}},
			Bcc:       []headers.Address{{Addr: "audit@example.net"}},
			Subject:   "disk full",
			Text:      "Volume /var is 95% full.\r\n.hidden\r\n",
			Header:    []headers.Field{{Name: "X-Run", Value: id}},
			Date:      date,
			MessageID: id + "@example.com",
		}
	}
	want := func(id string) []byte {
		m := msg(id)
		m.From = headers.Address{Name: "Alerts", Addr: "alerts@example.com"}
		m.Organization = "Example"
		m.Header = append([]headers.Field{{Name: "X-Source", Value: "monitor"}}, m.Header...)
		var b bytes.Buffer
		if _, err := m.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if _, err := s.Send(context.Background(), msg("one")); err != nil {
		t.Fatal(err)
	}
	batch, err := s.SendBatch(context.Background(), []*envelope.Message{msg("two"), {Subject: "no recipients"}, msg("three")})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 3 {
		t.Fatalf("%d messages arrived, want 3", len(got))
	}
	for i, id := range []string{"one", "two", "three"} {
		g := got[i]
		if !bytes.Equal(g.Data, want(id)) {
			t.Errorf("%s: the relay got\n%s\nwant\n%s", id, g.Data, want(id))
		}
		if g.From != "alerts@example.com" || strings.Join(g.To, " ") != "ops@example.org Jane@example.org audit@example.net" {
			t.Errorf("%s: envelope %s %q", id, g.From, g.To)
		}
	}
	if batch[1].State != mailwarden.BatchFailed || batch[1].Result != nil {
		t.Errorf("invalid batch message: %+v", batch[1])
	}
	if _, ok := batch[1].Err.(*envelope.Error); !ok {
		t.Errorf("invalid batch message: error %T %v, want an *envelope.Error", batch[1].Err, batch[1].Err)
	}
	mu.Lock()
	evs = nil
	mu.Unlock()
	res, err := s.Send(context.Background(), &envelope.Message{Subject: "no recipients"})
	if _, ok := err.(*envelope.Error); !ok || res != nil {
		t.Errorf("invalid message: %v, error %T %v, want an *envelope.Error", res, err, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(evs) != 0 || srv.Count() != 3 {
		t.Errorf("invalid message: progress %v, %d messages arrived", evs, srv.Count())
	}
}
