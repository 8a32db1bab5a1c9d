//go:build !windows

package outbox

import "syscall"

// shortageErrnos are errors this platform reports for a local shortage.
var shortageErrnos = []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.EAGAIN}
