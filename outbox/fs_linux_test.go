//go:build linux

package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"mailwarden/outbox"
)

// mountTmpfs mounts a tmpfs of the given size (bytes) on a new directory, so
// that a full or read-only disk is the kernel's own ENOSPC or EROFS, not a
// simulation. It needs root; elsewhere the test skips.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// A disk that fills up: every Enqueue either stores its message whole or
// fails with a clear error naming the cause, leaves no partial file, and
// everything accepted is delivered intact.
func TestEnqueueOnARealFullDisk(t *testing.T) {
	dir := mountTmpfs(t, "256k")
	var mu sync.Mutex
	delivered := map[string][]byte{}
	d := outbox.DelivererFunc(func(ctx context.Context, env outbox.Envelope, open outbox.Opener) (string, error) {
		r, err := open()
		if err != nil {
			return "", err
		}
		defer r.(io.Closer).Close()
		b, err := io.ReadAll(r)
		if err != nil {
			return "", err
		}
		mu.Lock()
		delivered[env.MessageID] = b
		mu.Unlock()
		return "q", nil
	})
	o, err := outbox.Open(outbox.Config{Dir: filepath.Join(dir, "spool"), Deliverer: d})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	body := bytes.Repeat([]byte("0123456789abcdef"), 40<<10/16) // 40 KiB
	accepted := map[string]bool{}
	var lastErr error
	for i := 0; i < 20 && lastErr == nil; i++ {
		id := "m" + string(rune('a'+i)) + "@example.com"
		_, lastErr = o.Enqueue(context.Background(), outbox.Envelope{From: "a@example.com", To: []string{"b@example.com"}, MessageID: id},
			func(w io.Writer) error { _, err := w.Write(body); return err })
		if lastErr == nil {
			accepted[id] = true
		}
	}
	if lastErr == nil {
		t.Fatal("20 messages of 40 KiB fit on a 256 KiB disk")
	}
	var oe *outbox.Error
	if !errors.As(lastErr, &oe) || !errors.Is(lastErr, syscall.ENOSPC) || !strings.Contains(lastErr.Error(), "room") {
		t.Fatalf("full disk: %v, want an *outbox.Error wrapping ENOSPC with a hint", lastErr)
	}
	t.Logf("%d messages accepted before: %v", len(accepted), lastErr)
	names, _ := filepath.Glob(filepath.Join(dir, "spool", "*"))
	for _, n := range names {
		if strings.Contains(filepath.Base(n), "tmp") {
			t.Errorf("a partial file was left behind: %s", n)
		}
	}
	entries, err := o.List(context.Background())
	if err != nil || len(entries) != len(accepted) {
		t.Fatalf("list: %d entries (%v), %d accepted", len(entries), err, len(accepted))
	}
	st, err := o.RunOnce(context.Background())
	if err != nil || st.Delivered != len(accepted) || st.Quarantined != 0 {
		t.Fatalf("delivery: %+v %v", st, err)
	}
	for id := range accepted {
		if !bytes.Equal(delivered[id], body) {
			t.Errorf("%s: delivered %d bytes, want the %d enqueued", id, len(delivered[id]), len(body))
		}
	}
}

// A disk remounted read-only: Enqueue fails with the kernel's EROFS and
// stores nothing; what was queued before stays listed.
func TestEnqueueOnAReadOnlyDisk(t *testing.T) {
	dir := mountTmpfs(t, "1m")
	o, err := outbox.Open(outbox.Config{Dir: filepath.Join(dir, "spool")})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	env := outbox.Envelope{From: "a@example.com", To: []string{"b@example.com"}, MessageID: "1@example.com"}
	msg := func(w io.Writer) error { _, err := io.WriteString(w, "Subject: x\r\n\r\nbody\r\n"); return err }
	if _, err := o.Enqueue(context.Background(), env, msg); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount read-only: %v", err)
	}
	env.MessageID = "2@example.com"
	_, err = o.Enqueue(context.Background(), env, msg)
	var oe *outbox.Error
	if !errors.As(err, &oe) || !errors.Is(err, syscall.EROFS) {
		t.Fatalf("read-only disk: %v, want an *outbox.Error wrapping EROFS", err)
	}
	entries, err := o.List(context.Background())
	if err != nil || len(entries) != 1 || entries[0].Envelope.MessageID != "1@example.com" {
		t.Fatalf("list after the failure: %+v %v", entries, err)
	}
}
