package firewall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
)

// SOCKS4 wire values. SOCKS4 has no RFC; the protocol is described in
// "SOCKS: A protocol for TCP proxy across firewalls" (Ying-Da Lee) and
// the SOCKS4a extension in "SOCKS 4A: A Simple Extension to SOCKS 4".
const (
	socks4Version    = 0x04
	socks4CmdConnect = 0x01
	socks4Granted    = 90
)

// socks4Dialer connects through a SOCKS4 proxy, or a SOCKS4a proxy when
// remote is set. SOCKS4 carries an IPv4 address only, so it resolves the
// destination name on this host; SOCKS4a sends the name to the proxy.
// Neither can reach an IPv6 destination.
type socks4Dialer struct {
	proxy
	userID string
	remote bool
}

// DialContext connects to addr through the proxy.
func (d *socks4Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := checkNetwork(network); err != nil {
		return nil, err
	}
	if network == "tcp6" {
		return nil, fmt.Errorf("firewall: %s cannot carry IPv6 (network tcp6); use SOCKS5", d.proto)
	}
	host, port, err := splitAddr(ctx, d.resolver, addr)
	if err != nil {
		return nil, err
	}
	if ip, err := netip.ParseAddr(host); err == nil && !ip.Unmap().Is4() {
		return nil, d.fail(OpConnect, addr, 0, d.proto+": cannot carry an IPv6 destination; use SOCKS5", nil)
	}
	hosts := []string{host}
	if !d.remote {
		if hosts, err = d.resolve(ctx, network, host, addr, true); err != nil {
			return nil, err
		}
	} else if len(host) > 255 {
		return nil, fmt.Errorf("firewall: destination %q: name longer than 255 bytes", addr)
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
		// SOCKS4 replies do not say why a request failed, so only a
		// rejected request is worth trying at the next address.
		var pe *ProxyError
		if ctx.Err() != nil || !errors.As(err, &pe) || pe.Op != OpConnect || pe.Code != 91 {
			break
		}
	}
	return nil, first
}

func (d *socks4Dialer) dialVia(ctx context.Context, host string, port int, addr string) (net.Conn, error) {
	c, err := d.dialProxy(ctx, addr)
	if err != nil {
		return nil, err
	}
	err = d.handshake(ctx, c, addr, func() error {
		if err := socks4Handshake(c, d.proto, d.userID, host, port); err != nil {
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

// socks4Handshake sends a SOCKS4 CONNECT request for host (an IPv4 address,
// or for SOCKS4a also a name) and reads exactly the 8-byte reply.
func socks4Handshake(rw io.ReadWriter, proto, userID, host string, port int) error {
	req := make([]byte, 0, 10+len(userID)+len(host))
	req = append(req, socks4Version, socks4CmdConnect, byte(port>>8), byte(port))
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().Is4() {
		req = append(req, ip.Unmap().AsSlice()...)
		req = append(req, userID...)
		req = append(req, 0)
	} else {
		// SOCKS4a: the address 0.0.0.x (x non-zero) says a name follows
		// the user-id.
		req = append(req, 0, 0, 0, 1)
		req = append(req, userID...)
		req = append(req, 0)
		req = append(req, host...)
		req = append(req, 0)
	}
	if _, err := rw.Write(req); err != nil {
		return ioFail(proto, OpConnect, "connect request", err)
	}
	return readSOCKS4Reply(rw, proto)
}

// readSOCKS4Reply reads exactly the 8-byte SOCKS4 reply from r.
func readSOCKS4Reply(r io.Reader, proto string) error {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return connectEOF(proto, err)
	}
	// The reply version is 0; some proxies put 4 there.
	if b[0] != 0 && b[0] != socks4Version {
		return &ProxyError{Op: OpConnect, Msg: fmt.Sprintf("%s: proxy answered version %d: not a SOCKS4 reply", proto, b[0])}
	}
	if b[1] != socks4Granted {
		return &ProxyError{Op: OpConnect, Code: int(b[1]), Msg: proto + ": " + socks4ReplyText(b[1])}
	}
	return nil
}
