package firewall

import (
	"context"
	"net"
	"strconv"

	"mailwarden/firewall/internal/wire"
)

// httpDialer opens an HTTP CONNECT tunnel (RFC 9110 section 9.3.6) through
// an http:// proxy, or an https:// proxy when proxy.tls is set, with Basic proxy
// authentication (RFC 7617) when it has a user name.
type httpDialer struct {
	proxy
	user     string
	password Secret
}

// DialContext connects to addr through the proxy.
func (d *httpDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := checkNetwork(network); err != nil {
		return nil, err
	}
	host, port, err := splitAddr(ctx, d.resolver, addr)
	if err != nil {
		return nil, err
	}
	target := net.JoinHostPort(host, strconv.Itoa(port))
	c, err := d.dialProxy(ctx, addr)
	if err != nil {
		return nil, err
	}
	var conn net.Conn
	err = d.handshake(ctx, c, addr, func() error {
		var err error
		conn, err = wire.HTTPConnect(c, target, d.user, d.password.Reveal(), d.user != "" || d.password != "")
		return d.own(err, addr)
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	return conn, nil
}
