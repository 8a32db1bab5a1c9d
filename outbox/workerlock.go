package outbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrBusy is wrapped by the *Error of Run and RunOnce when another worker
// (another process, or another Outbox on the same directory) is delivering
// the spool. Two workers on one spool would send the same entries twice.
var ErrBusy = errors.New("outbox: another worker is delivering this spool")

// lockName is the worker lock in the spool directory. It holds the pid of
// the worker that has it, for the message a second worker gets.
const lockName = "worker.lock"

// errLockHeld is what lockFile returns when another holds the lock.
var errLockHeld = errors.New("lock held")

// lockWorker makes o the spool's one worker until the returned function is
// called. Run and RunOnce of the same Outbox share the lock (a RunOnce
// beside a Run stays possible); Enqueue, List, Retry and Purge never take
// it. The lock is an operating-system lock on worker.lock (flock on Unix,
// LockFileEx on Windows): a worker that dies releases it.
func (o *Outbox) lockWorker() (func(), error) {
	o.wmu.Lock()
	defer o.wmu.Unlock()
	if o.workers == 0 {
		path := filepath.Join(o.dir, lockName)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, &Error{Op: "run", Path: path, Err: err, Hint: "the worker lock cannot be created; check that the spool directory is writable"}
		}
		if err := lockFile(f); err != nil {
			f.Close()
			if errors.Is(err, errLockHeld) {
				holder := ""
				if b, rerr := os.ReadFile(path); rerr == nil && len(b) > 0 && len(b) < 200 {
					holder = " (" + strings.TrimSpace(string(b)) + ")"
				}
				return nil, &Error{Op: "run", Path: o.dir, Err: ErrBusy,
					Hint: "another 'outbox run'" + holder + " is delivering it; run one worker per spool (enqueue, list, retry and purge work beside it)"}
			}
			return nil, &Error{Op: "run", Path: path, Err: err}
		}
		host, _ := os.Hostname()
		f.Truncate(0)
		f.WriteAt([]byte(fmt.Sprintf("pid %d on %s\n", os.Getpid(), host)), 0)
		o.lockf = f
	}
	o.workers++
	return func() {
		o.wmu.Lock()
		defer o.wmu.Unlock()
		if o.workers--; o.workers == 0 {
			o.lockf.Truncate(0)
			o.lockf.Close() // releases the lock
			o.lockf = nil
		}
	}, nil
}
