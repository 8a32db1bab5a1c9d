package audit

import (
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
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
		sameAsJSON(t, &e, x)
	}
}

// rcptLike has the shape of the transport's per-recipient attribute: JSON
// tags and a LogValue with the same keys.
type rcptLike struct {
	Addr     string `json:"addr"`
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced"`
	Text     string `json:"text"`
}

func (r rcptLike) LogValue() slog.Value {
	return slog.GroupValue(slog.String("addr", r.Addr), slog.Int("code", r.Code),
		slog.String("enhanced", r.Enhanced), slog.String("text", r.Text))
}

type withSecret struct{ User, Pass string }

func (w withSecret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", w.User), slog.String("password", w.Pass))
}

// TestLogValuerListEncoding: a slice of slog.LogValuer is written as the
// values its elements resolve to: for a type whose LogValue has the keys
// of its JSON form, the same bytes as through encoding/json and the
// re-encoding; secret keys inside are redacted.
func TestLogValuerListEncoding(t *testing.T) {
	var e encoder
	for _, x := range [][]rcptLike{
		nil,
		{},
		{{Addr: "a@example.org"}},
		{{Addr: "a@example.org", Code: 250, Enhanced: "2.1.5", Text: "Ok"}, {Addr: "ü\"@example.org", Code: 550, Text: "no\r\nsuch \xff user"}},
	} {
		sameAsJSON(t, &e, x)
	}
	got := string(e.appendAny(nil, []withSecret{{"u", "hunter2"}}))
	if want := `[{"user":"u","password":"` + Redacted + `"}]`; got != want {
		t.Errorf("secret in a LogValuer list: got %s, want %s", got, want)
	}
	// Elements of interface type resolve the same way.
	got = string(e.appendAny(nil, []slog.LogValuer{withSecret{"u", "hunter2"}, rcptLike{Addr: "a@example.org", Code: 250}}))
	if want := `[{"user":"u","password":"` + Redacted + `"},{"addr":"a@example.org","code":250,"enhanced":"","text":""}]`; got != want {
		t.Errorf("list of slog.LogValuer: got %s, want %s", got, want)
	}
	// Each element resolves on its own (not all to the first or last).
	got = string(e.appendAny(nil, []rcptLike{{Addr: "a@x"}, {Addr: "b@x"}}))
	if want := `[{"addr":"a@x","code":0,"enhanced":"","text":""},{"addr":"b@x","code":0,"enhanced":"","text":""}]`; got != want {
		t.Errorf("two elements: got %s, want %s", got, want)
	}
}

// sameAsJSON checks that the direct encoding of x is the same bytes as
// encoding/json's, re-encoded as every other value is.
func sameAsJSON(t *testing.T, e *encoder, x any) {
	t.Helper()
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
		t.Errorf("%+v: got %s, want %s", x, got, want)
	}
}

// TestPlainKeys: every key the encoder writes without the secret and
// reserved checks would pass them (it is no secret, not reserved, and
// needs no escaping), and the lookup finds exactly those keys.
func TestPlainKeys(t *testing.T) {
	for _, k := range plainKeyList {
		if IsSecretKey(k) || isReservedKey(k) || string(appendString(nil, k)) != `"`+k+`"` {
			t.Errorf("%q cannot be written plain", k)
		}
		if !plainKey(k) {
			t.Errorf("plainKey(%q) = false", k)
		}
	}
	for _, k := range []string{"", "password", "token", "seq", "msg", "Profile", "profile ", "serve", "servers", "auth_payload", "x", "ÿ", "pin"} {
		if plainKey(k) {
			t.Errorf("plainKey(%q) = true", k)
		}
	}
}

// TestPlainKeysStillAskOptionsSecret: a key the encoder knows as plain is
// still redacted when Options.Secret names it.
func TestPlainKeysStillAskOptionsSecret(t *testing.T) {
	h := NewHandler(nil, &Options{Secret: func(k string) bool { return k == "user" }})
	r := slog.NewRecord(time.Time{}, slog.LevelInfo, "smtp.auth", 0)
	r.AddAttrs(slog.Group("auth", slog.String("mech", "PLAIN"), slog.String("user", "alice")), slog.String("password", "p"))
	got := string(h.entry(r, nil).JSON())
	if strings.Contains(got, "alice") || strings.Contains(got, `"p"`) || !strings.Contains(got, `"auth":{"mech":"PLAIN","user":"[REDACTED]"}`) {
		t.Errorf("entry %s", got)
	}
}

// appendStringByByte is appendString as it was before it copied runs of
// plain bytes at once: one byte or rune at a time.
func appendStringByByte(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c >= 0x20 && c < 0x7f:
				dst = append(dst, c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = appendU(dst, rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			dst = appendU(dst, utf8.RuneError)
			continue
		}
		if r > 0xFFFF {
			r1, r2 := utf16.EncodeRune(r)
			dst = appendU(dst, r1)
			dst = appendU(dst, r2)
			continue
		}
		dst = appendU(dst, r)
	}
	return append(dst, '"')
}

// TestAppendStringRuns: appendString writes what the byte-by-byte
// encoder wrote, for every byte alone and in runs, and for random strings
// of plain and special bytes and runes.
func TestAppendStringRuns(t *testing.T) {
	check := func(s string) {
		if got, want := string(appendString([]byte("x"), s)), string(appendStringByByte([]byte("x"), s)); got != want {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
	for c := range 256 {
		b := string([]byte{byte(c)})
		check(b)
		check("ab" + b + "cd" + b)
	}
	pieces := []string{"a", "Z ~", `"`, `\\`, "\n", "\r", "\t", "\x00", "\x7f", "\x80", "\xff", "é", "€", "😀", "\ufffd", "<b@example.com>"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var sb strings.Builder
		for range rng.IntN(12) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		check(sb.String())
	}
}
