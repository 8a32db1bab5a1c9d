//go:build unix

package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile takes an exclusive advisory lock on a hidden file next to path
// (.audit.log.lock for audit.log) so that two processes never write one
// trail: the second would rotate the first's active file away under it and
// the chains would interleave. The lock file stays; it is empty.
func lockFile(path string, perm os.FileMode) (*os.File, error) {
	dir, base := filepath.Split(path)
	lf, err := os.OpenFile(filepath.Join(dir, "."+base+".lock"), os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, fmt.Errorf("audit: file: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("audit: file: %s is in use by another writer", path)
		}
		return nil, fmt.Errorf("audit: file: locking %s: %w", path, err)
	}
	return lf, nil
}
