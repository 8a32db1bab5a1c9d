//go:build !unix

package audit

import "os"

// lockFile does nothing here; on Windows an open active file cannot be
// renamed, so a second writer fails when it tries to rotate it away.
func lockFile(path string, perm os.FileMode) (*os.File, error) { return nil, nil }
