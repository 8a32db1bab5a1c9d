package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
)

// FastSink is a minimal SMTP sink that behaves like a production MTA
// towards pipelining clients: it reads every command already received
// before flushing its replies (Postfix does the same), reads DATA line by
// line until the terminator, and discards BDAT chunks by count. It checks
// nothing and keeps nothing but a message count.
type FastSink struct {
	ln       net.Listener
	chunking bool
	n        atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

// StartFastSink listens on 127.0.0.1; cfg enables implicit TLS.
func StartFastSink(cfg *tls.Config, chunking bool) (*FastSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	s := &FastSink{ln: ln, chunking: chunking, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
		}
	}()
	return s, nil
}

// Addr returns host:port.
func (s *FastSink) Addr() string { return s.ln.Addr().String() }

// Count returns the messages received.
func (s *FastSink) Count() int { return int(s.n.Load()) }

// Close stops the sink.
func (s *FastSink) Close() error {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *FastSink) serve(c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 4<<10)
	w.WriteString("220 sink ESMTP\r\n")
	for {
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		verb := line
		if i := bytes.IndexAny(line, " \r\n"); i >= 0 {
			verb = line[:i]
		}
		switch string(bytes.ToUpper(verb)) {
		case "EHLO":
			w.WriteString("250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n")
			if s.chunking {
				w.WriteString("250-CHUNKING\r\n")
			}
			w.WriteString("250 SIZE 104857600\r\n")
		case "HELO", "MAIL", "RCPT", "RSET", "NOOP":
			w.WriteString("250 2.0.0 Ok\r\n")
		case "DATA":
			w.WriteString("354 End data with <CR><LF>.<CR><LF>\r\n")
			w.Flush()
			for {
				l, err := r.ReadSlice('\n')
				if err == bufio.ErrBufferFull {
					continue
				}
				if err != nil {
					return
				}
				if len(l) == 3 && l[0] == '.' {
					break
				}
			}
			s.n.Add(1)
			w.WriteString("250 2.0.0 Ok: queued as Q\r\n")
		case "BDAT":
			f := bytes.Fields(line)
			if len(f) < 2 {
				return
			}
			n, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil {
				return
			}
			if _, err := io.CopyN(io.Discard, r, n); err != nil {
				return
			}
			if len(f) == 3 {
				s.n.Add(1)
				w.WriteString("250 2.0.0 Ok: queued as Q\r\n")
			} else {
				w.WriteString("250 2.0.0 Ok\r\n")
			}
		case "QUIT":
			w.WriteString("221 2.0.0 Bye\r\n")
			w.Flush()
			return
		default:
			w.WriteString("502 5.5.2 Error\r\n")
		}
	}
}
