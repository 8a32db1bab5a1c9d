//go:build !unix

package outbox

import (
	"os"

	"mailwarden/internal/robustio"
)

// openRead opens a spool file for reading (on Windows sharing delete, see
// robustio.Open).
func openRead(path string) (*os.File, error) { return robustio.Open(path) }
