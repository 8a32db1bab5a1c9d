package audit

import (
	"encoding/json"
	"testing"
)

// TestStringListEncoding: a []string value (the recipients of every send)
// is written as encoding/json followed by the re-encoding would write it,
// byte for byte: quotes, control characters, non-ASCII, invalid UTF-8,
// characters outside the BMP, nil and empty lists.
func TestStringListEncoding(t *testing.T) {
	var e encoder
	for _, x := range [][]string{
		nil,
		{},
		{"a@example.org"},
		{"\"quoted\"@example.org", "back\\slash", "tab\tnew\nline\r", "\x01\x7f", "ünïcode", "bad\xffutf8", "😀", "<>&\u2028"},
	} {
		got := string(e.appendAny(nil, x))
		raw, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		want, err := e.reencode(nil, raw)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%q: got %s, want %s", x, got, want)
		}
	}
}
