//go:build !windows

package outbox

import "syscall"

// localShortage reports whether errno is a local, passing condition rather
// than the message's fault: EMFILE, ENFILE, EAGAIN, EINTR (Errno's
// Temporary; it is false for ENOENT, EACCES, ENOSPC).
func localShortage(errno syscall.Errno) bool { return errno.Temporary() }
