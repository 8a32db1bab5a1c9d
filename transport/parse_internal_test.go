package transport

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"mailwarden/transport/internal/wire"
)

// oldParseEnhancedCode is the strings.Split version parseEnhanced replaced,
// kept to check that the index-based scan decides the same.
func oldParseEnhancedCode(s string) (EnhancedCode, bool) {
	var e EnhancedCode
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return EnhancedCode{}, false
	}
	for i, p := range parts {
		if p == "" || len(p) > 3 || (i == 0 && len(p) != 1) {
			return EnhancedCode{}, false
		}
		n := 0
		for j := 0; j < len(p); j++ {
			if p[j] < '0' || p[j] > '9' {
				return EnhancedCode{}, false
			}
			n = n*10 + int(p[j]-'0')
		}
		e[i] = n
	}
	if e[0] != 2 && e[0] != 4 && e[0] != 5 {
		return EnhancedCode{}, false
	}
	return e, true
}

var enhancedInputs = []string{
	"", ".", "..", "...", "2", "2.", "2.0", "2.0.", "2.0.0", "2.0.0.", ".2.0.0", "2..0", "2.0..0",
	"5.7.139", "5.7.1000", "4.4.1", "3.0.0", "1.0.0", "0.0.0", "6.0.0", "9.9.9", "55.1.1", "05.1.1",
	"5.000.000", "5.0000.0", "5.0.0000", "x.1.1", "5.x.1", "5.1.x", "5.1.1x", " 5.1.1", "5.1.1 ",
	"5.1.1\t", "5.-1.1", "5.+1.1", "2.999.999", "4.07.01", "5.1.1.1", "5,1,1", "250", "OK", "2.0.0\x00",
	"\xff.0.0", "2.0.\xc3\xa9",
}

func TestParseEnhancedMatchesSplit(t *testing.T) {
	for _, in := range enhancedInputs {
		got, ok := parseEnhanced(in)
		want, wok := oldParseEnhancedCode(in)
		if got != want || ok != wok {
			t.Errorf("%q: got %v %v, the split version %v %v", in, got, ok, want, wok)
		}
		e, err := ParseEnhancedCode(in)
		if (err == nil) != wok || e != want {
			t.Errorf("ParseEnhancedCode(%q) = %v, %v; want %v, ok %v", in, e, err, want, wok)
		}
		if err != nil && err.Error() != fmt.Sprintf("transport: malformed enhanced status code %q", in) {
			t.Errorf("ParseEnhancedCode(%q): error text %q", in, err)
		}
	}
}

func FuzzParseEnhanced(f *testing.F) {
	for _, in := range enhancedInputs {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := parseEnhanced(in)
		want, wok := oldParseEnhancedCode(in)
		if got != want || ok != wok {
			t.Errorf("%q: got %v %v, the split version %v %v", in, got, ok, want, wok)
		}
	})
}

