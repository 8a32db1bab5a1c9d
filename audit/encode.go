package audit

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Redacted is the marker that replaces the value of every attribute whose key
// looks like a secret (see IsSecretKey), and every AUTH payload in a
// transcript.
const Redacted = "[REDACTED]"

// secretWords are matched against attribute keys after lower-casing them and
// dropping '_', '-', '.' and spaces, so "Proxy-Authorization", "auth_payload"
// and "privateKey" all match.
var secretWords = []string{
	"password", "passwd", "passphrase", "pwd", "secret", "token", "authorization",
	"authpayload", "credential", "privatekey", "privkey", "cookie", "apikey",
	"accesskey", "bearer", "sessionkey", "keytab", "pin",
}

// IsSecretKey reports whether an attribute key looks like it names a secret:
// after lower-casing and removing '_', '-', '.' and spaces it contains one of
// password, passwd, passphrase, pwd, secret, token, authorization,
// authpayload, credential, privatekey, privkey, cookie, apikey, accesskey,
// bearer, sessionkey or keytab, or is exactly pin. The Handler replaces the value of
// such an attribute by Redacted whatever its type, including inside groups and
// inside JSON produced from slog.Any values.
func IsSecretKey(key string) bool {
	var b [64]byte
	n := b[:0]
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '_' || c == '-' || c == '.' || c == ' ':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		n = append(n, c)
	}
	if string(n) == "pin" {
		return true
	}
	// Contains for each word, as one pass: at each byte, only the words
	// that start with it.
	for i, c := range n {
		for _, w := range secretByFirst[c] {
			if len(w) <= len(n)-i && string(n[i:i+len(w)]) == w {
				return true
			}
		}
	}
	return false
}

// secretByFirst lists secretWords (but pin, which must be the whole key)
// by their first byte.
var secretByFirst = func() (t [256][]string) {
	for _, w := range secretWords {
		if w != "pin" {
			t[w[0]] = append(t[w[0]], w)
		}
	}
	return t
}()

// encoder turns slog values into JSON. Its output is ASCII only: every
// character outside printable ASCII is escaped as \uXXXX, so a record is one
// line that survives any 7-bit path (syslog relays, the Windows Event Log).
type encoder struct {
	secret func(string) bool
}

func (e *encoder) isSecret(key string) bool {
	return IsSecretKey(key) || (e.secret != nil && e.secret(key))
}

// plainASCII marks the bytes appendString copies as they are: printable
// ASCII but '"' and '\\'.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		// The run of bytes that need no escaping, copied at once.
		j := i
		for j < len(s) && plainASCII[s[j]] {
			j++
		}
		if j > i {
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
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

const hexDigits = "0123456789abcdef"

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}

// timeFormat is the layout of every timestamp the package writes: UTC with
// microseconds.
const timeFormat = "2006-01-02T15:04:05.000000Z07:00"

// appendTimeUTC appends t, a time in UTC, as t.AppendFormat(dst,
// timeFormat) would (microseconds truncated, "Z" for the zone), digit by
// digit rather than through the layout parser; years outside 0-9999 go
// through AppendFormat.
func appendTimeUTC(dst []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	if _, off := t.Zone(); off != 0 || y < 0 || y > 9999 {
		return t.AppendFormat(dst, timeFormat)
	}
	h, mi, s := t.Clock()
	us := t.Nanosecond() / 1000
	return append(dst,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-',
		byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':',
		byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.',
		byte('0'+us/100000), byte('0'+us/10000%10), byte('0'+us/1000%10),
		byte('0'+us/100%10), byte('0'+us/10%10), byte('0'+us%10), 'Z')
}

// plainKeyList are the attribute keys of the records a sender and the
// transport write on every send. None IsSecretKey (Options.Secret is still
// asked), none is reserved (isReservedKey), none needs escaping: the
// encoder writes them as they are, without those checks
// (TestPlainKeys). Any other key goes through the checks.
var plainKeyList = []string{
	// a sender's records (smtp.intent and the scope of every record)
	"profile", "from", "rcpts", "message_id", "size", "test", "probe",
	"outbox", "spool_id", "attempt", "transport",
	// the transport's events (transport/events.go)
	"server", "addr", "proxy", "greeting", "tls", "version", "cipher",
	"peer_sha256", "mode", "insecure_skip_verify", "auth", "mech",
	"user", "rcpt", "reply", "code", "enhanced", "text", "queue_id",
	"error", "stage", "temporary", "hint", "duration_ms",
	"capabilities", "pipelining", "chunking",
	// the File's own records
	"alg", "file", "reason", "records", "last_seq", "last_hash",
}

