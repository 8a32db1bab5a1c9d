package wire

import (
	"bytes"
	"syscall"
	"testing"
)

// TestScanStaysInside puts buffers at the very start and the very end of
// a page between two pages that cannot be read: scan reading a byte
// before or after p would crash the test.
func TestScanStaysInside(t *testing.T) {
	ps := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 3*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[:ps], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	if err := syscall.Mprotect(mem[2*ps:], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	page := mem[ps : 2*ps : 2*ps]
	for n := 0; n <= 200; n++ {
		for _, base := range bases(n) {
			for _, p := range [][]byte{page[:n:n], page[ps-n:]} {
				copy(p, base)
				checkScan(t, p)
				if n > 0 {
					p[n-1] = '\r'
					checkScan(t, p)
					p[0] = '\n'
					checkScan(t, p)
				}
			}
		}
	}
	// A whole page, clean to its last byte.
	copy(page, bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789ab\r\n"), ps/76+1))
	page[ps-2], page[ps-1] = '\r', '\n'
	checkScan(t, page)
}