// oldCheckAddress is checkAddress as it was with strings.Split over the
// domain's labels.
func oldCheckAddress(addr string, from, smtputf8 bool) error {
	bad := func(why string) error { return &AddressError{Address: addr, Reason: why} }
	if addr == "" {
		if from {
			return nil
		}
		return bad("empty recipient")
	}
	if len(addr) > 256 {
		return bad("longer than 256 octets (RFC 5321 section 4.5.3.1.3)")
	}
	if !utf8.ValidString(addr) {
		return bad("invalid UTF-8")
	}
	for _, r := range addr {
		switch {
		case r < 0x20 || r == 0x7f:
			return bad(fmt.Sprintf("control character %U", r))
		case r == ' ' || r == '\t':
			return bad("space")
		case r == '<' || r == '>':
			return bad("angle bracket")
		case r == '\\':
			return bad("backslash")
		case r >= 0x80 && (r&0xff == '\r' || r&0xff == '\n'):
			return bad(fmt.Sprintf("character %U whose low byte is CR or LF", r))
		case r >= 0x80 && !smtputf8 && lowByteSpecial(r):
			return bad(fmt.Sprintf("character %U whose low byte is %q (allowed only when the server announces SMTPUTF8)", r, rune(r&0xff)))
		case r >= 0x80 && r <= 0x9f:
			return bad(fmt.Sprintf("control character %U", r))
		}
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		if !from && strings.EqualFold(addr, "postmaster") {
			return nil
		}
		return bad("no @domain")
	}
	local, domain := addr[:at], addr[at+1:]
	if local == "" || domain == "" {
		return bad("empty local part or domain")
	}
	if strings.HasPrefix(local, "\"") {
		if len(local) < 2 || !strings.HasSuffix(local, "\"") || strings.Count(local, "\"") != 2 {
			return bad("malformed quoted local part")
		}
	} else if strings.ContainsAny(local, "\"@,;:()[]") {
		return bad("special character in local part")
	}
	if strings.ContainsRune(local, '=') && strings.HasPrefix(local, "\"") {
		return bad("ESMTP parameter syntax in quoted local part")
	}
	if strings.HasPrefix(domain, "[") {
		if !strings.HasSuffix(domain, "]") {
			return bad("malformed address literal")
		}
		if err := checkHeloName(domain); err != nil {
			return bad("malformed address literal")
		}
		return nil
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" {
			return bad("empty label in domain")
		}
		for _, r := range label {
			if r < 0x80 && !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return bad(fmt.Sprintf("character %q not allowed in domain", r))
			}
		}
	}
	return nil
}

var addressInputs = []string{
	"", "a@example.com", "a@b", "a@example.com.", "a@.example.com", "a@example..com", "a@.", "a@..", "a@",
	"@example.com", "a@ex ample.com", "a@ex_am-ple.com", "a@b\u00e9.example", "a@ex!ample.com", "a@example.c!m",
	"a@example.com.!", "a@xn--bcher-kva.example", "a@1.2.3.4", "a@a.-", "a@-.a", "a@m\u00fcnchen.de", "a@a.b.",
	"a@[192.0.2.1]", "a@[IPv6:::1]", "a@[bad", "postmaster", "Postmaster", "\"q\"@example.com", "\"a=b\"@x.org",
	"a@b@c.d", "a@b\u0120.c", "a@b\u010d.c", "a@b.c\x00", "a@b\x7f.c", "a@exa\tmple.com", "a@b:c.d", "a@b=c.d",
}

func TestCheckAddressMatchesSplit(t *testing.T) {
	for _, in := range addressInputs {
		for _, from := range []bool{false, true} {
			for _, smtputf8 := range []bool{false, true} {
				got, want := checkAddress(in, from, smtputf8), oldCheckAddress(in, from, smtputf8)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%q (from %v, smtputf8 %v): %v, the split version %v", in, from, smtputf8, got, want)
				}
			}
		}
	}
}

func FuzzCheckAddressMatchesSplit(f *testing.F) {
	for _, in := range addressInputs {
		f.Add(in, false)
	}
	f.Fuzz(func(t *testing.T, in string, smtputf8 bool) {
		got, want := checkAddress(in, false, smtputf8), oldCheckAddress(in, false, smtputf8)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%q (smtputf8 %v): %v, the split version %v", in, smtputf8, got, want)
		}
	})
}

// oldParseReply is parseReply as it was, on the error-returning parser.
func oldParseReply(code int, lines []string) Reply {
	r := Reply{Code: code}
	for i, l := range lines {
		sp := strings.IndexByte(l, ' ')
		tok, rest := l, ""
		if sp >= 0 {
			tok, rest = l[:sp], l[sp+1:]
		}
		if ec, err := ParseEnhancedCode(tok); err == nil && ec[0] == code/100 {
			if i == 0 {
				r.Enhanced = ec
			}
			lines[i] = rest
		}
	}
	r.Text = strings.Join(lines, "\n")
	return r
}

