package transport_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"mailwarden/transport"
)

// FuzzCheckAddress: whatever CheckAddress accepts cannot break out of
// "MAIL FROM:<...>" or add parameters: no CR, LF, NUL, space, angle
// bracket, and no rune whose low byte is CR, LF, NUL, space, '<', '>', ':'
// or '=' (a byte-truncating hop would see a line break or a parameter).
func FuzzCheckAddress(f *testing.F) {
	for _, s := range []string{"a@example.org", "\"x y\"@example.org", "a\r\n@b", "a\u010d@b.c", "b\u0120NOTIFY=SUCCESS@b.c", "postmaster", "a@[127.0.0.1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if transport.CheckAddress(s, true) != nil {
			return
		}
		if strings.ContainsAny(s, "\r\n\x00 <>\t") || !utf8.ValidString(s) {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range s {
			if r >= 0x80 && strings.ContainsRune("\r\n\x00 <>:=", r&0xff) {
				t.Fatalf("accepted %q with %U", s, r)
			}
		}
	})
}
