//go:build amd64 && !purego

package wire

import "golang.org/x/sys/cpu"

// scanVariants: the SSE2 code, and the AVX2 code where the CPU has it.
func scanVariants() []scanVariant {
	v := []scanVariant{{"sse2",
		func(p []byte, check8 bool) (bool, bool) { return scanVector(p, check8, false) },
		func(p []byte, check8 bool) (int, bool, bool) { return scanDataVector(p, check8, false) }}}
	if cpu.X86.HasAVX2 {
		v = append(v, scanVariant{"avx2",
			func(p []byte, check8 bool) (bool, bool) { return scanVector(p, check8, true) },
			func(p []byte, check8 bool) (int, bool, bool) { return scanDataVector(p, check8, true) }})
	}
	return v
}
