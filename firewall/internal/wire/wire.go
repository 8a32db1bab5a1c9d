// Package wire speaks the client side of the proxy protocols on an
// established connection: SOCKS5 (RFC 1928) with username/password
// authentication (RFC 1929), SOCKS4 and SOCKS4a, and HTTP/1.1 CONNECT
// (RFC 9110 section 9.3.6) with Basic authentication (RFC 7617). It reads
// exactly the proxy's replies, so nothing the destination sends afterwards
// is lost. Package firewall wraps it with dialing, deadlines and errors
// that name the proxy.
package wire

import (
	"errors"
	"io"
	"strconv"
)

// Handshake stages, the values of Error.Op; the same strings as the
// firewall package's Op constants.
const (
	OpDial      = "dial"
	OpTLS       = "tls"
	OpResolve   = "resolve"
	OpNegotiate = "negotiate"
	OpAuth      = "auth"
	OpConnect   = "connect"
)

// Protocol names, which start every Error.Msg.
const (
	ProtoSOCKS4  = "SOCKS4"
	ProtoSOCKS4A = "SOCKS4a"
	ProtoSOCKS5  = "SOCKS5"
	ProtoHTTP    = "HTTP CONNECT"
)

// Error is a failed handshake: the stage, the reply code or status (0 if
// none), what happened in words, and the underlying error if any.
type Error struct {
	Op   string
	Code int
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// connectEOF describes a failure to read the first byte of a connect
// reply. Some proxies (OpenSSH's dynamic forwarding among them) close the
// connection without a reply when they cannot reach the destination.
func connectEOF(proto string, err error) *Error {
	if err == io.EOF {
		return &Error{Op: OpConnect, Msg: proto + ": proxy closed the connection instead of answering the connect request (the destination may be unreachable from the proxy)", Err: io.ErrUnexpectedEOF}
	}
	return ioFail(proto, OpConnect, "connect reply", err)
}

// ioFail describes an I/O failure during a handshake stage.
func ioFail(proto, op, what string, err error) *Error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Op: op, Msg: proto + ": proxy closed the connection during " + what, Err: io.ErrUnexpectedEOF}
	}
	return &Error{Op: op, Msg: proto + ": " + what + " failed", Err: err}
}

// SOCKS5ReplyText turns a SOCKS5 reply code into words (RFC 1928 section 6).
func SOCKS5ReplyText(code byte) string {
	switch code {
	case 0x01:
		return "general SOCKS server failure"
	case 0x02:
		return "connection not allowed by ruleset"
	case 0x03:
		return "network unreachable"
	case 0x04:
		return "host unreachable"
	case 0x05:
		return "connection refused by destination host"
	case 0x06:
		return "TTL expired"
	case 0x07:
		return "command not supported"
	case 0x08:
		return "address type not supported"
	}
	return "unknown reply code " + strconv.Itoa(int(code))
}

// SOCKS4ReplyText turns a SOCKS4 reply code into words.
func SOCKS4ReplyText(code byte) string {
	switch code {
	case 91:
		return "request rejected or failed"
	case 92:
		return "request rejected: the proxy cannot reach identd on this host"
	case 93:
		return "request rejected: identd reports a different user-id"
	}
	return "unknown reply code " + strconv.Itoa(int(code))
}
