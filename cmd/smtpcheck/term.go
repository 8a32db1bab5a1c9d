package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// term makes a string that came from the network (a server's reply or
// EHLO lines, certificate names, a proxy's or an identity provider's text)
// safe to print on a terminal: control characters (C0, DEL, C1),
// bidirectional-text controls and invalid UTF-8 are shown escaped (\r, \n,
// \t, \x1b, \u202e), so a server cannot erase a line, move the cursor or
// recolour a warning. Every human printer passes such strings through it;
// JSON output does not: it stays exact (encoding/json escapes control
// characters itself).
func term(s string) string {
	safe := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
