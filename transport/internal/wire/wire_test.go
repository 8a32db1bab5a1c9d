package wire

import (
	"bufio"
	"net"
	"strings"
	"testing"
)

func readFrom(s string, maxLine, maxReply int) (int, []string, error) {
	c := &Conn{R: bufio.NewReaderSize(strings.NewReader(s), 16), MaxLine: maxLine, MaxReply: maxReply}
	return c.ReadReply(false)
}

func TestReadReply(t *testing.T) {
	for _, tc := range []struct {
		in    string
		code  int
		lines string
		err   error
	}{
		{"250 ok\r\n", 250, "ok", nil},
		{"250\r\n", 250, "", nil},
		{"250-a\r\n250-b\r\n250 c\r\n", 250, "a|b|c", nil},
		{"250-a\n250 b\n", 250, "a|b", nil},
		{"250-a\r\n251 b\r\n", 250, "a", ErrMalformed},
		{"25 ok\r\n", 0, "", ErrMalformed},
		{"abc ok\r\n", 0, "", ErrMalformed},
		{"250_ok\r\n", 0, "", ErrMalformed},
		{"199 x\r\n", 0, "", ErrMalformed},
		{"+50 x\r\n", 0, "", ErrMalformed},
		{"250 " + strings.Repeat("x", 100) + "\r\n", 0, "", ErrLineTooLong},
		{strings.Repeat("250-xxxxxxxx\r\n", 40) + "250 end\r\n", 250, "", ErrReplyTooLong},
	} {
		code, lines, err := readFrom(tc.in, 64, 256)
		if err != tc.err || (err == nil && (code != tc.code || strings.Join(lines, "|") != tc.lines)) {
			t.Errorf("%q: %d %q %v", tc.in, code, lines, err)
		}
	}
	if _, _, err := readFrom("250-a\r\n", 64, 256); err == nil {
		t.Error("truncated reply accepted")
	}
}

func TestCmdRefusesCRLF(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := New(a, 512, 4096)
	for _, l := range []string{"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>", "x\ry", "x\n"} {
		if err := c.Cmd(l, ""); err == nil {
			t.Errorf("%q accepted", l)
		}
	}
}

func FuzzReadReply(f *testing.F) {
	f.Add("250-a\r\n250 b\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		code, lines, err := readFrom(s, 64, 256)
		if err != nil {
			return
		}
		if code < 200 || code > 599 {
			t.Fatalf("code %d", code)
		}
		n := 0
		for _, l := range lines {
			n += len(l) + 6
			if len(l) > 64 {
				t.Fatalf("line %q", l)
			}
		}
		if n > 256 {
			t.Fatalf("reply of %d bytes", n)
		}
	})
}
