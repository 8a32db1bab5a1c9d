package envelope

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
)

// TestBccHeader: Bcc stays out of the header unless BccHeader asks for it,
// and then it is a proper address list after Cc; the envelope is the same
// either way.
func TestBccHeader(t *testing.T) {
	m := &Message{From: addrs(t, "a@example.com")[0], To: addrs(t, "b@example.com"), Cc: addrs(t, "c@example.com"),
		Bcc: addrs(t, "Hidden <d@example.com>, e@example.com"), Subject: "s", Text: "t", Clock: clock, Rand: &seqRand{}}
	var plain bytes.Buffer
	if _, err := m.WriteTo(&plain); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(plain.String()), "bcc") || strings.Contains(plain.String(), "d@example.com") {
		t.Fatalf("Bcc leaked into the header without BccHeader:\n%s", plain.String())
	}
	m.BccHeader = true
	m.Rand = &seqRand{}
	var withBcc bytes.Buffer
	if _, err := m.WriteTo(&withBcc); err != nil {
		t.Fatal(err)
	}
	r, err := mail.CreateReader(bytes.NewReader(withBcc.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	bcc, err := r.Header.AddressList("Bcc")
	if err != nil || len(bcc) != 2 || bcc[0].Address != "d@example.com" || bcc[0].Name != "Hidden" || bcc[1].Address != "e@example.com" {
		t.Errorf("Bcc field = %v, %v", bcc, err)
	}
	if i, j := strings.Index(withBcc.String(), "\r\nCc: "), strings.Index(withBcc.String(), "\r\nBcc: "); i < 0 || j < i {
		t.Errorf("Bcc is not after Cc:\n%s", withBcc.String())
	}
	// Only the Bcc line differs.
	if got := strings.Replace(withBcc.String(), "Bcc: Hidden <d@example.com>, e@example.com\r\n", "", 1); got != plain.String() {
		t.Errorf("more than the Bcc field changed:\n%s\n---\n%s", got, plain.String())
	}
	_, rcpts, _, err := m.Envelope()
	if err != nil || strings.Join(rcpts, " ") != "b@example.com c@example.com d@example.com e@example.com" {
		t.Errorf("envelope %q %v", rcpts, err)
	}
}
