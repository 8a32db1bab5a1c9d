package oauth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// lockCache takes an exclusive lock on a hidden file next to the cache
// (.tokens.lock for tokens), waiting while another process holds it, until
// ctx ends. Held from reading the cache to writing it back, it keeps two
// processes from sending the same refresh token at once (a server that
// rotates refresh tokens refuses the second) and from writing over each
// other's entries. The lock file stays; it is empty. The returned func
// releases the lock.
//
// A process that may not create the lock file (a read-only directory) goes
// on without it: it cannot write the cache either, so it only reads.
func lockCache(ctx context.Context, path string) (func(), error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return func() {}, nil
		}
		return nil, &CacheError{Path: path, Err: err}
	}
	f, err := os.OpenFile(filepath.Join(dir, "."+filepath.Base(path)+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrPermission) {
		return func() {}, nil
	}
	if err != nil {
		return nil, &CacheError{Path: path, Err: err}
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, &CacheError{Path: path, Err: fmt.Errorf("locking: %w", err)}
		}
		if ok {
			return func() { unlock(f); f.Close() }, nil
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, ctx.Err()
		}
	}
}
