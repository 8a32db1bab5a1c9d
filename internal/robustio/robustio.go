// Package robustio renames, removes and reads the project's spool and
// audit files so that another process holding one of them open does not
// make the operation fail at once on Windows.
//
// On Windows a file opened without FILE_SHARE_DELETE (what os.Open and
// os.Create do, and what most antivirus scanners, backup agents and editors
// do) can be neither renamed, nor removed, nor replaced by a rename until
// the last such handle is closed: MoveFileEx and DeleteFile fail with
// ERROR_ACCESS_DENIED or ERROR_SHARING_VIOLATION meanwhile. Such holds are
// usually short (a scanner looks at a new file and lets it go), so the
// functions here retry those errors, and ERROR_LOCK_VIOLATION, with an
// exponential backoff (1 ms doubling, jittered) for at most Bound in all,
// as the Go command's own robustio does. When the file is still held after
// that, they return a *HeldError naming the file. ERROR_FILE_NOT_FOUND is
// never retried: here a missing file is a normal state (a state file not
// written yet, an anchor before the first record), and a rename replaces a
// file in one step, so a reader sees the old file or the new one.
//
// The project's own readers open files through Open, which on Windows adds
// FILE_SHARE_DELETE to the share mode: a verify, a listing or an anchor
// read running beside the writer never blocks its renames and removals.
//
// Elsewhere every function is the os function it is named after: Unix
// renames and unlinks open files.
package robustio

import (
	"errors"
	"fmt"
	"time"
)

// Bound is the longest one call retries on Windows before it gives up with
// a *HeldError.
const Bound = 2 * time.Second

// A HeldError is a rename, remove or open that still failed after Bound
// because another process kept the file open (Windows only). Err is the
// last error, an *os.PathError or *os.LinkError wrapping the Windows
// error. Its text does not depend on Waited, so that the same failure
// reads the same each time (callers report a changed error again).
type HeldError struct {
	Op     string // "rename", "remove", "open"
	Path   string // the file held (for a rename, the source; Err names both)
	Waited time.Duration
	Err    error
	// Denied: the last error was ERROR_ACCESS_DENIED, which Windows also
	// returns for a missing permission, not only for a file held open.
	Denied bool
}

func (e *HeldError) Error() string {
	why := "another process holds the file open"
	if e.Denied {
		why = "access denied: another process holds the file open, or this account lacks the permission"
	}
	return fmt.Sprintf("%s %s: %s (still after retrying for %s): %v "+
		"(typically an antivirus or backup agent, a file indexer, an editor, or another program reading the spool or the audit trail; "+
		"exclude the directory from on-access scanning or close that program, then try again)",
		e.Op, e.Path, why, Bound, e.Err)
}

// Unwrap returns the last error.
func (e *HeldError) Unwrap() error { return e.Err }

// IsHeld reports whether err is, or wraps, a *HeldError.
func IsHeld(err error) bool {
	var h *HeldError
	return errors.As(err, &h)
}
