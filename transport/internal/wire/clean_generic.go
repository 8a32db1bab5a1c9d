//go:build !amd64 || purego

package wire

// scan reports whether p is clean and, when it is and check8 is set,
// whether it has a byte >= 0x80 (see scanGeneric).
func scan(p []byte, check8 bool) (ok, high bool) {
	return scanGeneric(p, check8)
}

// scanData is scanDataGeneric.
func scanData(p []byte, check8 bool) (n int, ok, high bool) {
	return scanDataGeneric(p, check8)
}
