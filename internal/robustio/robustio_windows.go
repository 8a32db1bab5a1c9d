//go:build windows

package robustio

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// transient reports whether err may go away once another process closes
// the file.
func transient(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case windows.ERROR_ACCESS_DENIED, windows.ERROR_SHARING_VIOLATION, windows.ERROR_LOCK_VIOLATION:
		return true
	}
	return false
}

// held runs f with retries and turns a transient error that outlasted
// Bound into a *HeldError.
func held(op, path string, f func() error) error {
	err, waited := retry(f, transient)
	if err != nil && transient(err) {
		return &HeldError{Op: op, Path: path, Waited: waited, Err: err, Denied: errors.Is(err, windows.ERROR_ACCESS_DENIED)}
	}
	return err
}

// Rename is os.Rename (MoveFileEx, replacing newpath), retrying while
// another process holds oldpath or newpath open; after Bound the error is
// a *HeldError.
func Rename(oldpath, newpath string) error {
	return held("rename", oldpath, func() error { return os.Rename(oldpath, newpath) })
}

// Remove is os.Remove, retrying while another process holds path open;
// after Bound the error is a *HeldError. A file that the project's own
// readers hold (they open with FILE_SHARE_DELETE) is removed at once: its
// name goes when the last of them closes it.
func Remove(path string) error {
	return held("remove", path, func() error { return os.Remove(path) })
}

// RemoveAll is os.RemoveAll, retrying while another process holds a file
// under path open; after Bound the error is a *HeldError.
func RemoveAll(path string) error {
	return held("remove", path, func() error { return os.RemoveAll(path) })
}

// Open opens path for reading as os.Open does, but shares it for deletion
// too (FILE_SHARE_DELETE), so that the file can be renamed, replaced or
// removed while it is open here. It retries while another process holds
// the file in a way that keeps it from being opened (a pending deletion,
// an exclusive share mode); after Bound the error is a *HeldError.
// Errors are otherwise *os.PathError, as os.Open's.
func Open(path string) (*os.File, error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var h windows.Handle
	err = held("open", path, func() error {
		var e error
		h, e = windows.CreateFile(p, windows.GENERIC_READ,
			windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
			// As os.Open: backup semantics open a directory too.
			nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
		if e != nil {
			return &os.PathError{Op: "open", Path: path, Err: e}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(h), path), nil
}

// ReadFile reads path whole through Open.
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
