package headers

import (
	"strings"
	"testing"
)

// TestAddressErrorsShowQuotesAsTyped: a display name in quotes appears in
// the error as typed, not with JSON-style \" escapes; control characters
// stay escaped (no log-line forging).
func TestAddressErrorsShowQuotesAsTyped(t *testing.T) {
	_, err := ParseAddressList(`"Doe, Jane" <jane@example>x`)
	if err == nil || strings.Contains(err.Error(), `\"`) || !strings.Contains(err.Error(), `'"Doe, Jane" <jane@example>x'`) {
		t.Errorf("error %v: want the entry in single quotes without backslashes", err)
	}
	for in, want := range map[string]string{
		"plain":           `"plain"`,
		`say "hi"`:        `'say "hi"'`,
		"a\"b\r\nX: y":    `'a"b\r\nX: y'`,
		`it's "quoted"`:   `"it's \"quoted\""`,
		"\x1b[31m\"red\"": `'\x1b[31m"red"'`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}
