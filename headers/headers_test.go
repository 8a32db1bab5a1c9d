package headers

import (
	"bufio"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// checkWire fails t unless every line of s ends in CRLF, no CR or LF
// appears elsewhere and no line exceeds 998 octets.
func checkWire(t testing.TB, s string) {
	t.Helper()
	if err := wireError(s); err != "" {
		t.Fatalf("%s in %q", err, s)
	}
}

func wireError(s string) string {
	for len(s) > 0 {
		i := strings.Index(s, "\r\n")
		if i < 0 {
			return "missing final CRLF"
		}
		line := s[:i]
		if strings.ContainsAny(line, "\r\n") {
			return "bare CR or LF"
		}
		if len(line) > MaxLineLength {
			return "line over 998 octets"
		}
		s = s[i+2:]
	}
	return ""
}

// readBack parses a header block with go-message, as a receiver would.
func readBack(t testing.TB, fields string) mail.Header {
	t.Helper()
	h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(fields + "\r\n")))
	if err != nil {
		t.Fatalf("go-message cannot read back %q: %v", fields, err)
	}
	return mail.Header{Header: message.Header{Header: h}}
}

func TestParseAddressList(t *testing.T) {
	tests := []struct {
		in   string
		want []Address
	}{
		{`alerts@x.com; security@x.com, "Doe, Jane" <jane@y.org>`, []Address{
			{Addr: "alerts@x.com"}, {Addr: "security@x.com"}, {Name: "Doe, Jane", Addr: "jane@y.org"}}},
		{"a@x.com;;b@x.com;", []Address{{Addr: "a@x.com"}, {Addr: "b@x.com"}}},
		{"  ", nil},
		{"Jane Doe <jane@EXAMPLE.org>", []Address{{Name: "Jane Doe", Addr: "jane@example.org"}}},
		{"<ops@example.com>", []Address{{Addr: "ops@example.com"}}},
		{"ops@bücher.example", []Address{{Addr: "ops@xn--bcher-kva.example"}}},
		{"Jürgen <jürgen@münchen.de>", []Address{{Name: "Jürgen", Addr: "jürgen@xn--mnchen-3ya.de"}}},
		{`"a;b" <ab@x.com>; c@x.com`, []Address{{Name: "a;b", Addr: "ab@x.com"}, {Addr: "c@x.com"}}},
		{"=?utf-8?q?J=C3=BCrgen?= <j@x.com>", []Address{{Name: "Jürgen", Addr: "j@x.com"}}},
		{"a@x.com (Alerts, team)", []Address{{Name: "Alerts, team", Addr: "a@x.com"}}},
	}
	for _, tt := range tests {
		got, err := ParseAddressList(tt.in)
		if err != nil {
			t.Errorf("ParseAddressList(%q): %v", tt.in, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("ParseAddressList(%q) = %q, want %q", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ParseAddressList(%q)[%d] = %q, want %q", tt.in, i, got[i], tt.want[i])
			}
		}
	}
}

func TestParseAddressListErrorNamesEntry(t *testing.T) {
	tests := []struct {
		in, entry string
		is        error
	}{
		{"ok@x.com; Doe, Jane <jane@y.org>", "Doe", ErrAddress},
		{"ok@x.com, not-an-address, b@x.com", "not-an-address", ErrAddress},
		{"ok@x.com; a@b@c", "a@b@c", ErrAddress},
		{"a@x.com; root@[127.0.0.1]", "root@[127.0.0.1]", ErrAddress},
		{"a@x.com, a..b@x.com", "a..b@x.com", ErrAddress},
		{`"quoted local"@x.com`, `"quoted local"@x.com`, ErrAddress},
		{"a@exa_mple.com", "a@exa_mple.com", ErrAddress},
		{"a@" + strings.Repeat("x", 64) + ".com", "a@" + strings.Repeat("x", 64) + ".com", ErrAddress},
		{"team: a@x.com, b@x.com;", "team: a@x.com", ErrAddress},
		{"a@x.com\r\nRCPT TO:<evil@x.com>", "a@x.com\r\nRCPT TO:<evil@x.com>", ErrInjection},
		{"=?utf-8?q?a=0D=0ABcc=3A_evil?= <a@x.com>", "=?utf-8?q?a=0D=0ABcc=3A_evil?= <a@x.com>", ErrInjection},
		{"a@x.com\x00", "a@x.com\x00", ErrControl},
		{"a@x.com, \xff@x.com", "\xff@x.com", ErrInvalidUTF8},
	}
	for _, tt := range tests {
		_, err := ParseAddressList(tt.in)
		var ae *AddressError
		if !errors.As(err, &ae) {
			t.Errorf("ParseAddressList(%q) error = %v, want *AddressError", tt.in, err)
			continue
		}
		if ae.Entry != tt.entry {
			t.Errorf("ParseAddressList(%q) names entry %q, want %q", tt.in, ae.Entry, tt.entry)
		}
		if !errors.Is(err, tt.is) {
			t.Errorf("ParseAddressList(%q) error %v does not wrap %v", tt.in, err, tt.is)
		}
		if strings.ContainsAny(err.Error(), "\r\n") || !strings.HasPrefix(err.Error(), "headers: bad address ") {
			t.Errorf("error text %q: want one line starting with the package prefix", err)
		}
	}
}

func TestAddressSMTPUTF8(t *testing.T) {
	for in, want := range map[string]bool{
		"a@x.com":          false,
		"a@bücher.de":      false, // the domain becomes an A-label
		"jürgen@x.com":     true,
		"Jürgen <j@x.com>": false, // the display name is encoded
	} {
		a, err := ParseAddress(in)
		if err != nil {
			t.Fatal(err)
		}
		if a.SMTPUTF8() != want {
			t.Errorf("%q: SMTPUTF8() = %v, want %v", in, a.SMTPUTF8(), want)
		}
	}
}

func TestAddressRoundTrip(t *testing.T) {
	in := `"Doe, Jane" <jane@y.org>; Jürgen Müller <jm@bücher.de>, plain@x.com; "Back\\slash \"q\"" <bs@x.com>; =?utf-8?q?a_b?= <ab@x.com>; 李小龍 <lee@example.cn>; jürgen@x.com; "=?not encoded?=" <ne@x.com>; ` + strings.Repeat("Long Name ", 20) + "<long@x.com>"
	list, err := ParseAddressList(in)
	if err != nil {
		t.Fatal(err)
	}
	f, err := FormatField("To", FormatAddressList(list))
	if err != nil {
		t.Fatal(err)
	}
	checkWire(t, f)
	h := readBack(t, f)
	got, err := h.AddressList("To")
	if err != nil {
		t.Fatalf("go-message AddressList: %v\n%s", err, f)
	}
	if len(got) != len(list) {
		t.Fatalf("read back %d addresses, want %d:\n%s", len(got), len(list), f)
	}
	for i := range got {
		if got[i].Name != list[i].Name || got[i].Address != list[i].Addr {
			t.Errorf("address %d read back as %q <%s>, want %q <%s>", i, got[i].Name, got[i].Address, list[i].Name, list[i].Addr)
		}
	}
}

func TestEncodeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Disk almost full", "Disk almost full"},
		{"", ""},
		{"Grüße", "=?utf-8?q?Gr=C3=BC=C3=9Fe?="},
		{"=?utf-8?q?x?=", "=?utf-8?q?=3D=3Futf-8=3Fq=3Fx=3F=3D?="},
		{" lead", "=?utf-8?q?_lead?="},
		{"two  spaces", "=?utf-8?q?two__spaces?="},
		{"tab\there", "=?utf-8?q?tab=09here?="},
		{"日本語のテキスト", "=?utf-8?b?5pel5pys6Kqe44Gu44OG44Kt44K544OI?="},
	}
	for _, tt := range tests {
		if got := EncodeText(tt.in); got != tt.want {
			t.Errorf("EncodeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEncodeTextRoundTrip(t *testing.T) {
	for _, s := range []string{
		"Disk almost full",
		"Grüße aus München – Speicherplatz knapp",
		strings.Repeat("Ünïcödé ", 40),
		strings.Repeat("x", 300),
		strings.Repeat("日本語", 100),
		"emoji 👍🏽 and ZWJ 👨‍👩‍👧 mixed",
		"=?utf-8?q?looks_encoded?= but is not",
		"under_score and ?question? and \"quotes\" and (parens)",
		" leading and trailing ",
		"a\tb",
	} {
		roundTripText(t, s)
	}
}

func roundTripText(t testing.TB, s string) {
	t.Helper()
	f, err := FormatField("Subject", EncodeText(s))
	if err != nil {
		t.Fatalf("FormatField(%q): %v", s, err)
	}
	checkWire(t, f)
	for _, line := range strings.Split(strings.TrimSuffix(f, "\r\n"), "\r\n") {
		for _, w := range strings.Fields(line) {
			if strings.HasPrefix(w, "=?") && len(w) > maxEncodedWord {
				t.Fatalf("encoded word over 75 characters: %q", w)
			}
		}
		if strings.Contains(line, "=?") && len(line) > 76 {
			t.Fatalf("line with encoded words over 76 characters (RFC 2047 section 2): %q", line)
		}
	}
	h := readBack(t, f)
	got, err := h.Subject()
	if err != nil {
		t.Fatalf("go-message Subject(): %v\n%s", err, f)
	}
	if got != s {
		t.Fatalf("round trip of %q gave %q\n%s", s, got, f)
	}
}

func TestFormatFieldFolds(t *testing.T) {
	v := EncodeText(strings.Repeat("word ", 60) + "end")
	f, err := FormatField("Subject", v)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(f, "\r\n"), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line of %d octets: %q", len(line), line)
		}
	}
	if n := strings.Count(f, "\r\n"); n < 3 {
		t.Errorf("expected folding, got %d lines: %q", n, f)
	}
}

