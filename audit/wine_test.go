//go:build linux

package audit

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
	exe := winetest.BuildTest(t, t.TempDir(), ".", "audit.test.exe")
	r := wine.RunTest(t, 10*time.Minute, exe)
	const udp = "Wine 8 cannot use UDP sockets from Go: WSAIoctl(SIO_UDP_CONNRESET) fails with WSAEOPNOTSUPP (10045)"
	winetest.CheckTests(t, r, []string{"TestAnchorUpdateWaitsForReader", "TestAnchorHeldForGoodFailsClosed",
		"TestRotationWaitsForReader", "TestRotationHeldForGoodFailsClosed", "TestVerifyBesideWriter",
		"TestSecondWriterRefusedAtOnce", "TestOneWriterPerTrail", "TestFileChainVerifies", "TestRotationChainContinues",
		"TestAnchorDetectsDeletedNewestFiles",
		// A collector that closed the connection is seen before the next
		// record is written (alive_windows.go), not after it was lost.
		"TestSyslogReconnects", "TestSyslogDownFailsClosed", "TestNewFailClosedThroughQueue",
		// Their Unix-only checks (file modes, unixgram) are left out on Windows.
		"TestCreateTranscriptMode", "TestNewErrors", "TestLoadKey"}, map[string]string{
		"TestParseSyslogURLRELP":      udp,
		"TestSecretsNeverWritten":     udp,
		"TestSyslogNetworks":          "its udp, unixgram and unix cases: " + udp + "; no unixgram on Windows; Wine 8 has no AF_UNIX (10047)",
		"TestSyslogNetworks/udp":      udp,
		"TestSyslogNetworks/unixgram": "no unixgram on Windows",
		"TestSyslogNetworks/unix":     "Wine 8 has no AF_UNIX sockets (WSAEAFNOSUPPORT, 10047)",
	})
}
