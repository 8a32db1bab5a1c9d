//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package audit

import (
	"errors"
	"net"
	"syscall"
)

// peek looks at a stream socket without blocking or consuming anything.
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
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EINTR):
		case err != nil || n == 0:
			state = sockClosed
		default:
			state = sockData
		}
		return true
	})
	if err != nil {
		return sockClosed
	}
	return state
}
