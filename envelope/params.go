package envelope

import (
	"mime"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxParam is the longest "name=value" parameter formatMediaType writes on
// one line before it splits the value into RFC 2231 continuations.
const maxParam = 60

// formatMediaType is mime.FormatMediaType, except that a parameter too long
// to fold within 76 octets (typically a long or non-ASCII file name) is
// written as RFC 2231 section 3 continuations (name*0*, name*1*, ... in
// UTF-8), each segment cut on a rune boundary. It returns "" when t
// or a parameter name is invalid.
func formatMediaType(t string, params map[string]string) string {
	if mime.FormatMediaType(t, params) == "" {
		return ""
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(strings.ToLower(t))
	for _, k := range keys {
		v := params[k]
		one := strings.TrimPrefix(mime.FormatMediaType("x/x", map[string]string{k: v}), "x/x; ")
		if len(one) <= maxParam {
			b.WriteString("; ")
			b.WriteString(one)
			continue
		}
		for i, seg := range continuations(strings.ToLower(k), v) {
			b.WriteString("; ")
			b.WriteString(strings.ToLower(k))
			b.WriteString("*")
			b.WriteString(strconv.Itoa(i))
			b.WriteString("*=")
			if i == 0 {
				b.WriteString("utf-8''")
			}
			b.WriteString(seg)
		}
	}
	return b.String()
}

// continuations percent-encodes v (RFC 2231 section 4) in segments that
// keep each "name*N*=segment" within maxParam octets and never split a
// character.
func continuations(name string, v string) []string {
	var segs []string
	var cur strings.Builder
	room := maxParam - len(name) - len("*00*=utf-8''")
	for v != "" {
		_, n := utf8.DecodeRuneInString(v)
		var enc strings.Builder
		for i := 0; i < n; i++ {
			c := v[i]
			if attributeChar(c) {
				enc.WriteByte(c)
			} else {
				enc.WriteByte('%')
				enc.WriteByte("0123456789ABCDEF"[c>>4])
				enc.WriteByte("0123456789ABCDEF"[c&0xf])
			}
		}
		if cur.Len() > 0 && cur.Len()+enc.Len() > room {
			segs = append(segs, cur.String())
			cur.Reset()
		}
		cur.WriteString(enc.String())
		v = v[n:]
	}
	if cur.Len() > 0 {
		segs = append(segs, cur.String())
	}
	return segs
}

// attributeChar reports whether c may appear unencoded in an RFC 2231
// extended value (attribute-char: token characters except "*", "'", "%").
func attributeChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
