//go:build linux

package robustio_test

import (
	"slices"
	"strings"
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
	if r.Code != 0 || len(r.Failed) > 0 {
		t.Fatalf("under Wine: exit %d, failed %v\n%s%s", r.Code, r.Failed, r.Stdout, r.Stderr)
	}
	for _, name := range []string{"TestPlainRenameFailsOnHeldFile", "TestRenameWaitsForHolder", "TestRenameReplacesHeldTarget",
		"TestRemoveWaitsForHolder", "TestNeverReleasedIsHeldError", "TestOpenSharesDelete", "TestReadFileOfDeletePendingFile"} {
		if !slices.Contains(r.Passed, name) {
			t.Errorf("%s did not pass under Wine (passed: %v, skipped: %v)", name, r.Passed, r.Skipped)
		}
	}
	t.Logf("under Wine: %d passed, %d skipped: %s", len(r.Passed), len(r.Skipped), strings.Join(r.Passed, " "))
}
