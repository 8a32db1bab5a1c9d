//go:build windows

package outbox

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/winetest"
	_ "mailwarden/internal/winetest/removeall"
)

func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if de.Name() != quarantine && de.Name() != lockName {
			out = append(out, de.Name())
		}
	}
	return out
}

// TestDeliveredRemovalWaitsForReader: a program holding a queued message's
// file when it is delivered delays its removal; the entry is removed once
// it lets go, sent once.
func TestDeliveredRemovalWaitsForReader(t *testing.T) {
	d := &script{}
	o, ev := open(t, Config{Deliverer: d})
	e := enqueue(t, o, "1@example.com", message(1))
	release, released := winetest.HoldFile(t, o.msgPath(e.ID))
	go func() {
		time.Sleep(200 * time.Millisecond)
		release()
	}()
	st, err := o.RunOnce(context.Background())
	if err != nil || st.Delivered != 1 || d.calls != 1 {
		t.Fatalf("RunOnce = %+v, %v (%d sends)", st, err, d.calls)
	}
	if !released.Load() {
		t.Fatal("the file was removed while held: nothing was proved")
	}
	if left := spoolFiles(t, o.Dir()); len(left) != 0 {
		t.Errorf("left in the spool: %v", left)
	}
	for _, r := range ev.find("outbox.delivered") {
		if r.attrs["error"] != "" {
			t.Errorf("delivered with an error: %v", r.attrs)
		}
	}
}

// TestDeliveredHeldForGoodIsNeverSentAgain: a message file held past the
// bound cannot be removed after its delivery. The entry is kept, marked
// delivered: neither this worker nor one started later sends it again;
// the later one removes it once the file is free.
func TestDeliveredHeldForGoodIsNeverSentAgain(t *testing.T) {
	clk := newClock()
	d := &script{}
	o, ev := open(t, Config{Deliverer: d, Now: clk.Now, Sleep: clk.Sleep})
	e := enqueue(t, o, "1@example.com", message(1))
	release, _ := winetest.HoldFile(t, o.msgPath(e.ID))
	st, err := o.RunOnce(context.Background())
	if err != nil || st.Delivered != 1 || d.calls != 1 {
		t.Fatalf("RunOnce = %+v, %v (%d sends)", st, err, d.calls)
	}
	// Recorded first (the entry stays until its record is stored), then
	// the removal that failed is its own record.
	if del := ev.find("outbox.delivered"); len(del) != 1 {
		t.Fatalf("outbox.delivered records: %v", del)
	}
	oe := ev.find("outbox.error")
	if len(oe) != 1 || !strings.Contains(oe[0].attrs["outbox.error"], "not removed") {
		t.Fatalf("outbox.error records: %v", oe)
	}
	t.Logf("outbox.error: %v", oe[0].attrs["outbox.error"])
	l := mustList(t, o)
	if len(l) != 1 || l[0].State != StateDelivered {
		t.Fatalf("list = %+v", l)
	}
	clk.Advance(time.Hour)
	if st, err := o.RunOnce(context.Background()); err != nil || st != (Stats{}) || d.calls != 1 {
		t.Fatalf("second pass: %+v, %v (%d sends)", st, err, d.calls)
	}

	// A restart, the file still held: not sent, still kept.
	o.Close()
	d2 := &script{}
	o2, ev2 := open(t, Config{Dir: o.Dir(), Deliverer: d2, Now: clk.Now, Sleep: clk.Sleep})
	clk.Advance(time.Hour)
	if st, err := o2.RunOnce(context.Background()); err != nil || st != (Stats{}) || d2.calls != 0 {
		t.Fatalf("after a restart: %+v, %v (%d sends)", st, err, d2.calls)
	}
	if len(mustList(t, o2)) != 1 {
		t.Fatal("the entry is gone while its file is held")
	}
	// The file is free: removed, still not sent.
	release()
	clk.Advance(time.Hour)
	if st, err := o2.RunOnce(context.Background()); err != nil || st != (Stats{}) || d2.calls != 0 {
		t.Fatalf("once free: %+v, %v (%d sends)", st, err, d2.calls)
	}
	if left := spoolFiles(t, o.Dir()); len(left) != 0 {
		t.Errorf("left in the spool: %v", left)
	}
	if r := ev2.find("outbox.removed"); len(r) != 1 {
		t.Errorf("outbox.removed records: %v", r)
	}
}

// leaky is a Deliverer that keeps the message's reader open after it
// returns, as a transport still finishing a write might.
type leaky struct{ readers []io.Closer }

func (l *leaky) Deliver(ctx context.Context, env Envelope, open Opener) (string, error) {
	r, err := open()
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return "", err
	}
	l.readers = append(l.readers, r.(io.Closer))
	return "Q1", nil
}

// TestOwnReaderDoesNotBlockRemoval: the spool's own readers (the message
// handed to the Deliverer, a listing) share the file for deletion, so the
// removal after a delivery does not wait for them.
func TestOwnReaderDoesNotBlockRemoval(t *testing.T) {
	d := &leaky{}
	o, ev := open(t, Config{Deliverer: d})
	enqueue(t, o, "1@example.com", message(1))
	st, err := o.RunOnce(context.Background())
	if err != nil || st.Delivered != 1 {
		t.Fatalf("RunOnce = %+v, %v", st, err)
	}
	for _, r := range ev.find("outbox.delivered") {
		if r.attrs["error"] != "" {
			t.Errorf("removal blocked by the spool's own reader: %v", r.attrs["error"])
		}
	}
	for _, r := range d.readers {
		r.Close()
	}
	if l := mustList(t, o); len(l) != 0 {
		t.Errorf("still listed: %+v", l)
	}
	if left := spoolFiles(t, o.Dir()); len(left) != 0 {
		t.Errorf("left in the spool: %v", left)
	}
}
