package wire

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
)

// SOCKS5 wire values (RFC 1928, RFC 1929).
const (
	socks5Version      = 0x05
	socks5AuthNone     = 0x00
	socks5AuthPassword = 0x02
	socks5AuthNoAccept = 0xff
	socks5CmdConnect   = 0x01
	socks5AtypIPv4     = 0x01
	socks5AtypDomain   = 0x03
	socks5AtypIPv6     = 0x04
	socks5PasswordVer  = 0x01
	socks5Succeeded    = 0x00
)

// SOCKS5Connect runs the SOCKS5 method negotiation, the optional RFC 1929
// authentication and the CONNECT request on rw. It reads exactly the
// proxy's replies, so bytes the destination sends afterwards stay unread.
// Errors are *Error.
func SOCKS5Connect(rw io.ReadWriter, user, password, host string, port int) error {
	const P = ProtoSOCKS5
	auth := user != ""
	greeting := []byte{socks5Version, 1, socks5AuthNone}
	if auth {
		greeting = []byte{socks5Version, 2, socks5AuthNone, socks5AuthPassword}
	}
	if _, err := rw.Write(greeting); err != nil {
		return ioFail(P, OpNegotiate, "method negotiation", err)
	}
	var b [2]byte
	if _, err := io.ReadFull(rw, b[:]); err != nil {
		return ioFail(P, OpNegotiate, "method negotiation", err)
	}
	if b[0] != socks5Version {
		return &Error{Op: OpNegotiate, Msg: fmt.Sprintf("%s: proxy answered version %d, not 5: not a SOCKS5 proxy", P, b[0])}
	}
	switch b[1] {
	case socks5AuthNone:
	case socks5AuthPassword:
		if !auth {
			return &Error{Op: OpNegotiate, Code: int(b[1]), Msg: P + ": proxy chose username/password authentication, which was not offered"}
		}
		if err := socks5Password(rw, user, password); err != nil {
			return err
		}
	case socks5AuthNoAccept:
		msg := P + ": proxy requires authentication; configure a user name and password"
		if auth {
			msg = P + ": proxy accepts none of the offered authentication methods (none, username/password)"
		}
		return &Error{Op: OpNegotiate, Code: int(b[1]), Msg: msg}
	default:
		return &Error{Op: OpNegotiate, Code: int(b[1]), Msg: fmt.Sprintf("%s: proxy chose authentication method %#02x, which was not offered", P, b[1])}
	}

	req := make([]byte, 0, 7+len(host))
	req = append(req, socks5Version, socks5CmdConnect, 0)
	if ip, err := netip.ParseAddr(host); err == nil && ip.Zone() == "" {
		ip = ip.Unmap()
		if ip.Is4() {
			req = append(req, socks5AtypIPv4)
		} else {
			req = append(req, socks5AtypIPv6)
		}
		req = append(req, ip.AsSlice()...)
	} else {
		if len(host) > 255 {
			return &Error{Op: OpConnect, Msg: P + ": destination name longer than 255 bytes"}
		}
		req = append(req, socks5AtypDomain, byte(len(host)))
		req = append(req, host...)
	}
	req = append(req, byte(port>>8), byte(port))
	if _, err := rw.Write(req); err != nil {
		return ioFail(P, OpConnect, "connect request", err)
	}
	_, err := ReadSOCKS5Reply(rw)
	return err
}

// socks5Password runs RFC 1929 username/password authentication.
func socks5Password(rw io.ReadWriter, user, password string) error {
	const P = ProtoSOCKS5
	if len(user) == 0 || len(user) > 255 || len(password) == 0 || len(password) > 255 {
		return &Error{Op: OpAuth, Msg: P + ": user name and password must be 1 to 255 bytes (RFC 1929)"}
	}
	b := make([]byte, 0, 3+len(user)+len(password))
	b = append(b, socks5PasswordVer, byte(len(user)))
	b = append(b, user...)
	b = append(b, byte(len(password)))
	b = append(b, password...)
	_, err := rw.Write(b)
	clear(b)
	if err != nil {
		return ioFail(P, OpAuth, "authentication", err)
	}
	var r [2]byte
	if _, err := io.ReadFull(rw, r[:]); err != nil {
		return ioFail(P, OpAuth, "authentication", err)
	}
	// RFC 1929 says version 1; some proxies echo 5. Anything else is not
	// an answer to this request.
	if r[0] != socks5PasswordVer && r[0] != socks5Version {
		return &Error{Op: OpAuth, Msg: fmt.Sprintf("%s: proxy answered authentication with version %d: not a SOCKS5 proxy", P, r[0])}
	}
	if r[1] != 0 {
		return &Error{Op: OpAuth, Code: int(r[1]), Msg: P + ": proxy rejected the user name or password"}
	}
	return nil
}

// SOCKS5Bound is the address a SOCKS5 proxy reports it bound.
type SOCKS5Bound struct {
	Host string // an IP address or, from some proxies, a domain name
	Port int
}

func (b SOCKS5Bound) String() string { return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) }

// ReadSOCKS5Reply reads exactly one SOCKS5 reply from r. The bound address
// may be IPv4, IPv6 or a domain name (some proxies send one). A reply
// other than "succeeded" is a *Error with the reply code in words.
func ReadSOCKS5Reply(r io.Reader) (SOCKS5Bound, error) {
	const P = ProtoSOCKS5
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return SOCKS5Bound{}, connectEOF(P, err)
	}
	if h[0] != socks5Version {
		return SOCKS5Bound{}, &Error{Op: OpConnect, Msg: fmt.Sprintf("%s: proxy answered version %d, not 5: not a SOCKS5 reply", P, h[0])}
	}
	if h[1] != socks5Succeeded {
		return SOCKS5Bound{}, &Error{Op: OpConnect, Code: int(h[1]), Msg: P + ": " + SOCKS5ReplyText(h[1])}
	}
	var n int
	switch h[3] {
	case socks5AtypIPv4:
		n = 4
	case socks5AtypIPv6:
		n = 16
	case socks5AtypDomain:
		var l [1]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return SOCKS5Bound{}, ioFail(P, OpConnect, "connect reply", err)
		}
		n = int(l[0])
	default:
		return SOCKS5Bound{}, &Error{Op: OpConnect, Msg: fmt.Sprintf("%s: proxy replied with unknown address type %d", P, h[3])}
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(r, b); err != nil {
		return SOCKS5Bound{}, ioFail(P, OpConnect, "connect reply", err)
	}
	var bound SOCKS5Bound
	bound.Port = int(b[n])<<8 | int(b[n+1])
	if h[3] == socks5AtypDomain {
		bound.Host = string(b[:n])
	} else {
		ip, _ := netip.AddrFromSlice(b[:n])
		bound.Host = ip.String()
	}
	return bound, nil
}
