package firewall

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"mailwarden/firewall/internal/wire"
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
		return nil, d.fail(OpConnect, addr, 0, d.proto+": cannot carry IPv6 (network tcp6); use SOCKS5", nil)
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
	// SOCKS4 replies do not say why a request failed, so only a rejected
	// request (91) is worth trying at the next address.
	return dialEach(ctx, hosts, func(h string) (net.Conn, error) { return d.dialVia(ctx, h, port, addr) },
		func(code int) bool { return code == 91 })
}

func (d *socks4Dialer) dialVia(ctx context.Context, host string, port int, addr string) (net.Conn, error) {
	c, err := d.dialProxy(ctx, addr)
	if err != nil {
		return nil, err
	}
	err = d.handshake(ctx, c, addr, func() error {
		if err := wire.SOCKS4Connect(c, d.proto, d.userID, host, port); err != nil {
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
