//go:build !unix && !windows

package audit

import "os"

// lockFile does nothing here (no advisory locks): a second writer of one
// trail is not stopped.
func lockFile(path string, perm os.FileMode) (*os.File, error) { return nil, nil }
