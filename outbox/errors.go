package outbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrFull is wrapped by the *Error of an Enqueue refused because the
	// spool would exceed Config.MaxBytes or Config.MaxMessages.
	ErrFull = errors.New("outbox: spool full")
	// ErrCorrupt is wrapped by the error for an entry whose checksum, size
	// or format is wrong.
	ErrCorrupt = errors.New("outbox: corrupt spool entry")
	// ErrNotFound is returned for a spool id that is not in the spool.
	ErrNotFound = errors.New("outbox: no such entry")
	// ErrClosed is returned by calls on a closed Outbox.
	ErrClosed = errors.New("outbox: closed")
	// ErrNoDeliverer is returned by Run and RunOnce when Config.Deliverer
	// is nil.
	ErrNoDeliverer = errors.New("outbox: no Deliverer configured")
	// ErrNoSpool: Config.Existing was set and the directory is missing or
	// is not a spool.
	ErrNoSpool = errors.New("outbox: no spool there")
)

// An Error is a failed spool operation: Op is what was being done
// ("enqueue", "open", "retry", "purge", ...), ID the entry if any, Path the
// file if any. Err is the cause (an *os.PathError for a read-only or
// missing directory, or one of the sentinels).
type Error struct {
	Op   string
	ID   string
	Path string
	Err  error
	Hint string
}

func (e *Error) Error() string {
	s := "outbox: " + e.Op
	if e.ID != "" {
		s += " " + e.ID
	}
	s += ": " + e.Err.Error()
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// A FullError is the cause of an Enqueue refused by a quota; it wraps
// ErrFull.
type FullError struct {
	Limit string // "max_bytes" or "max_messages"
	Max   int64
	Used  int64 // bytes or messages in the spool before this one
}

func (e *FullError) Error() string {
	return fmt.Sprintf("outbox: spool full: %s %d reached (%d in use)", e.Limit, e.Max, e.Used)
}

// Unwrap returns ErrFull.
func (e *FullError) Unwrap() error { return ErrFull }

// Temporary reports whether a delivery error is worth retrying later: the
// first error in its chain with a Temporary() bool method decides (as
// transport.Error's does: 4xx, connection, TLS, proxy failures and
// timeouts), except that a network error (*net.OpError, a timeout, a DNS
// failure other than "no such host") counts as temporary whatever its own
// method says (a refused connection is one), and so does a local resource
// shortage (a syscall.Errno whose Temporary is true: EMFILE, ENFILE,
// EAGAIN, EINTR; on Windows also its own codes for too many open files, no
// memory or system resources, and a sharing or lock violation). Without
// any of these, the failure is permanent. A cancelled context is not
// temporary.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) {
		if _, isNet := t.(net.Error); !isNet {
			return t.Temporary()
		}
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	// A network error: *net.OpError (dial, read, write), a DNS failure, or
	// any net.Error that timed out. (A bare syscall.Errno also has the
	// net.Error methods; a file-system error must not count.)
	var op *net.OpError
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return !dns.IsNotFound // a name that does not exist will not start to
	}
	if errors.As(err, &op) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// A local shortage (too many open files, EAGAIN, EINTR), say when
	// opening the spooled message under load, is not the message's fault.
	// (Errno's Temporary is false for ENOENT, EACCES, ENOSPC.)
	var errno syscall.Errno
	if errors.As(err, &errno) && localShortage(errno) {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}
