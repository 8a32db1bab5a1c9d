package firewall

import (
	"context"
	"fmt"
	"net"

	"mailwarden/firewall/internal/wire"
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
	// Network unreachable, host unreachable, connection refused and TTL
	// expired (3 to 6) are about one address: try the next.
	return dialEach(ctx, hosts, func(h string) (net.Conn, error) { return d.dialVia(ctx, h, port, addr) },
		func(code int) bool { return code >= 3 && code <= 6 })
}

func (d *socks5Dialer) dialVia(ctx context.Context, host string, port int, addr string) (net.Conn, error) {
	c, err := d.dialProxy(ctx, addr)
	if err != nil {
		return nil, err
	}
	err = d.handshake(ctx, c, addr, func() error {
		if err := wire.SOCKS5Connect(c, d.user, d.password.Reveal(), host, port); err != nil {
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
