package main

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
)

// MinimalBDAT is the smallest client that does what a fast one must: EHLO
// once, then per message MAIL, RCPT and BDAT n LAST in one flight with the
// caller's bytes written as they are (one writev), and the three replies
// read afterwards. It checks nothing but the reply codes; it is the yard
// stick for the transport's CHUNKING path, not a client to use.
func MinimalBDAT(e *Env, n int) error {
	conn, err := net.Dial("tcp", e.Sink.Addr())
	if err != nil {
		return err
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	reply := func() error {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if len(l) < 4 || l[0] != '2' {
				return fmt.Errorf("minimal client: reply %q", l)
			}
			if l[3] == ' ' {
				return nil
			}
		}
	}
	if err := reply(); err != nil { // greeting
		return err
	}
	if _, err := conn.Write([]byte("EHLO bench.example.org\r\n")); err != nil {
		return err
	}
	if err := reply(); err != nil {
		return err
	}
	cmds := []byte("MAIL FROM:<bench@example.org>\r\nRCPT TO:<sink@example.net>\r\nBDAT " + strconv.Itoa(len(e.Msg)) + " LAST\r\n")
	for range n {
		bufs := net.Buffers{cmds, e.Msg}
		if _, err := bufs.WriteTo(conn); err != nil {
			return err
		}
		for range 3 {
			if err := reply(); err != nil {
				return err
			}
		}
	}
	_, err = conn.Write([]byte("QUIT\r\n"))
	return err
}
