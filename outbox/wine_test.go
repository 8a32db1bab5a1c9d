//go:build linux

package outbox

import (
	"testing"
	"time"

	"mailwarden/internal/winetest"
)

// TestWindowsUnderWine runs this package's tests, built for Windows, under
// Wine: the whole suite (tests that need a peer skip) and the Windows-only
// tests of a file held open by another program (wine_windows_test.go).
func TestWindowsUnderWine(t *testing.T) {
	wine := winetest.Need(t)
	exe := winetest.BuildTest(t, t.TempDir(), ".", "outbox.test.exe")
	r := wine.RunTest(t, 10*time.Minute, exe)
	winetest.CheckTests(t, r, []string{"TestDeliveredRemovalWaitsForReader", "TestDeliveredHeldForGoodIsNeverSentAgain",
		"TestOwnReaderDoesNotBlockRemoval", "TestEnqueueDeliverRemoves", "TestQuarantineThatCannotMoveDoesNotLoop",
		"TestUnreadableEntryReportedOnce", "TestOneWorkerPerSpool",
		// Windows' own shortage codes and a sharing violation are temporary
		// (shortage_windows.go); the read-only-spool check is Unix-only.
		"TestLocalResourceShortageIsTemporary", "TestEnqueueStorageFailureIsAnError"}, map[string]string{
		"TestRunSurvivesLostSpool": "it deletes the spool directory under the running worker; Windows refuses while worker.lock is open",
	})
}
