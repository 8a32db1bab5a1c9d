// Package faulttest injects real faults into tests: a small tmpfs that can
// be filled to ENOSPC and freed again. It is for tests only.
package faulttest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of the given size (for example "512k") on a new
// directory and unmounts it when the test ends. It needs Linux and root:
// elsewhere the test is skipped, unless MAILWARDEN_REQUIRE_PEERS=1 says
// that nothing may skip, when it fails.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	skip := t.Skip
	if os.Getenv("MAILWARDEN_REQUIRE_PEERS") == "1" {
		skip = t.Fatal
	}
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		skip("a full-disk test needs root on Linux to mount a tmpfs")
		return ""
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		skip("mount tmpfs: " + err.Error() + ": " + string(out))
		return ""
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Fill writes a file in dir until the file system is full (ENOSPC) and
// returns its name; removing it frees the space.
func Fill(t testing.TB, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	// The last block may take a few more bytes.
	for {
		if _, err := f.Write(buf[:1]); err != nil {
			break
		}
	}
	return name
}
