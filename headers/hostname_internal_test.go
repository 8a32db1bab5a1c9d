package headers

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestPlainHostNameAgreesWithIDNA checks the fast path of asciiDomain: a
// domain plainHostName accepts is one idnaProfile returns unchanged and
// asciiDomain's later checks accept.
func TestPlainHostNameAgreesWithIDNA(t *testing.T) {
	cases := []string{
		"example.com", "a.b", "a", "1.2.3.4", "xn--bcher-kva.example", "ab--cd.example", "a-b.example",
		"-a.example", "a-.example", "a..b", ".a", "a.", "", "Example.com", "exa_mple.com",
		strings.Repeat("a", 63) + ".com", strings.Repeat("a", 64) + ".com",
		strings.Repeat("abcdefghi.", 25) + "com", strings.Repeat("abcdefghi.", 26) + "com",
	}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abz09-.A_"
	for range 200000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	fast := 0
	for _, d := range cases {
		if !plainHostName(d) {
			continue
		}
		fast++
		ascii, err := idnaProfile.ToASCII(d)
		if err != nil || ascii != d || ascii == "" || len(ascii) > maxDomain || strings.HasSuffix(ascii, ".") {
			t.Errorf("%q: plain, but idna gives %q, %v", d, ascii, err)
		}
	}
	if fast < 1000 {
		t.Errorf("only %d plain names among the cases", fast)
	}
	for _, d := range []string{"example.com", "mail.example.org", "a-b.c0"} {
		if !plainHostName(d) {
			t.Errorf("%q: not taken as plain", d)
		}
	}
}
