//go:build windows

package robustio_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"mailwarden/internal/robustio"
	"mailwarden/internal/winetest"
	_ "mailwarden/internal/winetest/removeall"
)

// releaseLater closes a held handle after d, from another goroutine.
func releaseLater(release func(), d time.Duration) {
	go func() {
		time.Sleep(d)
		release()
	}()
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPlainRenameFailsOnHeldFile states the Windows behaviour the package
// exists for (Wine emulates it: ERROR_SHARING_VIOLATION for the source,
// ERROR_ACCESS_DENIED for a target being replaced).
func TestPlainRenameFailsOnHeldFile(t *testing.T) {
	dir := t.TempDir()
	src, held, dst := filepath.Join(dir, "src"), filepath.Join(dir, "held"), filepath.Join(dir, "dst")
	write(t, src, "new")
	write(t, held, "old")
	winetest.HoldFile(t, held)
	if err := os.Rename(held, dst); !errors.Is(err, windows.ERROR_SHARING_VIOLATION) {
		t.Errorf("os.Rename of a held file: %v, want ERROR_SHARING_VIOLATION", err)
	}
	if err := os.Rename(src, held); !errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		t.Errorf("os.Rename over a held file: %v, want ERROR_ACCESS_DENIED", err)
	}
	if err := os.Remove(held); !errors.Is(err, windows.ERROR_SHARING_VIOLATION) {
		t.Errorf("os.Remove of a held file: %v, want ERROR_SHARING_VIOLATION", err)
	}
}

func TestRenameWaitsForHolder(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	write(t, a, "a")
	release, released := winetest.HoldFile(t, a)
	releaseLater(release, 200*time.Millisecond)
	if err := robustio.Rename(a, b); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	if !released.Load() {
		t.Fatal("Rename succeeded while the file was still held: the test proves nothing here")
	}
	if got := read(t, b); got != "a" {
		t.Errorf("renamed file holds %q", got)
	}
}

func TestRenameReplacesHeldTarget(t *testing.T) {
	dir := t.TempDir()
	tmp, anchor := filepath.Join(dir, ".anchor.tmp"), filepath.Join(dir, "anchor")
	write(t, anchor, "old")
	write(t, tmp, "new")
	release, released := winetest.HoldFile(t, anchor)
	releaseLater(release, 200*time.Millisecond)
	if err := robustio.Rename(tmp, anchor); err != nil {
		t.Fatalf("Rename over a held file: %v", err)
	}
	if !released.Load() {
		t.Fatal("the replace succeeded while the target was held")
	}
	if got := read(t, anchor); got != "new" {
		t.Errorf("target holds %q, want new", got)
	}
}

func TestRemoveWaitsForHolder(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	write(t, a, "a")
	release, released := winetest.HoldFile(t, a)
	releaseLater(release, 200*time.Millisecond)
	if err := robustio.Remove(a); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if !released.Load() {
		t.Fatal("Remove succeeded while the file was held")
	}
	if _, err := os.Stat(a); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Remove: %v", err)
	}
}

func TestNeverReleasedIsHeldError(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	write(t, a, "a")
	winetest.HoldFile(t, a)
	for _, c := range []struct {
		op string
		f  func() error
	}{
		{"rename", func() error { return robustio.Rename(a, b) }},
		{"remove", func() error { return robustio.Remove(a) }},
	} {
		err := c.f()
		var h *robustio.HeldError
		if !errors.As(err, &h) {
			t.Fatalf("%s of a file held for good: %v (%T), want *HeldError", c.op, err, err)
		}
		if h.Op != c.op || h.Path != a || !errors.Is(err, windows.ERROR_SHARING_VIOLATION) {
			t.Errorf("%s: HeldError %+v", c.op, h)
		}
		// The bound was used, not given up early: the last wait would
		// have passed it.
		if h.Waited < robustio.Bound/2 || h.Waited > robustio.Bound+time.Second {
			t.Errorf("%s: gave up after %s, the bound is %s", c.op, h.Waited, robustio.Bound)
		}
		t.Logf("%s: %v", c.op, err)
	}
	if got := read(t, a); got != "a" {
		t.Errorf("the held file changed: %q", got)
	}
}

// TestOpenSharesDelete: a file open through Open does not stop a plain
// rename or removal (what the project's readers do for its writers).
func TestOpenSharesDelete(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	write(t, a, "content")
	f, err := robustio.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Rename(a, b); err != nil {
		t.Fatalf("os.Rename of a file open through Open: %v", err)
	}
	// The active file is created again at its name at once (a rotation).
	write(t, a, "next")
	if err := os.Remove(b); err != nil {
		t.Fatalf("os.Remove of a file open through Open: %v", err)
	}
	buf := make([]byte, 7)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != "content" {
		t.Errorf("reading the open handle after rename and removal: %q, %v", buf, err)
	}
	if _, err := robustio.Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing file: %v, want os.ErrNotExist", err)
	}
	// A directory opens as with os.Open (not an access error retried
	// until the bound).
	d, err := robustio.Open(dir)
	if err != nil {
		t.Fatalf("Open of a directory: %v", err)
	}
	defer d.Close()
	// ("b" may still be listed: its deletion is pending while f is open.)
	if names, err := d.Readdirnames(-1); err != nil || !slices.Contains(names, "a") {
		t.Errorf("Readdirnames of a directory open through Open: %v, %v", names, err)
	}
}

// TestReadFileOfDeletePendingFile: a file removed while a reader of ours
// still holds it may keep its name until that reader closes it (classic
// deletion; Windows 10 and later delete with POSIX semantics and the name
// goes at once). Windows refuses to open such a file (ERROR_ACCESS_DENIED),
// which ReadFile waits out; Wine 8 opens it and reads the old content.
func TestReadFileOfDeletePendingFile(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	write(t, a, "a")
	f, err := robustio.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	_, statErr := os.Stat(a)
	var openErr error
	if g, err := os.Open(a); err == nil {
		g.Close()
	} else {
		openErr = err
	}
	t.Logf("removed while open: stat: %v; open: %v", statErr, openErr)
	var closed atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(200 * time.Millisecond)
		closed.Store(true)
		f.Close()
	}()
	defer func() { <-done }()
	b, err := robustio.ReadFile(a)
	switch {
	case statErr != nil || errors.Is(openErr, windows.ERROR_ACCESS_DENIED):
		// Windows: the file is gone, or is until the reader closes it.
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("ReadFile of a removed file: %q, %v; want os.ErrNotExist", b, err)
		}
		if statErr == nil && !closed.Load() {
			t.Error("ReadFile returned before the pending deletion ended")
		}
	case openErr == nil:
		// Wine: a file pending deletion still opens.
		if err != nil || string(b) != "a" {
			t.Errorf("ReadFile of a file pending deletion under Wine: %q, %v", b, err)
		}
	default:
		t.Errorf("opening a file pending deletion: %v", openErr)
	}
}