// Table of injection attempts through field names and values; each must be
// refused with a typed error, never written.
func TestFormatFieldInjection(t *testing.T) {
	tests := []struct {
		name, attack, field, value string
		is                         error
	}{
		{"TestHeaderInjectionCRLFInValue", "new field", "X-Tag", "a\r\nBcc: victim@x.com", ErrInjection},
		{"TestHeaderInjectionBareLF", "bare LF", "X-Tag", "a\nBcc: victim@x.com", ErrInjection},
		{"TestHeaderInjectionBareCR", "bare CR", "X-Tag", "a\rBcc: victim@x.com", ErrInjection},
		{"TestSMTPSmugglingDotLine", "end DATA early", "X-Tag", "a\r\n.\r\nMAIL FROM:<x@x.com>", ErrInjection},
		{"TestHeaderInjectionUnicodeLineSeparator", "U+2028", "X-Tag", "a\u2028Bcc: v@x.com", ErrInjection},
		{"TestHeaderInjectionNUL", "NUL", "X-Tag", "a\x00b", ErrControl},
		{"TestHeaderInjectionNEL", "U+0085", "X-Tag", "a\u0085b", ErrControl},
		{"TestHeaderInjectionInName", "CRLF in name", "X-Tag\r\nBcc", "v@x.com", ErrInjection},
		{"TestFieldNameColon", "colon in name", "X-Tag: evil", "v", ErrFieldName},
		{"TestFieldNameSpace", "space in name", "X Tag", "v", ErrFieldName},
		{"TestFieldNameEmpty", "empty name", "", "v", ErrFieldName},
		{"TestFieldNameNonASCII", "UTF-8 name", "X-Tägg", "v", ErrFieldName},
		{"TestUnfoldableValue", "999-octet word", "X-Tag", strings.Repeat("a", 999), ErrLineTooLong},
		{"TestInvalidUTF8", "invalid UTF-8", "X-Tag", "\xc3\x28", ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := FormatField(tt.field, tt.value)
			if err == nil {
				t.Fatalf("%s: FormatField accepted it: %q", tt.attack, f)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, tt.is) {
				t.Fatalf("%s: error %v (%T), want *FieldError wrapping %v", tt.attack, err, err, tt.is)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error text carries the attack: %q", err)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 78, "short"},
		{"abcdef", 3, "abc"},
		{"Grüße", 3, "Grü"},
		{"日本語テキスト", 2, "日本"},
		{"ab cd", 3, "ab"},
		{"👍🏽x", 1, "👍"},
		{"anything", 0, "anything"},
	}
	for _, tt := range tests {
		if got := Truncate(tt.in, tt.limit); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

func TestPriorityFields(t *testing.T) {
	str := func(fs []Field) string {
		var b strings.Builder
		for _, f := range fs {
			b.WriteString(f.Name + ": " + f.Value + "; ")
		}
		return b.String()
	}
	tests := []struct {
		p    Priority
		i    Importance
		s    Sensitivity
		want string
	}{
		{0, 0, 0, ""},
		{PriorityUrgent, 0, 0, "Priority: urgent; X-Priority: 1; "},
		{PriorityNormal, 0, 0, "Priority: normal; X-Priority: 3; "},
		{PriorityNonUrgent, 0, 0, "Priority: non-urgent; X-Priority: 5; "},
		{0, ImportanceHigh, 0, "X-Priority: 1; Importance: high; "},
		{0, ImportanceLow, 0, "X-Priority: 5; Importance: low; "},
		{PriorityNonUrgent, ImportanceHigh, 0, "Priority: non-urgent; X-Priority: 5; Importance: high; "},
		{0, 0, SensitivityPersonal, "Sensitivity: Personal; "},
		{0, 0, SensitivityPrivate, "Sensitivity: Private; "},
		{0, 0, SensitivityCompanyConfidential, "Sensitivity: Company-Confidential; "},
	}
	for _, tt := range tests {
		fs, err := PriorityFields(tt.p, tt.i, tt.s)
		if err != nil {
			t.Fatal(err)
		}
		if got := str(fs); got != tt.want {
			t.Errorf("PriorityFields(%v, %v, %v) = %q, want %q", tt.p, tt.i, tt.s, got, tt.want)
		}
	}
	if _, err := PriorityFields(Priority(9), 0, 0); !errors.Is(err, ErrUnknownValue) {
		t.Errorf("Priority(9): err = %v", err)
	}
}

func TestParseEnums(t *testing.T) {
	for _, s := range []string{"", "unspecified", "normal", "URGENT", "non-urgent"} {
		if _, err := ParsePriority(s); err != nil {
			t.Errorf("ParsePriority(%q): %v", s, err)
		}
	}
	for p := PriorityUnspecified; p <= PriorityNonUrgent; p++ {
		if q, _ := ParsePriority(p.String()); q != p {
			t.Errorf("ParsePriority(%q) = %v", p.String(), q)
		}
	}
	for i := ImportanceUnspecified; i <= ImportanceLow; i++ {
		var j Importance
		if err := j.UnmarshalText([]byte(i.String())); err != nil || j != i {
			t.Errorf("Importance %v: %v %v", i, j, err)
		}
	}
	for s := SensitivityUnspecified; s <= SensitivityCompanyConfidential; s++ {
		if u, _ := ParseSensitivity(s.String()); u != s {
			t.Errorf("ParseSensitivity(%q) = %v", s.String(), u)
		}
	}
	if _, err := ParseSensitivity("secret"); !errors.Is(err, ErrUnknownValue) || !strings.Contains(err.Error(), "company-confidential") {
		t.Errorf("ParseSensitivity(secret) = %v", err)
	}
	if _, err := ParseImportance("urgent"); err == nil {
		t.Error("ParseImportance(urgent) accepted")
	}
}
