package headers

import (
	"strconv"
	"strings"
)

// quote quotes s for an error message as %q does (control characters and
// invalid UTF-8 escaped, so a hostile value cannot forge a log line), but
// without backslashes before the double quotes admins type in display
// names: a value holding '"' and no "'" is put in single quotes instead,
// e.g. '"Doe, Jane" <jane@example.org>'.
func quote(s string) string {
	q := strconv.Quote(s)
	if !strings.Contains(s, `"`) || strings.Contains(s, "'") {
		return q
	}
	return "'" + strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`) + "'"
}
