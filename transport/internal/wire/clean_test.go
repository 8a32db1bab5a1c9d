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

// dotByDefinition is where DATA cuts p: before the first dot that starts
// a line after the first, or at len(p).
func dotByDefinition(p []byte) int {
	for i := 1; i < len(p); i++ {
		if p[i-1] == '\n' && p[i] == '.' {
			return i
		}
	}
	return len(p)
}

// checkScan compares every variant of scan and scanData (scanVariants,
// in the architecture's test file), and the generic ones, on p with the
// definitions.
func checkScan(t *testing.T, p []byte) {
	t.Helper()
	wantOK := cleanByDefinition(p)
	wantN := dotByDefinition(p)
	wantDataOK := cleanByDefinition(p[:wantN])
	for _, check8 := range []bool{false, true} {
		wantHigh := wantOK && check8 && highByDefinition(p)
		wantDataHigh := wantDataOK && check8 && highByDefinition(p[:wantN])
		for _, v := range append(scanVariants(), scanVariant{"generic", scanGeneric, scanDataGeneric}) {
			if ok, high := v.scan(p, check8); ok != wantOK || high != wantHigh {
				t.Fatalf("%s(%q, %v) = %v, %v; want %v, %v", v.name, p, check8, ok, high, wantOK, wantHigh)
			}
			n, ok, high := v.data(p, check8)
			if ok != wantDataOK || ok && (n != wantN || high != wantDataHigh) {
				t.Fatalf("%s data(%q, %v) = %d, %v, %v; want %d, %v, %v", v.name, p, check8, n, ok, high, wantN, wantDataOK, wantDataHigh)
			}
		}
	}
}

type scanVariant struct {
	name string
	scan func(p []byte, check8 bool) (ok, high bool)
	data func(p []byte, check8 bool) (n int, ok, high bool)
}

// bases are clean fillers of any length: plain text, and CRLF lines
// with the CRLF at every offset (cut so as not to end inside a pair).
func bases(n int) [][]byte {
	plain := bytes.Repeat([]byte("a"), n)
	out := [][]byte{plain}
	for _, line := range []string{"\r\n", "ab\r\n", ".b\r\n", "abcdefghijklm\r\n", "abcdefghijklmnopqrstuvwxyz01234\r\n"} {
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
			for _, ins := range []string{"\r", "\n", "\r\n", "\n\r", "\r\r", "\n\n", "\x80", "\xff", "\r\n\x80", "\r\n.", "\n.", "."} {
				for pos := 0; pos+len(ins) <= n; pos++ {
					p := bytes.Clone(base)
					copy(p[pos:], ins)
					checkScan(t, p)
				}
			}
		}
	}
}

// TestScanDataHighBeforeDot: for DATA, a byte >= 0x80 anywhere before
// the first dot line counts and one after it does not, whichever blocks
// they fall in.
func TestScanDataHighBeforeDot(t *testing.T) {
	for n := 0; n <= 100; n++ {
		for hi := 0; hi < n; hi++ {
			for dot := 0; dot+3 <= n; dot++ {
				p := bytes.Repeat([]byte("a"), n)
				p[hi] = 0x80
				copy(p[dot:], "\r\n.")
				checkScan(t, p)
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
								wantN := dotByDefinition(p)
								wantData := cleanByDefinition(p[:wantN])
								if n, ok, high := v.data(s, check8); ok != wantData || ok && (n != wantN || high != (check8 && highByDefinition(p[:n]))) {
									t.Fatalf("%s data(%q) between %q and %q = %d, %v, %v; want %d, %v", v.name, p, before, after, n, ok, high, wantN, wantData)
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
// byte >= 0x80, or a dot, at positions near its start, its end and block edges.
func TestScanLarge(t *testing.T) {
	base := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789ab\r\n"), 1<<20/76)
	checkScan(t, base)
	n := len(base)
	for _, pos := range []int{0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000, n/2 - 1, n / 2, n - 65, n - 64, n - 33, n - 32, n - 31, n - 17, n - 16, n - 15, n - 2, n - 1} {
		for _, c := range []byte{'\r', '\n', 0x80, '.'} {
			p := bytes.Clone(base)
			p[pos] = c
			checkScan(t, p)
		}
	}
}

// FuzzScan: scan, scanData and the generic ones agree with the definition on any
// input, and on any sub-slice of it.
func FuzzScan(f *testing.F) {
	for _, s := range []string{"", "\r", "\n", "\r\n", "a\r\nb", "\n\r", "ab\r\n\r\n\x80", "\r\n.\r\n", "0123456789abcdef\r\n.\x80", "0123456789abcdef\r\n0123456789abcd\r\n"} {
		f.Add([]byte(s), uint8(0), uint8(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, from, cut uint8) {
		checkScan(t, in)
		i := min(int(from), len(in))
		j := max(i, len(in)-int(cut))
		checkScan(t, in[i:j:j])
	})
}
