package fold

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// reference is the folding FormatField did before Append: the value with
// a leading space, cut at each fold point.
func reference(name, value string) (string, int, bool) {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte(':')
	if value == "" {
		return b.String() + "\r\n", 0, true
	}
	nextSegment := func(s string) string {
		for i := 1; i < len(s)-1; i++ {
			if s[i] == ' ' && !isWSP(s[i-1]) && !isWSP(s[i+1]) {
				return s[:i]
			}
		}
		return s
	}
	line := len(name) + 1
	rest := " " + value
	for rest != "" {
		seg := nextSegment(rest)
		if line > 0 && line+len(seg) > foldAt && line != len(name)+1 {
			b.WriteString("\r\n")
			line = 0
		}
		if line+len(seg) > MaxLineLength {
			return "", len(seg), false
		}
		b.WriteString(seg)
		line += len(seg)
		rest = rest[len(seg):]
	}
	return b.String() + "\r\n", 0, true
}

func TestAppendMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	words := []string{"a", "bb", " ", "  ", "\t", "=?utf-8?q?x?=", strings.Repeat("x", 40), strings.Repeat("y", 500), strings.Repeat("z", 997)}
	names := []string{"Subject", "X", "Disposition-Notification-To", strings.Repeat("N", 90)}
	for range 50000 {
		var v strings.Builder
		for range r.IntN(12) {
			v.WriteString(words[r.IntN(len(words))])
		}
		name, value := names[r.IntN(len(names))], v.String()
		want, wlong, wok := reference(name, value)
		prefix := []byte("prefix")
		got, long, ok := Append(prefix, name, value)
		if ok != wok || long != wlong || (ok && string(got) != "prefix"+want) || (!ok && string(got) != "prefix") {
			t.Fatalf("Append(%q, %q) = %q, %d, %v; want %q, %d, %v", name, value, got, long, ok, want, wlong, wok)
		}
	}
}
