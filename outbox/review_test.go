package outbox

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestManyRecipientsNotQuarantined: an entry whose header line (the
// envelope) is longer than the reader's buffer is still a valid entry:
// it must be delivered, not quarantined as corrupt.
func TestManyRecipientsNotQuarantined(t *testing.T) {
	d := &script{}
	o, ev := open(t, Config{Deliverer: d})
	var to []string
	for i := range 4000 {
		to = append(to, fmt.Sprintf("recipient-%05d@example.org", i))
	}
	if _, err := o.Enqueue(context.Background(), Envelope{From: "a@example.com", To: to, MessageID: "many@example.com"}, body(message(1))); err != nil {
		t.Fatal(err)
	}
	st, err := o.RunOnce(context.Background())
	if err != nil || st.Delivered != 1 || st.Quarantined != 0 {
		t.Fatalf("%+v %v; quarantined events %v", st, err, ev.find("outbox.quarantined"))
	}
	if len(d.got) != 1 || d.got[0] != message(1) {
		t.Fatalf("delivered %d", len(d.got))
	}
	// An envelope too large to store is refused by Enqueue, not accepted
	// and quarantined later.
	huge := append([]string(nil), to...)
	for len(strings.Join(huge, ",")) <= maxHeader {
		huge = append(huge, huge...)
	}
	if _, err := o.Enqueue(context.Background(), Envelope{From: "a@example.com", To: huge}, body("x\r\n")); err == nil {
		t.Fatal("an envelope over the header limit was accepted")
	}
	if l := mustList(t, o); len(l) != 0 {
		t.Fatalf("%d entries left", len(l))
	}
	if q, _ := o.Quarantined(); len(q) != 0 {
		t.Fatalf("quarantined %v", q)
	}
	_ = time.Second
}
