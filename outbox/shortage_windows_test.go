//go:build windows

package outbox

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// shortageErrnos are errors Windows reports for a local shortage, or for a
// spooled file another program holds open.
var shortageErrnos = []syscall.Errno{windows.ERROR_TOO_MANY_OPEN_FILES, windows.ERROR_NOT_ENOUGH_MEMORY,
	windows.ERROR_NO_SYSTEM_RESOURCES, windows.WSAENOBUFS, windows.ERROR_SHARING_VIOLATION}
