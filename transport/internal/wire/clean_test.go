package wire

import (
	"bytes"
	"testing"
)

// cleanByDefinition: every CR is followed by an LF and every LF follows
// a CR.
func cleanByDefinition(p []byte) bool {
	for i, c := range p {
		if c == '\r' && (i+1 == len(p) || p[i+1] != '\n') {
			return false
		}
		if c == '\n' && (i == 0 || p[i-1] != '\r') {
			return false
		}
	}
	return true
}

func highByDefinition(p []byte) bool {
	for _, c := range p {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// checkScan compares every variant of scan (scanVariants, in the
// architecture's test file), and scanGeneric, on p with the definitions.
func checkScan(t *testing.T, p []byte) {
	t.Helper()
	wantOK := cleanByDefinition(p)
	for _, check8 := range []bool{false, true} {
		wantHigh := wantOK && check8 && highByDefinition(p)
		for _, v := range append(scanVariants(), scanVariant{"generic", scanGeneric}) {
			if ok, high := v.scan(p, check8); ok != wantOK || high != wantHigh {
				t.Fatalf("%s(%q, %v) = %v, %v; want %v, %v", v.name, p, check8, ok, high, wantOK, wantHigh)
			}
		}
	}
}

type scanVariant struct {
	name string
	scan func(p []byte, check8 bool) (ok, high bool)
}

// bases are clean fillers of any length: plain text, and CRLF lines
// with the CRLF at every offset (cut so as not to end inside a pair).
func bases(n int) [][]byte {
	plain := bytes.Repeat([]byte("a"), n)
	out := [][]byte{plain}
	for _, line := range []string{"\r\n", "ab\r\n", "abcdefghijklm\r\n", "abcdefghijklmnopqrstuvwxyz01234\r\n"} {
		b := bytes.Repeat([]byte(line), n/len(line)+1)[:n]
		if n > 0 && b[n-1] == '\r' {
			b[n-1] = 'z'
		}
		out = append(out, b)
	}
	return out
}

// TestScanEdges puts a CR, an LF, a CRLF and the bare pairs LFCR, CRCR
// and LFLF, and a byte >= 0x80, at every position of clean buffers of
// every length up to 130 (across 16-, 32- and 64-byte blocks), and
// compares scan with the definition.
func TestScanEdges(t *testing.T) {
	for n := 0; n <= 130; n++ {
		for _, base := range bases(n) {
			checkScan(t, base)
			for _, ins := range []string{"\r", "\n", "\r\n", "\n\r", "\r\r", "\n\n", "\x80", "\xff", "\r\n\x80"} {
				for pos := 0; pos+len(ins) <= n; pos++ {
					p := bytes.Clone(base)
					copy(p[pos:], ins)
					checkScan(t, p)
				}
			}
		}
	}
}

// TestScanIgnoresNeighbours: scan of a slice gives the same answer
// whatever CR or LF the underlying array has just before and after it.
func TestScanIgnoresNeighbours(t *testing.T) {
	for n := 0; n <= 130; n++ {
		for _, base := range bases(n) {
			for _, p := range [][]byte{base, append([]byte("\n"), base...), append(bytes.Clone(base), '\r')} {
				want := cleanByDefinition(p)
				for _, before := range []byte{'\r', '\n', 'a', 0x80} {
					for _, after := range []byte{'\r', '\n', 'a', 0x80} {
						arr := append(append([]byte{before}, p...), after)
						s := arr[1 : 1+len(p) : 1+len(p)]
						for _, check8 := range []bool{false, true} {
							for _, v := range scanVariants() {
								ok, high := v.scan(s, check8)
								if ok != want || high != (want && check8 && highByDefinition(p)) {
									t.Fatalf("%s(%q) between %q and %q = %v, %v; want %v", v.name, p, before, after, ok, high, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestScanLarge: a 1 MiB clean buffer, then one bare CR or LF, or one
// byte >= 0x80, at positions near its start, its end and block edges.
func TestScanLarge(t *testing.T) {
	base := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789ab\r\n"), 1<<20/76)
	checkScan(t, base)
	n := len(base)
	for _, pos := range []int{0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000, n/2 - 1, n / 2, n - 65, n - 64, n - 33, n - 32, n - 31, n - 17, n - 16, n - 15, n - 2, n - 1} {
		for _, c := range []byte{'\r', '\n', 0x80} {
			p := bytes.Clone(base)
			p[pos] = c
			checkScan(t, p)
		}
	}
}

// FuzzScan: scan and scanGeneric agree with the definition on any
// input, and on any sub-slice of it.
func FuzzScan(f *testing.F) {
	for _, s := range []string{"", "\r", "\n", "\r\n", "a\r\nb", "\n\r", "ab\r\n\r\n\x80", "0123456789abcdef\r\n0123456789abcd\r\n"} {
		f.Add([]byte(s), uint8(0), uint8(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, from, cut uint8) {
		checkScan(t, in)
		i := min(int(from), len(in))
		j := max(i, len(in)-int(cut))
		checkScan(t, in[i:j:j])
	})
}
