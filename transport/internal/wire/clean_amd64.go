//go:build amd64 && !purego

package wire

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2

//go:noescape
func scanSSE2(p []byte) (ok, high bool)

//go:noescape
func scanAVX2(p []byte) (ok, high bool)

//go:noescape
func scanDataSSE2(p []byte) (n int, ok, high bool)

//go:noescape
func scanDataAVX2(p []byte) (n int, ok, high bool)

// scan is scanGeneric in one vector pass: for each i in 1..len(p)-1,
// p[i] is LF exactly when p[i-1] is CR, p does not start with LF or end
// with CR, and the sign bits of the bytes are ORed on the way.
func scan(p []byte, check8 bool) (ok, high bool) {
	return scanVector(p, check8, useAVX2)
}

// scanVector is scan with AVX2 used or not (for the tests of both).
func scanVector(p []byte, check8, avx2 bool) (ok, high bool) {
	n := len(p)
	if n == 0 {
		return true, false
	}
	if p[0] == '\n' || p[n-1] == '\r' {
		return false, false
	}
	switch {
	case n > 32 && avx2:
		ok, high = scanAVX2(p)
	case n > 16:
		ok, high = scanSSE2(p)
	default:
		for i := 1; i < n; i++ {
			if (p[i] == '\n') != (p[i-1] == '\r') {
				return false, false
			}
		}
		return true, check8 && hasHigh(p)
	}
	return ok, ok && check8 && (high || p[0] >= 0x80)
}

// scanData is scanDataGeneric in one vector pass.
func scanData(p []byte, check8 bool) (n int, ok, high bool) {
	return scanDataVector(p, check8, useAVX2)
}

func scanDataVector(p []byte, check8, avx2 bool) (n int, ok, high bool) {
	n = len(p)
	if n == 0 {
		return 0, true, false
	}
	if p[0] == '\n' {
		return 0, false, false
	}
	switch {
	case n > 32 && avx2:
		n, ok, high = scanDataAVX2(p)
	case n > 16:
		n, ok, high = scanDataSSE2(p)
	default:
		for i := 1; i < n; i++ {
			if p[i] == '.' && p[i-1] == '\n' {
				n = i
				break
			}
			if (p[i] == '\n') != (p[i-1] == '\r') {
				return 0, false, false
			}
		}
		high = hasHigh(p[:n])
		ok = true
	}
	if !ok || p[n-1] == '\r' {
		return 0, false, false
	}
	return n, true, check8 && (high || p[0] >= 0x80)
}
