//go:build windows

package outbox

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// localShortage reports whether errno is a local, passing condition rather
// than the message's fault. Windows reports a shortage with its own codes,
// not with the Unix errno values Go invents for it there (its EMFILE and
// ENFILE are never returned by Windows), and a file another program holds
// open (a backup or virus scanner reading the spooled message) with a
// sharing or lock violation.
func localShortage(errno syscall.Errno) bool {
	switch errno {
	case windows.ERROR_TOO_MANY_OPEN_FILES, windows.ERROR_NOT_ENOUGH_MEMORY, windows.ERROR_OUTOFMEMORY,
		windows.ERROR_NO_SYSTEM_RESOURCES, windows.ERROR_COMMITMENT_LIMIT, windows.WSAEMFILE, windows.WSAENOBUFS,
		windows.ERROR_SHARING_VIOLATION, windows.ERROR_LOCK_VIOLATION:
		return true
	}
	return errno.Temporary()
}