// plainKeys holds plainKeyList by length and first letter: a lookup is
// two indexes and, mostly, one comparison.
var plainKeys = func() (t [32][26][]string) {
	for _, k := range plainKeyList {
		t[len(k)][k[0]-'a'] = append(t[len(k)][k[0]-'a'], k)
	}
	return t
}()

// plainKey reports whether key is in plainKeyList.
func plainKey(key string) bool {
	if len(key) == 0 || len(key) >= len(plainKeys) || key[0] < 'a' || key[0] > 'z' {
		return false
	}
	for _, k := range plainKeys[len(key)][key[0]-'a'] {
		if k == key {
			return true
		}
	}
	return false
}

// isReservedKey reports the top-level members the package writes itself. A
// top-level attribute with one of these keys (in any case) is written as
// "x_" + key so a query for .seq or .msg is never ambiguous.
func isReservedKey(key string) bool {
	switch len(key) {
	case 3:
		return strings.EqualFold(key, "seq") || strings.EqualFold(key, "msg")
	case 4:
		return strings.EqualFold(key, "prev") || strings.EqualFold(key, "hash") || strings.EqualFold(key, "time")
	case 5:
		return strings.EqualFold(key, "level")
	}
	return false
}

// appendAttrs appends attrs as JSON object members, each preceded by a comma
// when sep is true or when something was written before. It reports whether
// it wrote anything.
func (e *encoder) appendAttrs(dst []byte, attrs []slog.Attr, sep, top bool) ([]byte, bool) {
	wrote := false
	for _, a := range attrs {
		var ok bool
		dst, ok = e.appendAttr(dst, a, sep || wrote, top)
		wrote = wrote || ok
	}
	return dst, wrote
}

func (e *encoder) appendAttr(dst []byte, a slog.Attr, sep, top bool) ([]byte, bool) {
	if a.Value.Kind() == slog.KindLogValuer {
		// (Resolve sets up a recover for every value: only for these.)
		a.Value = a.Value.Resolve()
	}
	if a.Key == "" && a.Value.Equal(slog.Value{}) {
		// The empty Attr (a.Equal(slog.Attr{}), the value compared only
		// when the key is empty, which it seldom is).
		return dst, false
	}
	if a.Value.Kind() == slog.KindGroup {
		members := a.Value.Group()
		if len(members) == 0 {
			return dst, false
		}
		if a.Key == "" {
			return e.appendAttrs(dst, members, sep, top)
		}
	}
	key := a.Key
	plain := plainKey(key)
	if !plain && top && isReservedKey(key) {
		key = "x_" + key
	}
	mark := len(dst)
	if sep {
		dst = append(dst, ',')
	}
	if plain {
		// Nothing to escape.
		dst = append(dst, '"')
		dst = append(dst, key...)
		dst = append(dst, '"', ':')
	} else {
		dst = appendString(dst, key)
		dst = append(dst, ':')
	}
	if (!plain && IsSecretKey(a.Key)) || (e.secret != nil && e.secret(a.Key)) {
		return appendString(dst, Redacted), true
	}
	if a.Value.Kind() == slog.KindGroup {
		dst = append(dst, '{')
		var ok bool
		dst, ok = e.appendAttrs(dst, a.Value.Group(), false, false)
		if !ok {
			// Every member was empty: drop the group altogether.
			return dst[:mark], false
		}
		return append(dst, '}'), true
	}
	return e.appendValue(dst, a.Value), true
}

