package graph

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzEncReader: the streamed encoding equals encoding/base64's, however
// the source splits its reads.
func FuzzEncReader(f *testing.F) {
	f.Add([]byte(""), uint8(1))
	f.Add([]byte("From: a@b\r\n\r\nx"), uint8(2))
	f.Add(bytes.Repeat([]byte{0xff}, 5000), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		var src io.Reader = bytes.NewReader(data)
		if split%2 == 0 {
			src = iotest.OneByteReader(src)
		} else if split%3 == 0 {
			src = iotest.HalfReader(src)
		}
		got, err := io.ReadAll(newEncReader(src))
		if err != nil {
			t.Fatal(err)
		}
		if want := base64.StdEncoding.EncodeToString(data); string(got) != want {
			t.Fatalf("encoding differs for %d bytes", len(data))
		}
	})
}

// FuzzSenderPath: a sender CheckSender accepts becomes exactly one path
// segment after /users/ that decodes back to itself; nothing can add a
// segment, a query or a fragment.
func FuzzSenderPath(f *testing.F) {
	for _, s := range []string{"alerts@contoso.com", "a/b", "a?b", "a#b", "a%2fb", "j\u00fcrgen@contoso.com", "a\r\nb", ".."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := &Client{Endpoint: "https://graph.microsoft.com"}
		_, target, err := c.userURL(s, "/sendMail")
		if err != nil {
			t.Fatal(err)
		}
		if CheckSender(s) != nil {
			return
		}
		if s == "." || s == ".." {
			t.Fatalf("dot segment %q accepted", s)
		}
		u, err := url.Parse(target)
		if err != nil {
			t.Fatalf("%q: %v", target, err)
		}
		if u.RawQuery != "" || u.Fragment != "" || u.Host != "graph.microsoft.com" {
			t.Fatalf("%q: query, fragment or host changed: %q", s, target)
		}
		rest, ok := strings.CutPrefix(u.EscapedPath(), "/v1.0/users/")
		if !ok {
			t.Fatalf("%q: path %q", s, u.EscapedPath())
		}
		seg, ok := strings.CutSuffix(rest, "/sendMail")
		if !ok || strings.Contains(seg, "/") {
			t.Fatalf("%q: more than one segment: %q", s, rest)
		}
		if back, err := url.PathUnescape(seg); err != nil || back != s {
			t.Fatalf("%q: segment %q decodes to %q", s, seg, back)
		}
	})
}
