//go:build windows

package winetest

import (
	"sync/atomic"
	"testing"

	"golang.org/x/sys/windows"
)

// HoldFile opens path as most other programs do (os.Open, an editor, a
// virus scanner, a backup agent): read access, sharing read and write but
// not delete, so that renaming or removing it fails with a sharing
// violation while it is held. The returned function closes the handle once
// (it is also called at the test's end) and records in released that it
// did. For the Windows tests that run under Wine.
func HoldFile(t testing.TB, path string) (release func(), released *atomic.Bool) {
	t.Helper()
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil,
		windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		t.Fatalf("CreateFile %s: %v", path, err)
	}
	released = new(atomic.Bool)
	var once atomic.Bool
	release = func() {
		if once.CompareAndSwap(false, true) {
			released.Store(true)
			windows.CloseHandle(h)
		}
	}
	t.Cleanup(release)
	return release, released
}
