package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// scriptConn replays the proxy's replies and records what the client
// wrote. Only Read and Write are used by the handshakes.
type scriptConn struct {
	net.Conn
	r io.Reader
	w bytes.Buffer
}

func (c *scriptConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error) { return c.w.Write(p) }

func cat(parts ...string) string { return strings.Join(parts, "") }

// TestTranscripts compares the exact bytes each handshake sends (RFC 1928
// sections 3 to 6, RFC 1929 section 2, the SOCKS4 and SOCKS4a documents,
// RFC 9110 section 9.3.6) and checks that the bytes after the proxy's reply
// stay readable.
func TestTranscripts(t *testing.T) {
	const greeting = "220 mail ESMTP\r\n"
	tests := []struct {
		name  string
		reply string
		run   func(c *scriptConn) (net.Conn, error)
		want  string
	}{
		{"socks5 name", cat("\x05\x00", "\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38", greeting),
			func(c *scriptConn) (net.Conn, error) { return c, SOCKS5Connect(c, "", "", "smtp.example.com", 587) },
			cat("\x05\x01\x00", "\x05\x01\x00\x03\x10smtp.example.com\x02\x4b")},
		{"socks5 password ipv4", cat("\x05\x02", "\x01\x00", "\x05\x00\x00\x03\x05proxy\x04\x38", greeting),
			func(c *scriptConn) (net.Conn, error) { return c, SOCKS5Connect(c, "user", "pass", "127.0.0.1", 25) },
			cat("\x05\x02\x00\x02", "\x01\x04user\x04pass", "\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x19")},
		{"socks5 ipv6", cat("\x05\x00", "\x05\x00\x00\x04", strings.Repeat("\x00", 18), greeting),
			func(c *scriptConn) (net.Conn, error) { return c, SOCKS5Connect(c, "", "", "::1", 465) },
			cat("\x05\x01\x00", "\x05\x01\x00\x04", strings.Repeat("\x00", 15), "\x01\x01\xd1")},
		{"socks4", cat("\x00\x5a\x00\x00\x00\x00\x00\x00", greeting),
			func(c *scriptConn) (net.Conn, error) {
				return c, SOCKS4Connect(c, ProtoSOCKS4, "ident", "127.0.0.1", 25)
			},
			"\x04\x01\x00\x19\x7f\x00\x00\x01ident\x00"},
		{"socks4a", cat("\x00\x5a\x00\x00\x00\x00\x00\x00", greeting),
			func(c *scriptConn) (net.Conn, error) {
				return c, SOCKS4Connect(c, ProtoSOCKS4A, "", "smtp.example.com", 25)
			},
			"\x04\x01\x00\x19\x00\x00\x00\x01\x00smtp.example.com\x00"},
		{"http", cat("HTTP/1.1 200 Connection established\r\n\r\n", greeting),
			func(c *scriptConn) (net.Conn, error) { return HTTPConnect(c, "smtp.example.com:587", "", "", false) },
			"CONNECT smtp.example.com:587 HTTP/1.1\r\nHost: smtp.example.com:587\r\n\r\n"},
		{"http basic", cat("HTTP/1.0 200 OK\r\nProxy-Agent: x\r\n\r\n", greeting),
			func(c *scriptConn) (net.Conn, error) {
				return HTTPConnect(c, "[::1]:25", "Aladdin", "open sesame", true)
			},
			// RFC 7617 section 2 example credentials.
			"CONNECT [::1]:25 HTTP/1.1\r\nHost: [::1]:25\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &scriptConn{r: strings.NewReader(tt.reply)}
			tunnel, err := tt.run(c)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.w.String(); got != tt.want {
				t.Errorf("client sent %q\nwant        %q", got, tt.want)
			}
			rest, _ := io.ReadAll(tunnel)
			if string(rest) != greeting {
				t.Errorf("after the handshake the tunnel reads %q, want the greeting", rest)
			}
		})
	}
}

func TestReplyTexts(t *testing.T) {
	want5 := []string{1: "general SOCKS server failure", "connection not allowed by ruleset", "network unreachable",
		"host unreachable", "connection refused by destination host", "TTL expired", "command not supported", "address type not supported"}
	for code := 1; code <= 8; code++ {
		if got := SOCKS5ReplyText(byte(code)); got != want5[code] {
			t.Errorf("SOCKS5ReplyText(%d) = %q, want %q", code, got, want5[code])
		}
	}
	if got := SOCKS5ReplyText(9); got != "unknown reply code 9" {
		t.Errorf("SOCKS5ReplyText(9) = %q", got)
	}
	for code, want := range map[byte]string{91: "request rejected or failed", 92: "identd", 93: "different user-id", 94: "unknown reply code 94"} {
		if got := SOCKS4ReplyText(code); !strings.Contains(got, want) {
			t.Errorf("SOCKS4ReplyText(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestErrorWraps(t *testing.T) {
	e := ioFail(ProtoSOCKS5, OpAuth, "authentication", io.EOF)
	if !errors.Is(e, io.ErrUnexpectedEOF) || e.Error() != "SOCKS5: proxy closed the connection during authentication: unexpected EOF" {
		t.Errorf("ioFail = %q", e)
	}
	e = &Error{Op: OpConnect, Code: 5, Msg: "SOCKS5: connection refused by destination host"}
	if e.Error() != e.Msg || e.Unwrap() != nil {
		t.Errorf("Error without cause = %q", e)
	}
}

// TestPasswordLimits: RFC 1929 lengths are one byte each.
func TestPasswordLimits(t *testing.T) {
	for _, tt := range []struct{ user, pass string }{
		{"", "p"}, {"u", ""}, {strings.Repeat("u", 256), "p"}, {"u", strings.Repeat("p", 256)},
	} {
		c := &scriptConn{r: strings.NewReader("\x05\x02")}
		err := SOCKS5Connect(c, tt.user, tt.pass, "h", 25)
		var we *Error
		if tt.user == "" {
			// No user: no authentication offered, and the proxy's choice
			// of username/password is a protocol error.
			if !errors.As(err, &we) || we.Op != OpNegotiate {
				t.Errorf("user %q: err = %v", tt.user, err)
			}
			continue
		}
		if !errors.As(err, &we) || we.Op != OpAuth || !strings.Contains(we.Msg, "1 to 255 bytes") {
			t.Errorf("user %d bytes, password %d bytes: err = %v", len(tt.user), len(tt.pass), err)
		}
	}
}