func (e *encoder) appendValue(dst []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendString(dst, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(dst, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(dst, v.Uint64(), 10)
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendString(dst, strconv.FormatFloat(f, 'g', -1, 64))
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(dst, v.Bool())
	case slog.KindDuration:
		return strconv.AppendInt(dst, int64(v.Duration()), 10)
	case slog.KindTime:
		return appendString(dst, v.Time().Format(time.RFC3339Nano))
	case slog.KindGroup:
		dst = append(dst, '{')
		dst, _ = e.appendAttrs(dst, v.Group(), false, false)
		return append(dst, '}')
	default:
		return e.appendAny(dst, v.Any())
	}
}

var (
	logValuerType     = reflect.TypeFor[slog.LogValuer]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
)

// appendAny marshals an slog.Any value. An error is written as its message; a
// []string as a JSON array of strings; a slice of slog.LogValuer (that is no
// json.Marshaler) as an array of the values its elements resolve to; a
// json.Marshaler, encoding.TextMarshaler or other value through encoding/json,
// after which secret-looking object keys anywhere inside are redacted and the
// result is re-encoded as ASCII-only JSON. A value that cannot be marshalled
// is written as a string describing the failure (never its %v form, which
// could reveal a secret field).
func (e *encoder) appendAny(dst []byte, x any) []byte {
	switch x := x.(type) {
	case nil:
		return append(dst, "null"...)
	case error:
		if _, ok := x.(json.Marshaler); !ok {
			return appendString(dst, x.Error())
		}
	case []byte:
		return appendString(dst, string(x))
	case []string:
		// A list of addresses on every send: the same JSON as through
		// encoding/json and reencode (strings hold no member keys to
		// redact), without their cost.
		if x == nil {
			return append(dst, "null"...)
		}
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']')
	case encoding.TextMarshaler:
		if _, ok := x.(json.Marshaler); !ok {
			b, err := x.MarshalText()
			if err != nil {
				return appendString(dst, "!ERROR: "+err.Error())
			}
			return appendString(dst, string(b))
		}
	}
	if v := reflect.ValueOf(x); v.Kind() == reflect.Slice && v.Type().Elem().Implements(logValuerType) &&
		!v.Type().Elem().Implements(jsonMarshalerType) && !v.Type().Implements(jsonMarshalerType) {
		// A list of slog.LogValuer (the recipients and their replies on
		// every send): each element as the value it resolves to, as slog
		// does for one, with the same key redaction, without encoding/json
		// and the re-encoding.
		if v.IsNil() {
			return append(dst, "null"...)
		}
		dst = append(dst, '[')
		for i := range v.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			el := v.Index(i)
			if el.Kind() != reflect.Interface {
				// The element through its address: the same LogValue
				// method (the pointer's method set holds the value's),
				// without boxing a copy of the element. (An interface
				// element gives its value as it is.)
				el = el.Addr()
			}
			dst = e.appendValue(dst, slog.AnyValue(el.Interface()).Resolve())
		}
		return append(dst, ']')
	}
	raw, err := json.Marshal(x)
	if err != nil {
		return appendString(dst, fmt.Sprintf("!ERROR: cannot marshal %T", x))
	}
	out, err := e.reencode(dst, raw)
	if err != nil {
		return appendString(dst, fmt.Sprintf("!ERROR: cannot re-encode %T", x))
	}
	return out
}

// reencode copies the JSON document raw to dst token by token, replacing the
// value of every object member whose key IsSecret by Redacted.
func (e *encoder) reencode(dst []byte, raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		obj     bool
		n       int
		wantKey bool
	}
	var stack []frame
	skip := 0 // nesting depth inside a secret value being skipped
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if skip > 0 {
			switch tok {
			case json.Delim('{'), json.Delim('['):
				skip++
			case json.Delim('}'), json.Delim(']'):
				skip--
			}
			continue
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			dst = append(dst, byte(d))
			if len(stack) > 0 && stack[len(stack)-1].obj {
				stack[len(stack)-1].wantKey = true
			}
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.obj && top.wantKey {
				key := tok.(string)
				if top.n > 0 {
					dst = append(dst, ',')
				}
				top.n++
				dst = appendString(dst, key)
				dst = append(dst, ':')
				top.wantKey = false
				if e.isSecret(key) {
					dst = appendString(dst, Redacted)
					top.wantKey = true
					// Skip the member's value: a scalar is one token, an
					// object or array runs to its matching delimiter.
					tok, err := dec.Token()
					if err != nil {
						return nil, err
					}
					if tok == json.Delim('{') || tok == json.Delim('[') {
						skip = 1
					}
				}
				continue
			}
			if !top.obj {
				if top.n > 0 {
					dst = append(dst, ',')
				}
				top.n++
			} else {
				top.wantKey = true
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			dst = append(dst, byte(t))
			stack = append(stack, frame{obj: t == '{', wantKey: t == '{'})
		case string:
			dst = appendString(dst, t)
		case json.Number:
			dst = append(dst, t...)
		case bool:
			dst = strconv.AppendBool(dst, t)
		case nil:
			dst = append(dst, "null"...)
		}
	}
	return dst, nil
}
