//go:build !unix && !windows

package outbox

import "os"

// lockFile does nothing where there is no file lock (js, wasip1, plan9):
// run one worker per spool.
func lockFile(*os.File) error { return nil }
