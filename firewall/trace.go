package firewall

import (
	"context"
	"time"
)

// Trace receives the timing of the proxy hop of a DialContext call, for a
// connection test that shows where the time went. Either func may be nil.
// They are called on the dialing goroutine, once per connection to the
// proxy (a SOCKS5 or SOCKS4 dialer that resolves locally may make more than
// one). A direct dialer calls neither.
type Trace struct {
	// ProxyConnected is called when the connection to the proxy (with
	// TLS for an https:// proxy) is open or has failed.
	ProxyConnected func(proxy string, elapsed time.Duration, err error)
	// TunnelOpened is called when the proxy handshake for the
	// destination addr has ended, successfully when err is nil.
	TunnelOpened func(proxy, addr string, elapsed time.Duration, err error)
}

type traceKey struct{}

// WithTrace returns a context whose proxy dials report to t.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

func traceFrom(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}
