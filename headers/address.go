package headers

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// An Address is one mailbox: an optional display name and an addr-spec.
//
// Addresses returned by ParseAddress, ParseAddressList and Canonical are
// canonical: Addr is local-part@domain with the domain in lower-case ASCII
// (A-labels for internationalized domains), ready for both the header and
// the SMTP envelope. The local part is kept exactly as given; if it contains
// non-ASCII characters the address needs SMTPUTF8 (see SMTPUTF8).
type Address struct {
	Name string // display name, plain UTF-8 text (not encoded)
	Addr string // local-part@domain
}

// idnaProfile converts domains to A-labels the way a resolver would
// (UTS #46 mapping, non-transitional), enforcing STD3 host name rules, the
// Bidi rule and DNS length limits.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
	idna.StrictDomainName(true),
	idna.VerifyDNSLength(true),
)

const (
	maxLocalPart = 64  // RFC 5321 section 4.5.3.1.1
	maxDomain    = 253 // RFC 1035 section 2.3.4, without the trailing dot
)

// ParseAddress parses one address as an administrator types it:
// "jane@example.org", "Jane Doe <jane@example.org>",
// "\"Doe, Jane\" <jane@example.org>" or "<jane@example.org>". Errors are of
// type *AddressError.
func ParseAddress(s string) (Address, error) {
	entry := strings.TrimSpace(s)
	a, err := parseOne(entry)
	if err != nil {
		return Address{}, &AddressError{Entry: entry, Err: err}
	}
	return a, nil
}

// ParseAddressList parses a list of addresses as administrators type them:
// entries are separated by commas or semicolons (or both), separators inside
// a quoted display name, a comment or angle brackets do not count, and empty
// entries (a trailing semicolon) are ignored. An empty list is not an error.
//
// The first bad entry is reported as an *AddressError naming that entry.
func ParseAddressList(s string) ([]Address, error) {
	var list []Address
	for _, entry := range splitList(s) {
		a, err := parseOne(entry)
		if err != nil {
			return nil, &AddressError{Entry: entry, Err: err}
		}
		list = append(list, a)
	}
	return list, nil
}

// splitList splits s at top-level commas and semicolons and trims each
// entry, dropping empty ones.
func splitList(s string) []string {
	var out []string
	inQuote, escaped := false, false
	angle, comment := 0, 0
	start := 0
	emit := func(end int) {
		if e := strings.TrimSpace(s[start:end]); e != "" {
			out = append(out, e)
		}
		start = end + 1
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if escaped {
			escaped = false
			continue
		}
		switch {
		case c == '\\' && (inQuote || comment > 0):
			escaped = true
		case inQuote:
			if c == '"' {
				inQuote = false
			}
		case comment > 0:
			switch c {
			case '(':
				comment++
			case ')':
				comment--
			}
		case c == '"':
			inQuote = true
		case c == '(':
			comment++
		case c == '<':
			angle++
		case c == '>':
			if angle > 0 {
				angle--
			}
		case (c == ',' || c == ';') && angle == 0:
			emit(i)
		}
	}
	emit(len(s))
	return out
}

func parseOne(entry string) (Address, error) {
	if err := CheckText(entry); err != nil {
		return Address{}, err
	}
	if entry == "" {
		return Address{}, errorf(ErrAddress, "empty")
	}
	if strings.Contains(entry, "@[") {
		return Address{}, errorf(ErrAddress, "address literals are not supported")
	}
	pa, err := mail.ParseAddress(entry)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "mail: ")
		if !strings.Contains(entry, "@") {
			msg = "missing @"
		}
		return Address{}, errorf(ErrAddress, "%s", msg)
	}
	return Address{Name: pa.Name, Addr: pa.Address}.Canonical()
}

// Canonical checks a and returns it in canonical form (see Address). It is
// what ParseAddress applies after parsing, and what a caller that builds an
// Address by hand should use. Errors wrap ErrAddress, ErrInjection,
// ErrControl or ErrInvalidUTF8, and are of type *AddressError.
func (a Address) Canonical() (Address, error) {
	c, err := a.canonical()
	if err != nil {
		return Address{}, &AddressError{Entry: a.Addr, Err: err}
	}
	return c, nil
}

