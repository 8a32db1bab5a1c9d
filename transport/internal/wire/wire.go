// Package wire is the SMTP client's line protocol: buffered command
// writing, reply reading with line and size limits, and the body encoder
// that normalises line endings and dot-stuffs (RFC 5321 sections 2.3.8,
// 4.1.1.4 and 4.5.2).
//
// It exists because net/textproto, which go-smtp's client builds on, has
// no reply size limits, drops bytes buffered in its reader when a new one
// is made (the STARTTLS response-injection hole), and its DotWriter lets a
// bare CR before a dot through unescaped.
package wire

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
)

// Errors returned by ReadReply.
var (
	ErrLineTooLong  = errors.New("reply line too long")
	ErrReplyTooLong = errors.New("reply too long")
	ErrMalformed    = errors.New("malformed reply")
)

// Tracer receives each protocol line (without CRLF): client is true for
// lines the client sent.
type Tracer func(client bool, line string)

// Conn is the protocol layer over one net.Conn.
type Conn struct {
	NC       net.Conn
	R        *bufio.Reader
	W        *bufio.Writer
	MaxLine  int
	MaxReply int
	Trace    Tracer
	// Scrub, when not nil, rewrites the text of every reply line (after
	// "NNN-" or "NNN ") before it is traced, and before it is returned
	// unless KeepText is set (EHLO keywords must be parsed as sent). The
	// SASL challenges ReadReply(true) reads are left alone: the mechanism
	// needs them intact and the trace redacts them.
	Scrub    func(string) string
	KeepText bool

	recent [4]string // lines read lately, for intern
	next   int
}

// New returns a Conn over nc.
func New(nc net.Conn, maxLine, maxReply int) *Conn {
	return &Conn{NC: nc, R: bufio.NewReaderSize(nc, 4096), W: bufio.NewWriterSize(nc, 64<<10), MaxLine: maxLine, MaxReply: maxReply}
}

// Swap replaces the underlying connection (after a TLS handshake) and
// makes new buffers. It fails if the old read buffer still held bytes:
// the caller must check Buffered before the handshake; this is the second
// line of defence.
func (c *Conn) Swap(nc net.Conn) error {
	if c.R.Buffered() != 0 {
		return errors.New("unread bytes in the read buffer")
	}
	c.NC = nc
	c.R = bufio.NewReaderSize(nc, 4096)
	c.W = bufio.NewWriterSize(nc, 64<<10)
	return nil
}

// Buffered returns the number of bytes read from the connection and not
// yet consumed.
func (c *Conn) Buffered() int { return c.R.Buffered() }

// Cmd buffers one command line and its CRLF. traceAs, when not empty,
// is traced instead of line (to redact AUTH payloads). The line must not
// contain CR or LF; callers validate input, and this is checked again
// here.
func (c *Conn) Cmd(line, traceAs string) error {
	for i := 0; i < len(line); i++ {
		if line[i] == '\r' || line[i] == '\n' {
			return errors.New("command contains CR or LF")
		}
	}
	if c.Trace != nil {
		if traceAs == "" {
			traceAs = line
		}
		c.Trace(true, traceAs)
	}
	c.W.WriteString(line)
	_, err := c.W.WriteString("\r\n")
	return err
}

// Cmd3 buffers the command line a+b+c and its CRLF, as Cmd does, without
// building the line as a string unless it is traced.
func (c *Conn) Cmd3(a, b, d string) error {
	if hasCRLF(a) || hasCRLF(b) || hasCRLF(d) {
		return errors.New("command contains CR or LF")
	}
	if c.Trace != nil {
		c.Trace(true, a+b+d)
	}
	c.W.WriteString(a)
	c.W.WriteString(b)
	c.W.WriteString(d)
	_, err := c.W.WriteString("\r\n")
	return err
}

