package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// RELP (rsyslog's Reliable Event Logging Protocol, as librelp implements
// it) frames every command and response as
//
//	TXNR SP COMMAND SP DATALEN [SP DATA] LF
//
// TXNR counts the client's commands from 1 (wrapping at 999999999 to 1);
// the server answers each with a "rsp" frame of the same TXNR whose DATA
// starts with a three-digit code ("200 OK"). A session starts with "open"
// (offers relp_version, relp_software, commands=syslog), carries one
// "syslog" command per message and ends with "close"; the server may send
// "serverclose" (TXNR 0) at any time. This client sends one command at a
// time and waits for its response: a window of one.

// errRELPNoAck is the error of a command the collector did not answer in
// time: it may or may not hold the record.
var errRELPNoAck = errors.New("relp: no acknowledgement in time")

// A RELPError is a collector's negative answer to a RELP command.
type RELPError struct {
	Command string
	Code    int
	Text    string
}

func (e *RELPError) Error() string {
	return fmt.Sprintf("relp: the collector answered %s with %d %s", e.Command, e.Code, e.Text)
}

const (
	relpMaxTxnr  = 999999999
	relpMaxFrame = 128 << 10 // longest response frame read
	relpSoftware = "mailwarden,1,-"
)

type relpSession struct {
	conn    net.Conn
	r       *bufio.Reader
	txnr    int
	timeout time.Duration
	buf     []byte
}

// relpOpen starts a RELP session on conn: "open" with the offers, and the
// collector's 200 with commands=syslog.
func relpOpen(conn net.Conn, timeout time.Duration) (*relpSession, error) {
	r := &relpSession{conn: conn, r: bufio.NewReader(conn), timeout: timeout}
	offers := "relp_version=0\nrelp_software=" + relpSoftware + "\ncommands=syslog"
	data, err := r.command("open", []byte(offers))
	if err != nil {
		return nil, err
	}
	// data: "200 OK\nrelp_version=0\nrelp_software=...\ncommands=syslog"
	ok := false
	for _, line := range bytes.Split(data, []byte{'\n'})[1:] {
		if v, found := bytes.CutPrefix(line, []byte("commands=")); found {
			for _, c := range bytes.Split(v, []byte{','}) {
				if string(bytes.TrimSpace(c)) == "syslog" {
					ok = true
				}
			}
		}
	}
	if !ok {
		return nil, errors.New("relp: the collector does not offer the syslog command")
	}
	return r, nil
}

// send sends msg as one "syslog" command and waits for its 200.
func (r *relpSession) send(msg []byte) error {
	_, err := r.command("syslog", msg)
	return err
}

// close ends the session politely: "close", its response (brief wait).
func (r *relpSession) close() {
	r.timeout = min(r.timeout, time.Second)
	r.command("close", nil)
}

// abort forgets the session; the caller closes the connection.
func (r *relpSession) abort() {}

// command sends one command and returns the DATA of its response (code
// and text included) once the code is 200.
func (r *relpSession) command(cmd string, data []byte) ([]byte, error) {
	r.txnr++
	if r.txnr > relpMaxTxnr {
		r.txnr = 1
	}
	b := strconv.AppendInt(r.buf[:0], int64(r.txnr), 10)
	b = append(b, ' ')
	b = append(b, cmd...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(data)), 10)
	if len(data) > 0 {
		b = append(b, ' ')
		b = append(b, data...)
	}
	b = append(b, '\n')
	r.buf = b[:0]
	deadline := time.Now().Add(r.timeout)
	r.conn.SetDeadline(deadline)
	defer r.conn.SetDeadline(time.Time{})
	if _, err := r.conn.Write(b); err != nil {
		return nil, timeoutOr(err)
	}
	txnr, rcmd, rdata, err := r.readFrame()
	if err != nil {
		return nil, timeoutOr(err)
	}
	if txnr == 0 && rcmd == "serverclose" {
		return nil, errors.New("relp: the collector closed the session (serverclose)")
	}
	if rcmd != "rsp" {
		return nil, fmt.Errorf("relp: unexpected %q from the collector", rcmd)
	}
	if txnr != r.txnr {
		return nil, fmt.Errorf("relp: response to transaction %d, want %d", txnr, r.txnr)
	}
	if cmd == "close" {
		return rdata, nil
	}
	code, text := relpCode(rdata)
	if code != 200 {
		return nil, &RELPError{Command: cmd, Code: code, Text: printable(text)}
	}
	return rdata, nil
}

func timeoutOr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errRELPNoAck
	}
	if errors.Is(err, io.EOF) {
		return errors.New("relp: the collector closed the connection")
	}
	return fmt.Errorf("relp: %w", err)
}

// relpCode splits "200 OK\n..." into 200 and "OK".
func relpCode(d []byte) (int, string) {
	line, _, _ := bytes.Cut(d, []byte{'\n'})
	c, text, _ := bytes.Cut(line, []byte{' '})
	n, err := strconv.Atoi(string(c))
	if err != nil || len(c) != 3 {
		return 0, string(line)
	}
	return n, string(text)
}

// readFrame reads one frame: TXNR SP COMMAND SP DATALEN [SP DATA] LF.
func (r *relpSession) readFrame() (int, string, []byte, error) {
	field := func(max int) (string, byte, error) {
		var b []byte
		for {
			c, err := r.r.ReadByte()
			if err != nil {
				return "", 0, err
			}
			if c == ' ' || c == '\n' {
				return string(b), c, nil
			}
			if len(b) >= max {
				return "", 0, errors.New("relp: malformed frame header")
			}
			b = append(b, c)
		}
	}
	ts, sep, err := field(10)
	if err != nil {
		return 0, "", nil, err
	}
	txnr, perr := strconv.Atoi(ts)
	if perr != nil || sep != ' ' {
		return 0, "", nil, errors.New("relp: malformed frame (transaction number)")
	}
	cmd, sep, err := field(32)
	if err != nil {
		return 0, "", nil, err
	}
	if sep != ' ' {
		return 0, "", nil, errors.New("relp: malformed frame (command)")
	}
	ls, sep, err := field(9)
	if err != nil {
		return 0, "", nil, err
	}
	n, perr := strconv.Atoi(ls)
	if perr != nil || n < 0 || n > relpMaxFrame {
		return 0, "", nil, errors.New("relp: malformed frame (data length)")
	}
	if n == 0 {
		if sep != '\n' {
			// Tolerate "0 " then LF.
			if c, err := r.r.ReadByte(); err != nil || c != '\n' {
				return 0, "", nil, errors.New("relp: malformed frame (trailer)")
			}
		}
		return txnr, cmd, nil, nil
	}
	if sep != ' ' {
		return 0, "", nil, errors.New("relp: malformed frame (data)")
	}
	data := make([]byte, n+1)
	if _, err := io.ReadFull(r.r, data); err != nil {
		return 0, "", nil, err
	}
	if data[n] != '\n' {
		return 0, "", nil, errors.New("relp: malformed frame (trailer)")
	}
	return txnr, cmd, data[:n], nil
}

// printable keeps a collector's text to printable ASCII, at most 200 bytes.
func printable(s string) string {
	b := make([]byte, 0, min(len(s), 200))
	for i := 0; i < len(s) && len(b) < 200; i++ {
		if c := s[i]; c >= ' ' && c < 0x7f {
			b = append(b, c)
		} else {
			b = append(b, '?')
		}
	}
	return string(b)
}