func (a Address) canonical() (Address, error) {
	if err := CheckText(a.Name); err != nil {
		return Address{}, err
	}
	if err := CheckText(a.Addr); err != nil {
		return Address{}, err
	}
	at := strings.LastIndexByte(a.Addr, '@')
	if at < 0 {
		return Address{}, errorf(ErrAddress, "missing @")
	}
	local, domain := a.Addr[:at], a.Addr[at+1:]
	if err := checkLocal(local); err != nil {
		return Address{}, err
	}
	ascii, err := asciiDomain(domain)
	if err != nil {
		return Address{}, err
	}
	if ascii == domain {
		return a, nil // already canonical: no new string
	}
	return Address{Name: a.Name, Addr: local + "@" + ascii}, nil
}

func checkLocal(local string) error {
	switch {
	case local == "":
		return errorf(ErrAddress, "empty local part")
	case len(local) > maxLocalPart:
		return errorf(ErrAddress, "local part longer than %d octets", maxLocalPart)
	case local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, ".."):
		return errorf(ErrAddress, "local part %s is not a dot-atom", quote(local))
	}
	for _, r := range local {
		if r >= utf8.RuneSelf {
			continue // RFC 6532 UTF8-non-ascii in atext
		}
		if r != '.' && !isAtext(byte(r)) {
			return errorf(ErrAddress, "local part %s: character %s needs quoting, which is not supported", quote(local), quote(string(r)))
		}
	}
	return nil
}

func asciiDomain(domain string) (string, error) {
	if domain == "" {
		return "", errorf(ErrAddress, "empty domain")
	}
	if strings.HasPrefix(domain, "[") {
		return "", errorf(ErrAddress, "address literals are not supported")
	}
	if plainHostName(domain) {
		return domain, nil
	}
	ascii, err := idnaProfile.ToASCII(domain)
	if err != nil {
		return "", errorf(ErrAddress, "domain %q: %v", domain, strings.TrimPrefix(err.Error(), "idna: "))
	}
	if ascii == "" || len(ascii) > maxDomain || strings.HasSuffix(ascii, ".") {
		return "", errorf(ErrAddress, "domain %q is not a host name", domain)
	}
	return ascii, nil
}

// plainHostName reports whether domain is a host name that idnaProfile
// would return unchanged and accept: lower-case ASCII letters, digits and
// hyphens in dot-separated labels of 1 to 63 octets, none starting or
// ending with a hyphen or with hyphens in its third and fourth places
// (which rules out A-labels, "xn--", that idna would have to check), at
// most maxDomain octets in all. Anything else goes through idna.
func plainHostName(domain string) bool {
	if len(domain) > maxDomain {
		return false
	}
	start := 0
	for i := 0; i <= len(domain); i++ {
		if i < len(domain) && domain[i] != '.' {
			c := domain[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
			continue
		}
		label := domain[start:i]
		if n := len(label); n == 0 || n > 63 || label[0] == '-' || label[n-1] == '-' || (n >= 4 && label[2] == '-' && label[3] == '-') {
			return false
		}
		start = i + 1
	}
	return true
}

// LocalPart returns the part of Addr before the last @.
func (a Address) LocalPart() string {
	if i := strings.LastIndexByte(a.Addr, '@'); i >= 0 {
		return a.Addr[:i]
	}
	return a.Addr
}

// Domain returns the part of Addr after the last @.
func (a Address) Domain() string {
	if i := strings.LastIndexByte(a.Addr, '@'); i >= 0 {
		return a.Addr[i+1:]
	}
	return ""
}

// SMTPUTF8 reports whether Addr contains non-ASCII characters, so that a
// message to or from it must be sent with the SMTPUTF8 extension
// (RFC 6531) and carries UTF-8 header text (RFC 6532).
func (a Address) SMTPUTF8() bool {
	for i := 0; i < len(a.Addr); i++ {
		if a.Addr[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// String returns a in header wire form: "local@domain" without a display
// name, "phrase <local@domain>" with one (the phrase encoded by
// EncodePhrase). a should be canonical.
func (a Address) String() string {
	if a.Name == "" {
		return a.Addr
	}
	return EncodePhrase(a.Name) + " <" + a.Addr + ">"
}

// FormatAddressList returns list in header wire form, entries separated by
// ", ".
func FormatAddressList(list []Address) string {
	var b strings.Builder
	for i, a := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	return b.String()
}
