//go:build unix

package outbox

import (
	"os"
	"syscall"
)

// openRead opens a spool file for reading. os.Open on Linux also offers a
// regular file to the network poller (four fcntl calls around an epoll_ctl
// that fails), and a delivery opens its entry twice (verified when found,
// then read for the relay): open(2) and os.NewFile do without.
func openRead(path string) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
