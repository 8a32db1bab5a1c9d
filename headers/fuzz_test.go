package headers

import (
	"testing"
)

// FuzzParseAddressList checks that every list ParseAddressList accepts can
// be written as a header that go-message reads back to the same addresses,
// that the written field is clean (CRLF only, no line over 998 octets), and
// that ParseAddressList reads its own output back unchanged.
func FuzzParseAddressList(f *testing.F) {
	for _, s := range []string{
		`alerts@x.com; security@x.com, "Doe, Jane" <jane@y.org>`,
		"Jürgen Müller <jm@bücher.de>; jürgen@x.com",
		`"Back\\slash \"q\"" <bs@x.com>`,
		"=?utf-8?q?a_b?= <ab@x.com>, a@x.com (comment)",
		"李小龍 <lee@example.cn>",
		"a@x.com\r\nRCPT TO:<evil@x.com>",
		"<a@x.com>;;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list, err := ParseAddressList(s)
		if err != nil {
			return
		}
		v := FormatAddressList(list)
		field, err := FormatField("To", v)
		if err != nil {
			t.Fatalf("accepted %q but cannot format %q: %v", s, v, err)
		}
		checkWire(t, field)
		if len(list) == 0 {
			return
		}
		h := readBack(t, field)
		got, err := h.AddressList("To")
		if err != nil {
			t.Fatalf("go-message cannot read %q (from %q): %v", field, s, err)
		}
		if len(got) != len(list) {
			t.Fatalf("%q: wrote %d addresses, read back %d from %q", s, len(list), len(got), field)
		}
		for i := range got {
			if got[i].Name != list[i].Name || got[i].Address != list[i].Addr {
				t.Fatalf("%q: address %d read back as %q <%s>, want %q <%s>\n%s", s, i, got[i].Name, got[i].Address, list[i].Name, list[i].Addr, field)
			}
		}
		again, err := ParseAddressList(v)
		if err != nil {
			t.Fatalf("cannot parse own output %q: %v", v, err)
		}
		for i := range again {
			if again[i] != list[i] {
				t.Fatalf("own output %q parsed to %q, want %q", v, again[i], list[i])
			}
		}
	})
}

// FuzzEncodeText checks that any text CheckText accepts, written as an
// unstructured field (EncodeText) or as a display name (EncodePhrase) and
// folded by FormatField, is clean on the wire and reads back through
// go-message as exactly the same text.
func FuzzEncodeText(f *testing.F) {
	for _, s := range []string{
		"Disk almost full", "Grüße aus München", "日本語のテキスト",
		"=?utf-8?q?x?=", " lead", "a  b", "a\tb", "emoji 👍🏽",
		"\"quoted\" (comment) <angle> , ; : \\", "a\r\nBcc: x@x.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckText(s) != nil {
			return
		}
		roundTripText(t, s)

		a := Address{Name: s, Addr: "a@x.com"}
		field, err := FormatField("From", a.String())
		if err != nil {
			t.Fatalf("display name %q: %v", s, err)
		}
		checkWire(t, field)
		h := readBack(t, field)
		got, err := h.AddressList("From")
		if err != nil || len(got) != 1 {
			t.Fatalf("display name %q: go-message read %v, %v from %q", s, got, err, field)
		}
		if got[0].Name != s || got[0].Address != a.Addr {
			t.Fatalf("display name %q read back as %q <%s>\n%s", s, got[0].Name, got[0].Address, field)
		}
	})
}
