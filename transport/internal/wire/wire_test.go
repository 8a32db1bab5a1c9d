package wire

import (
	"bufio"
	"net"
	"strconv"
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

// TestCmdForms: Cmd3 and CmdInt write and trace what Cmd does with the
// line built as a string, and refuse CR and LF as it does.
func TestCmdForms(t *testing.T) {
	var viaCmd, viaParts strings.Builder
	var traceCmd, traceParts []string
	a := &Conn{W: bufio.NewWriter(&viaCmd), Trace: func(_ bool, l string) { traceCmd = append(traceCmd, l) }}
	b := &Conn{W: bufio.NewWriter(&viaParts), Trace: func(_ bool, l string) { traceParts = append(traceParts, l) }}
	for _, n := range []int64{0, 7, 99, 100, 4096, 1 << 40} {
		for _, last := range []string{"", " LAST"} {
			a.Cmd("BDAT "+strconv.FormatInt(n, 10)+last, "")
			b.CmdInt("BDAT ", n, last)
		}
	}
	a.Cmd("RCPT TO:<b@example.net>", "")
	b.Cmd3("RCPT TO:<", "b@example.net", ">")
	if b.Cmd3("RCPT TO:<", "b@x\r\nDATA", ">") == nil || b.CmdInt("BDAT ", 1, " LAST\n") == nil {
		t.Error("CR or LF accepted")
	}
	a.W.Flush()
	b.W.Flush()
	if viaCmd.String() != viaParts.String() {
		t.Errorf("wire:\n%q\n%q", viaCmd.String(), viaParts.String())
	}
	if strings.Join(traceCmd, "|") != strings.Join(traceParts, "|") {
		t.Errorf("trace:\n%q\n%q", traceCmd, traceParts)
	}
}

// TestScrubUnchanged: a Scrub that leaves a line alone, and one that
// changes it, give the text they return.
func TestScrubUnchanged(t *testing.T) {
	for _, tc := range []struct {
		scrub func(string) string
		want  string
	}{
		{func(s string) string { return s }, "2.0.0 Ok|secret here"},
		{func(s string) string { return strings.ReplaceAll(s, "secret", "[x]") }, "2.0.0 Ok|[x] here"},
	} {
		var traced []string
		c := &Conn{R: bufio.NewReader(strings.NewReader("250-2.0.0 Ok\r\n250 secret here\r\n")), Scrub: tc.scrub,
			Trace: func(_ bool, l string) { traced = append(traced, l) }}
		_, lines, err := c.ReadReplyInto(false, make([]string, 0, 1))
		if err != nil || strings.Join(lines, "|") != tc.want {
			t.Errorf("%q %v, want %q", lines, err, tc.want)
		}
		if got := strings.Join(traced, "|"); got != "250-"+strings.ReplaceAll(tc.want, "|", "|250 ") {
			t.Errorf("traced %q", got)
		}
	}
}

// TestReadReplyRepeatedLines: lines equal to recent ones, and lines that
// differ from them by a byte or in length, are read as sent.
func TestReadReplyRepeatedLines(t *testing.T) {
	in := []string{"250 2.1.0 Ok", "250 2.1.5 Ok", "354 go ahead", "250 2.0.0 Ok: queued as A",
		"250 2.1.0 Ok", "250 2.1.5 Ok", "354 go ahead", "250 2.0.0 Ok: queued as B",
		"250 2.1.0 Ok", "250 2.1.0 Ok.", "250 2.1.0 O", "250 2.1.0 ok", "250 2.0.0 Ok: queued as A", "250 2.1.5 Ok"}
	c := &Conn{R: bufio.NewReader(strings.NewReader(strings.Join(in, "\r\n") + "\r\n"))}
	for _, want := range in {
		_, lines, err := c.ReadReply(false)
		if err != nil || len(lines) != 1 || lines[0] != want[4:] {
			t.Fatalf("%q %v, want %q", lines, err, want[4:])
		}
	}
}
