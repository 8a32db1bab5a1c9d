//go:build windows

package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// lockFile takes an exclusive LockFileEx lock on a hidden file next to
// path (.audit.log.lock for audit.log) so that two processes never write
// one trail, as flock does on Unix. Without it a second writer would find
// out only when Windows refused to rotate the first one's open active file
// away, after robustio's retries, with an unclear error. The lock file
// stays; it is empty.
func lockFile(path string, perm os.FileMode) (*os.File, error) {
	dir, base := filepath.Split(path)
	lf, err := os.OpenFile(filepath.Join(dir, "."+base+".lock"), os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, fmt.Errorf("audit: file: %w", err)
	}
	ol := new(windows.Overlapped)
	err = windows.LockFileEx(windows.Handle(lf.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if err != nil {
		lf.Close()
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
			return nil, fmt.Errorf("audit: file: %s is in use by another writer", path)
		}
		return nil, fmt.Errorf("audit: file: locking %s: %w", path, err)
	}
	return lf, nil
}