// CmdInt buffers the command line a+n+b (n in decimal) and its CRLF, as
// Cmd does, formatting n in the write buffer itself.
func (c *Conn) CmdInt(a string, n int64, b string) error {
	if hasCRLF(a) || hasCRLF(b) {
		return errors.New("command contains CR or LF")
	}
	if c.Trace != nil {
		c.Trace(true, a+strconv.FormatInt(n, 10)+b)
	}
	c.W.WriteString(a)
	c.W.Write(strconv.AppendInt(c.W.AvailableBuffer(), n, 10))
	c.W.WriteString(b)
	_, err := c.W.WriteString("\r\n")
	return err
}

func hasCRLF(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			return true
		}
	}
	return false
}

// Flush writes buffered commands to the connection.
func (c *Conn) Flush() error { return c.W.Flush() }

// ReadReply reads one reply, single or multi-line. It returns the code and
// the text of each line (after "NNN-" or "NNN "). Lines may end in CRLF
// or a bare LF. A line over MaxLine bytes or a reply over MaxReply bytes
// is ErrLineTooLong/ErrReplyTooLong; a line that is not a reply line or
// whose code differs from the first line's is ErrMalformed. redact, when
// set, hides the text in the trace.
func (c *Conn) ReadReply(redact bool) (int, []string, error) {
	return c.ReadReplyInto(redact, nil)
}

// ReadReplyInto is ReadReply appending the lines to lines[:0], so that a
// caller can reuse one slice for every reply of a session.
func (c *Conn) ReadReplyInto(redact bool, lines []string) (int, []string, error) {
	lines = lines[:0]
	code, total := 0, 0
	for {
		line, err := c.readLine()
		if err != nil {
			return code, lines, err
		}
		total += len(line) + 2
		if c.MaxReply > 0 && total > c.MaxReply {
			return code, lines, ErrReplyTooLong
		}
		if c.Scrub != nil && len(line) > 4 && !(redact && line[:3] == "334") {
			scrubbed := line
			if text := c.Scrub(line[4:]); text != line[4:] {
				scrubbed = line[:4] + text
			}
			if c.Trace != nil {
				c.Trace(false, scrubbed)
			}
			if !c.KeepText {
				line = scrubbed
			}
		} else if c.Trace != nil {
			if redact && len(line) > 4 && line[:3] == "334" {
				c.Trace(false, line[:4]+"[redacted]")
			} else {
				c.Trace(false, line)
			}
		}
		if len(line) < 3 || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
			return code, lines, ErrMalformed
		}
		n, err := strconv.Atoi(line[:3])
		if err != nil || n < 200 || n > 599 || line[0] == '+' {
			return code, lines, ErrMalformed
		}
		if code != 0 && n != code {
			return code, lines, ErrMalformed
		}
		code = n
		text := ""
		if len(line) > 4 {
			text = line[4:]
		}
		lines = append(lines, text)
		if len(line) == 3 || line[3] == ' ' {
			return code, lines, nil
		}
	}
}

// readLine reads a line without its line ending, at most MaxLine bytes.
func (c *Conn) readLine() (string, error) {
	var buf []byte
	for {
		frag, err := c.R.ReadSlice('\n')
		if len(buf)+len(frag) > c.MaxLine && c.MaxLine > 0 {
			return "", ErrLineTooLong
		}
		if err == nil {
			if buf == nil {
				buf = frag
			} else {
				buf = append(buf, frag...)
			}
			break
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		buf = append(buf, frag...)
	}
	n := len(buf) - 1
	if n > 0 && buf[n-1] == '\r' {
		n--
	}
	return c.intern(buf[:n]), nil
}

// intern returns line as a string, reusing the string of an equal line
// among the last few read: a server's replies to MAIL, RCPT and DATA are
// often the same for every message of a session.
func (c *Conn) intern(line []byte) string {
	for _, s := range c.recent {
		if s == string(line) {
			return s
		}
	}
	s := string(line)
	c.recent[c.next%len(c.recent)] = s
	c.next++
	return s
}
