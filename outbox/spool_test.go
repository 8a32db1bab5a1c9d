package outbox

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// TestDirSyncerSharesFsyncs: removals made at once each return after an
// fsync that started after them, and share fsyncs rather than take one each.
func TestDirSyncerSharesFsyncs(t *testing.T) {
	dir := t.TempDir()
	s := newDirSyncer(dir)
	const n = 64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		p := filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := os.Remove(p); err != nil {
				errs[i] = err
				return
			}
			errs[i] = s.sync()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if s.rounds < 1 || s.rounds > n || s.done != s.gen || s.gen != n {
		t.Fatalf("rounds %d, done %d, gen %d for %d removals", s.rounds, s.done, s.gen, n)
	}
}

// TestDirSyncerReportsFailure: a failed fsync fails its callers, and a
// later successful one does not inherit the failure.
func TestDirSyncerReportsFailure(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no directory fsync (syncDir does nothing)")
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "spool")
	s := newDirSyncer(dir)
	if err := s.sync(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("sync of a missing directory: %v, want ErrNotExist", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.sync(); err != nil {
		t.Fatalf("sync after the directory came back: %v", err)
	}
}
