package main

import "testing"

func TestTermEscapesControlCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"250 ok":                         "250 ok",
		"jörg@exämple.org":               "jörg@exämple.org",
		`CORP\svc`:                       `CORP\svc`,
		"\x1b[2K\rok (TLS 1.3 verified)": `\x1b[2K\rok (TLS 1.3 verified)`,
		"a\nb\tc\x00d\x7f":               `a\nb\tc\x00d\x7f`,
		"c1 \u009b31m":                   `c1 \u009b31m`,
		"bidi \u202egnp.exe":             `bidi \u202egnp.exe`,
		"bad \xff\xfe utf8":              `bad \xff\xfe utf8`,
		"":                               "",
	} {
		if got := term(in); got != want {
			t.Errorf("term(%q) = %q, want %q", in, got, want)
		}
	}
}
