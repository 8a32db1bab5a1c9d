package cms

import (
	"bytes"
	"testing"
)

// FuzzParse checks the BER reader: no panic, and a value it accepts
// re-encodes with definite lengths to something that parses to the same
// string contents.
func FuzzParse(f *testing.F) {
	f.Add([]byte{0x30, 0x80, 0x24, 0x80, 0x04, 0x02, 'a', 'b', 0x04, 0x01, 'c', 0, 0, 0, 0})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x05})
	f.Add([]byte{0x1f, 0x81, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, _, err := Parse(b)
		if err != nil {
			return
		}
		der := n.DER()
		m, rest, err := Parse(der)
		if err != nil || len(rest) != 0 {
			t.Fatalf("re-encoding %x does not parse: %v", der, err)
		}
		if !bytes.Equal(m.Bytes(), n.Bytes()) {
			t.Fatalf("contents differ after re-encoding")
		}
	})
}