// replyCases are raw replies; the wire reads them, readReply parses them.
var replyCases = []string{
	"250 2.0.0 Ok: queued as ABC\r\n",
	"250 Ok\r\n",
	"250\r\n",
	"250 \r\n",
	"250 2.0.0\r\n",
	"250 2.0.0 \r\n",
	"250  2.0.0 two spaces\r\n",
	"250 2.0.0  two spaces after\r\n",
	"550 2.0.0 class mismatch\r\n",
	"550 5.7.1 first\r\n",
	"250-first line\r\n250-2.0.0 second with code\r\n250 last\r\n",
	"250-2.1.0 a\r\n250-2.1.0 b\r\n250 2.1.0 c\r\n",
	"250-a\r\n250-\r\n250 c\n",
	"451 4.3.0\ttab\r\n",
	"250 2.0.0.0 four parts\r\n",
	"250 2.0 two parts\r\n",
	"354 End data with <CR><LF>.<CR><LF>\r\n",
	"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 CHUNKING\r\n",
}

func TestReadReplyMatchesOldParse(t *testing.T) {
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	c := &Client{wc: wire.New(cc, 512, 4096)}
	go func() {
		for _, s := range replyCases {
			sc.Write([]byte(s))
		}
	}()
	var got []Reply
	for range replyCases {
		r, err := c.readReply(false)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	// Every Reply keeps its text though the line slice is reused.
	for i, s := range replyCases {
		w := wire.New(fakeConn{strings.NewReader(s)}, 512, 4096)
		code, lines, err := w.ReadReply(false)
		if err != nil {
			t.Fatal(err)
		}
		if want := oldParseReply(code, lines); got[i] != want {
			t.Errorf("%q: %#v, want %#v", s, got[i], want)
		}
	}
}

// fakeConn is a net.Conn that reads from r.
type fakeConn struct{ r io.Reader }

func (f fakeConn) Read(p []byte) (int, error)     { return f.r.Read(p) }
func (fakeConn) Write(p []byte) (int, error)      { return len(p), nil }
func (fakeConn) Close() error                     { return nil }
func (fakeConn) LocalAddr() net.Addr              { return nil }
func (fakeConn) RemoteAddr() net.Addr             { return nil }
func (fakeConn) SetDeadline(time.Time) error      { return nil }
func (fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (fakeConn) SetWriteDeadline(time.Time) error { return nil }

// oldParseQueueID is ParseQueueID as it was, lowering a copy of the text
// and splitting it into fields.
func oldParseQueueID(text string) string {
	t := strings.TrimSpace(strings.ReplaceAll(text, "\n", " "))
	lt := strings.ToLower(t)
	clean := func(s string) string {
		s = strings.Trim(s, "<>[]().,;:")
		for i := 0; i < len(s); i++ {
			if s[i] <= ' ' || s[i] > '~' {
				return ""
			}
		}
		return s
	}
	first := func(s string) string {
		f := strings.Fields(s)
		if len(f) == 0 {
			return ""
		}
		return f[0]
	}
	if i := strings.Index(lt, "queued as "); i >= 0 {
		return clean(first(t[i+len("queued as "):]))
	}
	if strings.Contains(lt, "queued mail for delivery") {
		if i := strings.IndexByte(t, '<'); i >= 0 {
			if j := strings.IndexByte(t[i:], '>'); j > 0 {
				return clean(t[i : i+j+1])
			}
		}
	}
	if i := strings.Index(lt, "id="); i >= 0 && (i == 0 || t[i-1] == ' ') {
		return clean(first(t[i+3:]))
	}
	if strings.Contains(lt, "message accepted for delivery") {
		if f := strings.Fields(t); len(f) > 0 && !strings.EqualFold(f[0], "message") {
			return clean(f[0])
		}
	}
	if f := strings.Fields(lt); len(f) >= 4 && f[0] == "ok" && f[2] == "qp" {
		return clean(strings.Fields(t)[3])
	}
	if strings.HasSuffix(lt, "- gsmtp") {
		if f := strings.Fields(t); len(f) >= 4 {
			return clean(f[len(f)-3])
		}
	}
	return ""
}

var queueIDInputs = []string{
	"Ok: queued as 4Xyz1234AB", "OK: QUEUED AS ABC", "queued as", "queued as ", "queued as  \t X", "Queued As <X>.",
	"queued as X\nsecond line", "queued\nas X", "queued as\u00a0X Y", "queued as X\u00a0Y", "\u0130 queued as X",
	"queued as \u00e9X", "Queued mail for delivery <id@x>", "OK id=1r5XyZ-000ABC-12", "xid=1", "Message accepted for delivery",
	"X1 Message accepted for delivery", "ok 1 qp 2", "OK 1 x - gsmtp", "queued as \x01evil\r", "", "  ",
	"queued as a queued as b", "QUEUED AS\tX", "qUeUeD aS (id)",
}

// TestParseQueueIDLengthChangingLower: text whose lower case is longer
// than itself (U+0130) made the old version slice out of range.
func TestParseQueueIDLengthChangingLower(t *testing.T) {
	for in, want := range map[string]string{
		"\u0130\u0130\u0130 Queued mail for delivery <X>": "X",
		"\u0130\u0130\u0130\u0130 id=ABC":                 "ABC",
		"\u0130 ok 1 qp 22":                               "",
		"\u0130\u0130\u0130\u0130\u0130\u0130 OK id=Q1":   "Q1",
	} {
		if got := ParseQueueID(in); got != want {
			t.Errorf("ParseQueueID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseQueueIDMatchesOld(t *testing.T) {
	for _, in := range queueIDInputs {
		if got, want := ParseQueueID(in), oldParseQueueID(in); got != want {
			t.Errorf("ParseQueueID(%q) = %q, the old version %q", in, got, want)
		}
	}
}

func FuzzParseQueueIDMatchesOld(f *testing.F) {
	for _, in := range queueIDInputs {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := ParseQueueID(in)
		want, panicked := func() (s string, panicked bool) {
			defer func() { panicked = recover() != nil }()
			return oldParseQueueID(in), false
		}()
		if panicked {
			return // the old version sliced the text at offsets of its lowered copy
		}
		if got != want {
			t.Errorf("ParseQueueID(%q) = %q, the old version %q", in, got, want)
		}
	})
}

// oldMailLine is mailLine as it was, concatenating strings.
func oldMailLine(c *Client, t *txn) string {
	mail := "MAIL FROM:<" + t.env.From + ">"
	if t.eight {
		mail += " BODY=8BITMIME"
	}
	if t.utf8 {
		mail += " SMTPUTF8"
	}
	if c.has("SIZE") && t.env.Size > 0 {
		mail += " SIZE=" + strconv.FormatInt(t.env.Size, 10)
	}
	if t.dsn != nil {
		if t.dsn.Return != "" {
			mail += " RET=" + string(t.dsn.Return)
		}
		if t.dsn.EnvID != "" {
			mail += " ENVID=" + xtext(t.dsn.EnvID)
		}
	}
	return mail
}

func TestMailLineMatchesOld(t *testing.T) {
	long := strings.Repeat("x", 240) + "@example.org"
	for _, size := range []bool{false, true} {
		c := &Client{ext: map[string]string{}}
		if size {
			c.ext["SIZE"] = "0"
		}
		for _, tx := range []txn{
			{env: Envelope{From: "a@example.org"}},
			{env: Envelope{From: "a@example.org"}},
			{env: Envelope{From: "b@example.org"}},
			{env: Envelope{From: ""}},
			{env: Envelope{From: "a@example.org", Size: 2048}, eight: true},
			{env: Envelope{From: "a@example.org", Size: 2049}, eight: true, utf8: true},
			{env: Envelope{From: long, Size: 1 << 40}, eight: true, utf8: true, dsn: &DSN{Return: ReturnHeaders, EnvID: "id+=x", Notify: []DSNNotify{NotifySuccess, NotifyFailure}}},
			{env: Envelope{From: "a@example.org"}, dsn: &DSN{Return: ReturnFull}},
			{env: Envelope{From: "a@example.org"}},
		} {
			want := oldMailLine(c, &tx)
			c.mailLine(&tx)
			if tx.mail != want {
				t.Errorf("mailLine = %q, want %q", tx.mail, want)
			}
		}
	}
}
