// Package removeall makes os.RemoveAll work under Wine in the Windows test
// binaries that internal/winetest builds (tag winetest): a test package
// imports it for its side effect from a Windows-only test file.
//
// Go's os.RemoveAll on Windows deletes each file with
// NtSetInformationFile(FileDispositionInformationEx) and POSIX semantics,
// falling back to the classic FileDispositionInfo when Windows says the
// class is unsupported. Wine 8 does not implement that class and answers
// STATUS_NOT_IMPLEMENTED, which Go does not take for "unsupported": every
// non-empty directory removal fails with "Invalid function", so every
// t.TempDir cleanup would fail. Under the winetest tag this package turns
// on the fallback Go keeps for its own tests. Without the tag (a real
// Windows, any other build) it does nothing.
package removeall
