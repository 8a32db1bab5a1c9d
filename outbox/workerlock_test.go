package outbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOneWorkerPerSpool: a second worker on the same spool (here a second
// Outbox; the command-line test uses two processes) is refused with
// ErrBusy while the first runs, enqueueing works beside it, and the lock
// is free again once the first stops.
func TestOneWorkerPerSpool(t *testing.T) {
	dir := t.TempDir()
	d := &script{}
	first, _ := open(t, Config{Dir: dir, Deliverer: d, PollInterval: 10 * time.Millisecond})
	second, _ := open(t, Config{Dir: dir, Deliverer: d})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	// Wait until Run holds the lock (its pid is in the lock file) before
	// the second worker tries: a RunOnce that took the lock first would
	// make Run itself the busy one.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, _ := os.ReadFile(filepath.Join(dir, lockName)); strings.HasPrefix(string(b), "pid ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run never took the worker lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, err := second.RunOnce(context.Background())
	var oe *Error
	if !errors.Is(err, ErrBusy) || !errors.As(err, &oe) || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("second worker: %v, want ErrBusy naming the holder", err)
	}
	if err := second.Run(context.Background()); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Run: %v, want ErrBusy", err)
	}
	// The worker's own RunOnce beside its Run is allowed.
	if _, err := first.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce beside Run of the same Outbox: %v", err)
	}
	enqueue(t, second, "beside@example.com", message(3)) // an enqueuer beside the worker
	cancel()
	<-done
	if _, err := second.RunOnce(context.Background()); err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
}
