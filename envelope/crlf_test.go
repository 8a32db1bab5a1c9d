package envelope

import "testing"

// TestCRLF covers crlf's shortcut for text already in CRLF form and the
// conversions it must still make.
func TestCRLF(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"no break", "no break"},
		{"a\r\nb\r\n", "a\r\nb\r\n"},
		{"a\nb", "a\r\nb"},
		{"a\rb", "a\r\nb"},
		{"a\r\r\nb", "a\r\n\r\nb"},
		{"a\r\n\nb", "a\r\n\r\nb"},
		{"a\n\rb", "a\r\n\r\nb"},
		{"\r\n\r", "\r\n\r\n"},
		{"\n\r\n", "\r\n\r\n"},
	} {
		if got := crlf(c.in); got != c.want {
			t.Errorf("crlf(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
