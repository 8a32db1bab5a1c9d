package firewall

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"mailwarden/firewall/internal/wire"
)

// proxy holds what every proxy dialer shares.
type proxy struct {
	forward  Dialer
	addr     string // host:port of the proxy
	url      string // the proxy URL without credentials
	proto    string
	resolver *net.Resolver
	tls      *tls.Config // for an https:// proxy; nil otherwise
}

// Proxy returns the proxy URL without credentials.
func (p *proxy) Proxy() string { return p.url }

// fail returns a *ProxyError for this proxy.
func (p *proxy) fail(op, addr string, code int, msg string, err error) *ProxyError {
	return &ProxyError{Proxy: p.url, Protocol: p.proto, Op: op, Addr: addr, Code: code, Msg: msg, Err: err}
}

// dialProxy connects to the proxy itself, with TLS for an https:// proxy.
func (p *proxy) dialProxy(ctx context.Context, addr string) (c net.Conn, err error) {
	if t := traceFrom(ctx); t != nil && t.ProxyConnected != nil {
		start := time.Now()
		defer func() { t.ProxyConnected(p.url, time.Since(start), err) }()
	}
	c, err = p.forward.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, p.fail(OpDial, addr, 0, p.proto+": cannot reach the proxy", err)
	}
	if p.tls != nil {
		tc := tls.Client(c, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, p.fail(OpTLS, addr, 0, p.proto+": TLS handshake with the https proxy failed", err)
		}
		c = tc
	}
	return c, nil
}

// checkNetwork accepts the stream networks a proxy can carry.
func checkNetwork(network string) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return nil
	}
	return fmt.Errorf("firewall: network %q cannot go through a proxy (only tcp)", network)
}

// splitAddr splits a destination host:port and checks that it can be put
// into a proxy request.
func splitAddr(ctx context.Context, r *net.Resolver, addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("firewall: destination %q: %w", addr, err)
	}
	if host == "" {
		return "", 0, fmt.Errorf("firewall: destination %q has no host", addr)
	}
	// A host name (ASCII; an internationalized name in its xn-- form) or
	// an IP address: nothing that could change the meaning of a proxy
	// request.
	for i := 0; i < len(host); i++ {
		switch b := host[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '-', b == '_', b == ':', b == '%':
		case b < ' ' || b == 0x7f:
			return "", 0, fmt.Errorf("firewall: destination %q: control character in host", addr)
		default:
			return "", 0, fmt.Errorf("firewall: destination %q: character %q not allowed in a host name", addr, b)
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		if n, err = r.LookupPort(ctx, "tcp", port); err != nil {
			return "", 0, fmt.Errorf("firewall: destination %q: %w", addr, err)
		}
	}
	if n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("firewall: destination %q: port out of range", addr)
	}
	return host, n, nil
}

var aLongTimeAgo = time.Unix(1, 0)

// handshake runs fn with c's deadline set from ctx, and interrupts it when
// ctx ends; it clears the deadline afterwards. When the context ends during
// the handshake the error is a *ProxyError whose Err is ctx.Err()
// (context.Canceled or context.DeadlineExceeded).
func (p *proxy) handshake(ctx context.Context, c net.Conn, addr string, fn func() error) (err error) {
	if t := traceFrom(ctx); t != nil && t.TunnelOpened != nil {
		start := time.Now()
		defer func() { t.TunnelOpened(p.url, addr, time.Since(start), err) }()
	}
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		c.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(aLongTimeAgo) })
	err = fn()
	if !stop() {
		// The context ended; its func has set or is setting a past
		// deadline, so the connection is unusable either way.
		if err == nil {
			err = p.fail(OpConnect, addr, 0, "", nil)
		}
		return ctxError(ctx, err)
	}
	if err != nil {
		if hasDeadline && isTimeout(err) && !time.Now().Before(deadline) {
			err = ctxError(ctx, err)
		}
		return err
	}
	c.SetDeadline(time.Time{})
	return nil
}

// ctxError replaces the I/O cause of a *ProxyError by the context's error.
func ctxError(ctx context.Context, err error) error {
	cause := ctx.Err()
	if cause == nil {
		cause = context.DeadlineExceeded
	}
	var pe *ProxyError
	if errors.As(err, &pe) {
		pe.Msg = pe.Protocol + ": handshake with the proxy did not finish in time"
		if errors.Is(cause, context.Canceled) {
			pe.Msg = pe.Protocol + ": handshake with the proxy interrupted"
		}
		pe.Code = 0
		pe.Err = cause
		return pe
	}
	return cause
}

// resolve looks host up on this host and returns its addresses as
// strings, IPv4 only when ipv4Only, matching the network otherwise.
func (p *proxy) resolve(ctx context.Context, network, host, addr string, ipv4Only bool) ([]string, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []string{ip.Unmap().String()}, nil
	}
	ips, err := p.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, p.fail(OpResolve, addr, 0, p.proto+": cannot resolve the destination on this host", err)
	}
	var out []string
	for _, ip := range ips {
		ip = ip.Unmap()
		if (ip.Is4() && network != "tcp6" || ip.Is6() && network != "tcp4" && !ipv4Only) && !ip.IsUnspecified() {
			out = append(out, ip.String())
		}
	}
	if len(out) == 0 {
		msg := p.proto + ": the destination has no usable address"
		if ipv4Only {
			msg = p.proto + ": the destination has no IPv4 address (SOCKS4 carries IPv4 only; use socks4a or socks5)"
		}
		return nil, p.fail(OpResolve, addr, 0, msg, nil)
	}
	return out, nil
}

// own turns an error from package wire into a *ProxyError for this proxy
// and destination.
func (p *proxy) own(err error, addr string) error {
	if err == nil {
		return nil
	}
	var we *wire.Error
	if errors.As(err, &we) {
		return p.fail(we.Op, addr, we.Code, we.Msg, we.Err)
	}
	return p.fail(OpConnect, addr, 0, p.proto+": handshake failed", err)
}

// dialEach dials through the proxy to each locally resolved address in
// turn, moving on only while the proxy's refusal of CONNECT (its reply
// code) is one retryable says concerns that address. It returns the first
// error.
func dialEach(ctx context.Context, hosts []string, dial func(host string) (net.Conn, error), retryable func(code int) bool) (net.Conn, error) {
	var first error
	for _, h := range hosts {
		c, err := dial(h)
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		var pe *ProxyError
		if ctx.Err() != nil || !errors.As(err, &pe) || pe.Op != OpConnect || !retryable(pe.Code) {
			break
		}
	}
	return nil, first
}
