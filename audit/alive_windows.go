//go:build windows

package audit

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Winsock's select, which x/sys/windows does not wrap.
var procSelect = windows.NewLazySystemDLL("ws2_32.dll").NewProc("select")

// fdSet is Winsock's fd_set holding one socket: a u_int count, then the
// SOCKET array (aligned as a pointer).
type fdSet struct {
	count uint32
	fds   [1]windows.Handle
}

// peek looks at a stream socket without blocking or consuming anything, as
// the Unix version does with MSG_PEEK|MSG_DONTWAIT. Go's sockets on Windows
// are blocking sockets used with overlapped I/O on a completion port, so
// there is no MSG_DONTWAIT: select with a zero timeout says whether a
// receive would complete at once (data, the peer's FIN or a reset), and only
// then a synchronous WSARecv with MSG_PEEK (no OVERLAPPED, so no completion
// is posted to Go's port) looks at what is there. The read lock of
// RawConn.Read keeps any Go read off the socket meanwhile.
func peek(c net.Conn) sockState {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return sockIdle
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return sockIdle
	}
	state := sockIdle
	err = raw.Read(func(fd uintptr) bool {
		set := fdSet{count: 1, fds: [1]windows.Handle{windows.Handle(fd)}}
		var zero windows.Timeval
		r, _, _ := procSelect.Call(0, uintptr(unsafe.Pointer(&set)), 0, 0, uintptr(unsafe.Pointer(&zero)))
		switch int32(r) {
		case 0: // nothing to receive
			return true
		case -1: // SOCKET_ERROR: the socket is not usable
			state = sockClosed
			return true
		}
		var b [1]byte
		buf := windows.WSABuf{Len: 1, Buf: &b[0]}
		var n uint32
		flags := uint32(windows.MSG_PEEK)
		if err := windows.WSARecv(windows.Handle(fd), &buf, 1, &n, &flags, nil, nil); err != nil || n == 0 {
			state = sockClosed
		} else {
			state = sockData
		}
		return true
	})
	if err != nil {
		return sockClosed
	}
	return state
}
