//go:build linux

package robustio_test

import (
	"testing"
	"time"

	"mailwarden/internal/winetest"
)

// TestWindowsUnderWine runs this package's Windows tests for real under
// Wine: a file held open by another handle without FILE_SHARE_DELETE.
func TestWindowsUnderWine(t *testing.T) {
	wine := winetest.Need(t)
	exe := winetest.BuildTest(t, t.TempDir(), ".", "robustio.test.exe")
	r := wine.RunTest(t, 5*time.Minute, exe)
	winetest.CheckTests(t, r, []string{"TestPlainRenameFailsOnHeldFile", "TestRenameWaitsForHolder", "TestRenameReplacesHeldTarget",
		"TestRemoveWaitsForHolder", "TestNeverReleasedIsHeldError", "TestOpenSharesDelete", "TestReadFileOfDeletePendingFile"}, nil)
}
