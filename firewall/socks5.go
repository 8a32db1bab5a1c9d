package firewall

import (
	"context"
	"errors"
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

// socks5Dialer connects through a SOCKS5 proxy (RFC 1928), authenticating
// with a user name and password (RFC 1929) when it has them.
type socks5Dialer struct {
	proxy
	user     string
	password Secret
	local    bool
}

// DialContext connects to addr through the proxy. With local resolution it
// tries each address of the name in turn while the proxy reports it
// unreachable or refused.
func (d *socks5Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := checkNetwork(network); err != nil {
		return nil, err
	}
	host, port, err := splitAddr(ctx, d.resolver, addr)
	if err != nil {
		return nil, err
	}
	if len(host) > 255 {
		return nil, fmt.Errorf("firewall: destination %q: name longer than 255 bytes", addr)
	}
	hosts := []string{host}
	if d.local {
		if hosts, err = d.resolve(ctx, network, host, addr, false); err != nil {
			return nil, err
		}
	}
	var first error
	for _, h := range hosts {
		c, err := d.dialVia(ctx, h, port, addr)
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		var pe *ProxyError
		if ctx.Err() != nil || !errors.As(err, &pe) || pe.Op != OpConnect || pe.Code < 3 || pe.Code > 6 {
			break
		}
	}
	return nil, first
}

func (d *socks5Dialer) dialVia(ctx context.Context, host string, port int, addr string) (net.Conn, error) {
	c, err := d.dialProxy(ctx, addr)
	if err != nil {
		return nil, err
	}
	err = d.handshake(ctx, c, addr, func() error {
		if err := socks5Handshake(c, d.user, d.password.Reveal(), host, port); err != nil {
			return d.own(err, addr)
		}
		return nil
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// socks5Handshake runs the SOCKS5 method negotiation, the optional RFC 1929
// authentication and the CONNECT request on rw. It reads exactly the
// proxy's replies, so bytes the destination sends afterwards stay unread.
// Errors are *ProxyError without Proxy, Protocol and Addr.
func socks5Handshake(rw io.ReadWriter, user, password, host string, port int) error {
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
		return &ProxyError{Op: OpNegotiate, Msg: fmt.Sprintf("%s: proxy answered version %d, not 5: not a SOCKS5 proxy", P, b[0])}
	}
	switch b[1] {
	case socks5AuthNone:
	case socks5AuthPassword:
		if !auth {
			return &ProxyError{Op: OpNegotiate, Code: int(b[1]), Msg: P + ": proxy chose username/password authentication, which was not offered"}
		}
		if err := socks5Password(rw, user, password); err != nil {
			return err
		}
	case socks5AuthNoAccept:
		msg := P + ": proxy requires authentication; configure a user name and password"
		if auth {
			msg = P + ": proxy accepts none of the offered authentication methods (none, username/password)"
		}
		return &ProxyError{Op: OpNegotiate, Code: int(b[1]), Msg: msg}
	default:
		return &ProxyError{Op: OpNegotiate, Code: int(b[1]), Msg: fmt.Sprintf("%s: proxy chose authentication method %#02x, which was not offered", P, b[1])}
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
			return &ProxyError{Op: OpConnect, Msg: P + ": destination name longer than 255 bytes"}
		}
		req = append(req, socks5AtypDomain, byte(len(host)))
		req = append(req, host...)
	}
	req = append(req, byte(port>>8), byte(port))
	if _, err := rw.Write(req); err != nil {
		return ioFail(P, OpConnect, "connect request", err)
	}
	_, err := readSOCKS5Reply(rw)
	return err
}

// socks5Password runs RFC 1929 username/password authentication.
func socks5Password(rw io.ReadWriter, user, password string) error {
	const P = ProtoSOCKS5
	if len(user) == 0 || len(user) > 255 || len(password) == 0 || len(password) > 255 {
		return &ProxyError{Op: OpAuth, Msg: P + ": user name and password must be 1 to 255 bytes (RFC 1929)"}
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
		return &ProxyError{Op: OpAuth, Msg: fmt.Sprintf("%s: proxy answered authentication with version %d: not a SOCKS5 proxy", P, r[0])}
	}
	if r[1] != 0 {
		return &ProxyError{Op: OpAuth, Code: int(r[1]), Msg: P + ": proxy rejected the user name or password"}
	}
	return nil
}

// socks5Bound is the address a SOCKS5 proxy reports it bound.
type socks5Bound struct {
	Host string // an IP address or, from some proxies, a domain name
	Port int
}

func (b socks5Bound) String() string { return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) }

// readSOCKS5Reply reads exactly one SOCKS5 reply from r. The bound address
// may be IPv4, IPv6 or a domain name (some proxies send one). A reply
// other than "succeeded" is a *ProxyError with the reply code in words.
func readSOCKS5Reply(r io.Reader) (socks5Bound, error) {
	const P = ProtoSOCKS5
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return socks5Bound{}, connectEOF(P, err)
	}
	if h[0] != socks5Version {
		return socks5Bound{}, &ProxyError{Op: OpConnect, Msg: fmt.Sprintf("%s: proxy answered version %d, not 5: not a SOCKS5 reply", P, h[0])}
	}
	if h[1] != socks5Succeeded {
		return socks5Bound{}, &ProxyError{Op: OpConnect, Code: int(h[1]), Msg: P + ": " + socks5ReplyText(h[1])}
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
			return socks5Bound{}, ioFail(P, OpConnect, "connect reply", err)
		}
		n = int(l[0])
	default:
		return socks5Bound{}, &ProxyError{Op: OpConnect, Msg: fmt.Sprintf("%s: proxy replied with unknown address type %d", P, h[3])}
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(r, b); err != nil {
		return socks5Bound{}, ioFail(P, OpConnect, "connect reply", err)
	}
	var bound socks5Bound
	bound.Port = int(b[n])<<8 | int(b[n+1])
	if h[3] == socks5AtypDomain {
		bound.Host = string(b[:n])
	} else {
		ip, _ := netip.AddrFromSlice(b[:n])
		bound.Host = ip.String()
	}
	return bound, nil
}
