package firewall

import (
	"errors"
	"net"
	"strings"
)

// Stages of a proxy handshake, the values of ProxyError.Op.
const (
	OpDial      = "dial"      // reaching the proxy itself
	OpTLS       = "tls"       // TLS handshake with an https:// proxy
	OpResolve   = "resolve"   // resolving the destination on this host
	OpNegotiate = "negotiate" // SOCKS5 method selection
	OpAuth      = "auth"      // proxy authentication
	OpConnect   = "connect"   // asking the proxy for the destination
)

// Protocol names, the values of ProxyError.Protocol.
const (
	ProtoSOCKS4  = "SOCKS4"
	ProtoSOCKS4A = "SOCKS4a"
	ProtoSOCKS5  = "SOCKS5"
	ProtoHTTP    = "HTTP CONNECT"
)

// ErrUnknownScheme is wrapped by the error for a proxy URL whose scheme is
// none of socks4, socks4a, socks5, socks5h, http and https.
var ErrUnknownScheme = errors.New("firewall: unknown proxy scheme")

// ErrMalformed is wrapped by the error for a proxy setting that cannot be
// parsed or a Config that is not valid.
var ErrMalformed = errors.New("firewall: malformed proxy setting")

// A ProxyError reports a failure that involves the proxy: the proxy is not
// reachable, refuses, wants or rejects credentials, cannot reach the
// destination, answers something that is not its protocol or is too long,
// closes the connection early, or the context ended during the handshake.
// It never holds the proxy password.
type ProxyError struct {
	// Proxy is the proxy as a URL without credentials.
	Proxy string
	// Protocol is one of ProtoSOCKS4, ProtoSOCKS4A, ProtoSOCKS5, ProtoHTTP.
	Protocol string
	// Op is the handshake stage: OpDial, OpTLS, OpResolve, OpNegotiate,
	// OpAuth or OpConnect.
	Op string
	// Addr is the destination the caller asked for.
	Addr string
	// Code is the SOCKS reply code, the RFC 1929 status or the HTTP status
	// the proxy answered; 0 when it answered none.
	Code int
	// Msg says what happened in words, starting with the protocol name.
	Msg string
	// Err is the underlying error, if any: a network error, a TLS
	// certificate error, context.Canceled or context.DeadlineExceeded,
	// io.ErrUnexpectedEOF.
	Err error
}

// Error returns "firewall: proxy URL: stage destination: message: cause".
func (e *ProxyError) Error() string {
	var b strings.Builder
	b.WriteString("firewall: proxy ")
	b.WriteString(e.Proxy)
	if e.Op != "" {
		b.WriteString(": ")
		b.WriteString(e.Op)
		if e.Addr != "" && e.Op != OpDial && e.Op != OpTLS {
			b.WriteString(" ")
			b.WriteString(e.Addr)
		}
	}
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *ProxyError) Unwrap() error { return e.Err }

// Timeout reports whether the handshake ran out of time.
func (e *ProxyError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
