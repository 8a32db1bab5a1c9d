package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// acceptedErr is what a Deliverer returns when the relay accepted the
// message and the audit record after it failed.
type acceptedErr struct{ error }

func (acceptedErr) Accepted() bool { return true }

// recordingDeliverer accepts every message and stores the records logged
// under TrackRecords only once healed. Its sends return sendErr: an
// acceptedErr (the send's own record failed after the relay's reply), or
// nil (only the outbox's record after it fails: a trail whose remote
// collector died in between).
type recordingDeliverer struct {
	mu      sync.Mutex
	sends   map[string]int
	healed  bool
	tries   int
	sendErr error
}

func (d *recordingDeliverer) Deliver(_ context.Context, env Envelope, _ Opener) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sends[env.MessageID]++
	return "Q1", d.sendErr
}

func (d *recordingDeliverer) TrackRecords(ctx context.Context) (context.Context, func(context.Context) error) {
	return ctx, func(context.Context) error {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.tries++
		if !d.healed {
			return errors.New("audit: file: no space left on device")
		}
		return nil
	}
}

// TestAcceptedMessageIsNeverResent: a message the relay accepted whose
// audit record failed is kept as delivered (durably: a new Outbox on the
// same spool sees it so) and only its record is retried; once the record
// is stored the entry goes. The relay sees it once.
func TestAcceptedMessageIsNeverResent(t *testing.T) {
	clk := newClock()
	d := &recordingDeliverer{sends: map[string]int{}, sendErr: acceptedErr{errors.New("audit: file: no space left on device")}}
	dir := t.TempDir()
	cfg := Config{Dir: dir, Deliverer: d, Now: clk.Now, Sleep: clk.Sleep, MinBackoff: time.Second, MaxBackoff: time.Second}
	o, ev := open(t, cfg)
	enqueue(t, o, "m1@example.com", message(1))
	ctx := context.Background()
	st, err := o.RunOnce(ctx)
	if err != nil || st.Delivered != 1 {
		t.Fatalf("first pass: %+v, %v; want 1 delivered", st, err)
	}
	if l := mustList(t, o); len(l) != 1 || l[0].State != StateDelivered {
		t.Fatalf("after the failed record: %+v, want one entry in state delivered", l)
	}
	if len(ev.find("outbox.record_pending")) != 1 {
		t.Fatalf("no outbox.record_pending event: %v", ev.names())
	}
	// A restart: a new Outbox on the same spool must not send it again.
	o2, _ := open(t, cfg)
	for i := 0; i < 3; i++ {
		clk.Advance(2 * time.Second)
		if _, err := o2.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	d.mu.Lock()
	d.healed = true
	d.mu.Unlock()
	clk.Advance(2 * time.Second)
	st, err = o2.RunOnce(ctx)
	if err != nil || st != (Stats{}) {
		t.Fatalf("record pass: %+v, %v; want nothing counted (the delivery was counted once)", st, err)
	}
	if l := mustList(t, o2); len(l) != 0 {
		t.Fatalf("after the record was stored: %+v, want an empty spool", l)
	}
	if d.sends["m1@example.com"] != 1 {
		t.Fatalf("the relay got %d copies, want 1", d.sends["m1@example.com"])
	}
	if d.tries != 5 {
		t.Fatalf("record tries = %d, want 5 (first, three while broken, one healed)", d.tries)
	}
}

// recordingBatchDeliverer is a recordingDeliverer that takes batches.
type recordingBatchDeliverer struct{ *recordingDeliverer }

func (d recordingBatchDeliverer) DeliverBatch(ctx context.Context, entries []BatchEntry) []BatchOutcome {
	return deliverEach(ctx, d, entries)
}

// TestDeliveredRecordFailureKeepsEntry: the relay accepted the message
// and the send's own records were stored, but the trail failed to store
// the outbox.delivered record after it. The entry must not be removed as
// if recorded (nothing would be left to retry the record from): it is kept
// as delivered, never sent again, and only its record is retried until
// the trail takes it; then the entry goes. The delivery is counted once.
// The same for three entries delivered one by one and in one batch (whose
// records are waited for together).
func TestDeliveredRecordFailureKeepsEntry(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n        int
		maxBatch int
		tries    int // record waits: each entry's first (one for a batch), its immediate retry when kept, one while broken, one healed
	}{
		{"one", 1, 0, 4},
		{"three", 3, 0, 12},
		{"batch", 3, 10, 1 + 3 + 3 + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			td := &recordingDeliverer{sends: map[string]int{}}
			var d Deliverer = td
			if tc.maxBatch > 1 {
				d = recordingBatchDeliverer{td}
			}
			cfg := Config{Dir: t.TempDir(), Deliverer: d, MaxBatch: tc.maxBatch, Now: clk.Now, Sleep: clk.Sleep, MinBackoff: time.Second, MaxBackoff: time.Second}
			o, ev := open(t, cfg)
			for i := range tc.n {
				enqueue(t, o, fmt.Sprintf("m%d@example.com", i), message(1))
			}
			ctx := context.Background()
			st, err := o.RunOnce(ctx)
			if err != nil || st.Delivered != tc.n {
				t.Fatalf("first pass: %+v, %v; want %d delivered", st, err, tc.n)
			}
			l := mustList(t, o)
			if len(l) != tc.n {
				t.Fatalf("after the failed outbox.delivered records: %+v, want the %d entries kept", l, tc.n)
			}
			for _, e := range l {
				if e.State != StateDelivered {
					t.Fatalf("entry %+v, want state delivered", e)
				}
			}
			if n := len(ev.find("outbox.record_pending")); n != tc.n {
				t.Fatalf("%d outbox.record_pending events, want %d: %v", n, tc.n, ev.names())
			}
			clk.Advance(2 * time.Second)
			if _, err := o.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			td.mu.Lock()
			td.healed = true
			td.mu.Unlock()
			clk.Advance(2 * time.Second)
			st, err = o.RunOnce(ctx)
			if err != nil || st != (Stats{}) {
				t.Fatalf("record pass: %+v, %v; want nothing counted (each delivery was counted once)", st, err)
			}
			if l := mustList(t, o); len(l) != 0 {
				t.Fatalf("after the records were stored: %+v, want an empty spool", l)
			}
			for i := range tc.n {
				if n := td.sends[fmt.Sprintf("m%d@example.com", i)]; n != 1 {
					t.Fatalf("the relay got %d copies of m%d, want 1", n, i)
				}
			}
			if td.tries != tc.tries {
				t.Fatalf("record waits = %d, want %d", td.tries, tc.tries)
			}
		})
	}
}
