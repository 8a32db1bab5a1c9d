package firewall

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// A Dialer makes connections: a net.Dialer, or a proxy dialer from New.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

var _ Dialer = (*net.Dialer)(nil)

// A ProxyDialer is a Dialer that reports the proxy it goes through. Proxy
// returns the proxy as a URL without credentials, such as
// "socks5h://127.0.0.1:1080", or "" for a direct connection.
type ProxyDialer interface {
	Dialer
	Proxy() string
}

// Type is the kind of proxy, as administration screens offer it.
type Type int

// Proxy types. TypeNone, the zero value, connects directly.
const (
	TypeNone    Type = iota // direct connection
	TypeHTTP                // HTTP CONNECT tunnel to an http:// proxy ("Tunnel")
	TypeHTTPS               // HTTP CONNECT tunnel to an https:// proxy
	TypeSOCKS4              // SOCKS4: IPv4 only, name resolved on this host
	TypeSOCKS4A             // SOCKS4a: the proxy resolves the name
	TypeSOCKS5              // SOCKS5: the proxy resolves the name unless ResolveLocally
)

var typeNames = [...]string{"none", "http", "https", "socks4", "socks4a", "socks5"}

// String returns the lower-case name of t: "none", "http", "https",
// "socks4", "socks4a" or "socks5".
func (t Type) String() string {
	if t < 0 || int(t) >= len(typeNames) {
		return "Type(" + strconv.Itoa(int(t)) + ")"
	}
	return typeNames[t]
}

// ParseType parses a proxy type as an administration screen or a command
// line names it, ignoring case: "none", "direct" or "" for TypeNone,
// "tunnel" or "http" for TypeHTTP, "https", "socks4", "socks4a", and
// "socks5" or "socks5h" for TypeSOCKS5. An unknown name is an error
// wrapping ErrUnknownScheme.
func ParseType(s string) (Type, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none", "direct":
		return TypeNone, nil
	case "tunnel", "http":
		return TypeHTTP, nil
	case "https":
		return TypeHTTPS, nil
	case "socks4":
		return TypeSOCKS4, nil
	case "socks4a":
		return TypeSOCKS4A, nil
	case "socks5", "socks5h":
		return TypeSOCKS5, nil
	}
	return TypeNone, fmt.Errorf("%w %q (want none, tunnel, http, https, socks4, socks4a or socks5)", ErrUnknownScheme, s)
}

// DefaultPort returns the port a proxy of type t listens on when none is
// given: 1080 for SOCKS, 80 for http:// and 443 for https:// proxies (what
// a URL without a port means), 0 for TypeNone.
func DefaultPort(t Type) int {
	switch t {
	case TypeHTTP:
		return 80
	case TypeHTTPS:
		return 443
	case TypeSOCKS4, TypeSOCKS4A, TypeSOCKS5:
		return 1080
	}
	return 0
}

// Config says how to reach the mail server: directly or through one proxy.
// The zero value connects directly. A Config is a plain value; New
// validates it and copies what it needs.
type Config struct {
	Type Type
	// Host is the proxy's host name or IP address (an IPv6 address
	// without brackets).
	Host string
	// Port is the proxy's port; 0 means DefaultPort(Type).
	Port int
	// User is the SOCKS5 or HTTP proxy user name, or the SOCKS4 user-id
	// field. Empty means no authentication.
	User string
	// Password is the SOCKS5 or HTTP proxy password. SOCKS4 has none.
	Password Secret
	// ResolveLocally makes a SOCKS5 dialer resolve the destination name on
	// this host and send the proxy an address, as the socks5:// URL
	// scheme means in curl. By default the proxy resolves it (socks5h://).
	ResolveLocally bool
	// TLSConfig is used for the TLS connection to an https:// proxy. It is
	// cloned; a nil TLSConfig is equivalent to a zero tls.Config. An empty
	// ServerName is set to Host, so the proxy's certificate is verified
	// against the proxy's name. Ignored for other types.
	TLSConfig *tls.Config
	// Resolver resolves destination names on this host when the protocol
	// needs it (SOCKS4, SOCKS5 with ResolveLocally). Nil means
	// net.DefaultResolver.
	Resolver *net.Resolver
}

// port returns the configured or default port.
func (c Config) port() int {
	if c.Port == 0 {
		return DefaultPort(c.Type)
	}
	return c.Port
}

// scheme returns the URL scheme for c.
func (c Config) scheme() string {
	if c.Type == TypeSOCKS5 && !c.ResolveLocally {
		return "socks5h"
	}
	return c.Type.String()
}

// String returns the proxy as a URL without credentials, such as
// "socks5h://proxy.example.com:1080", or "direct" for TypeNone.
func (c Config) String() string {
	if c.Type == TypeNone {
		return "direct"
	}
	return c.scheme() + "://" + net.JoinHostPort(c.Host, strconv.Itoa(c.port()))
}

// Validate reports whether c can be used, as an error wrapping ErrMalformed
// or ErrUnknownScheme. The error never contains the password.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if c.Type < TypeNone || c.Type > TypeSOCKS5 {
		return fmt.Errorf("%w: %v", ErrUnknownScheme, c.Type)
	}
	if c.Type == TypeNone {
		if c.Host != "" || c.User != "" || c.Password != "" {
			return bad("proxy type none with a host or credentials")
		}
		return nil
	}
	if c.Host == "" {
		return bad("%v proxy without a host", c.Type)
	}
	if strings.HasPrefix(c.Host, "[") && strings.HasSuffix(c.Host, "]") {
		return bad("proxy host %q: give an IPv6 address without brackets", c.Host)
	}
	if strings.ContainsAny(c.Host, " \t\r\n\x00/@?#") {
		return bad("proxy host %q contains a character not allowed in a host name", c.Host)
	}
	if c.Port < 0 || c.Port > 65535 {
		return bad("proxy port %d out of range", c.Port)
	}
	if strings.ContainsAny(c.User, "\r\n\x00") {
		return bad("proxy user contains a control character")
	}
	if strings.ContainsAny(string(c.Password), "\x00") {
		return bad("proxy password contains a NUL byte")
	}
	switch c.Type {
	case TypeSOCKS4, TypeSOCKS4A:
		if c.Password != "" {
			return bad("%v has no password, only a user-id; use SOCKS5 for user name and password", c.Type)
		}
		if len(c.User) > 255 {
			return bad("%v user-id longer than 255 bytes", c.Type)
		}
	case TypeSOCKS5:
		if len(c.User) > 255 || len(c.Password) > 255 {
			return bad("SOCKS5 user name and password are at most 255 bytes each (RFC 1929)")
		}
		if c.User == "" && c.Password != "" {
			return bad("SOCKS5 password without a user name")
		}
		if c.User != "" && c.Password == "" {
			return bad("SOCKS5 user name without a password (RFC 1929 needs both)")
		}
	case TypeHTTP, TypeHTTPS:
		if strings.Contains(c.User, ":") {
			return bad("HTTP proxy user name contains ':' (RFC 7617 forbids it)")
		}
	}
	return nil
}

// ParseURL parses a proxy URL: socks5://, socks5h://, socks4://,
// socks4a://, http:// or https://, with optional percent-encoded
// user:password@ and port (DefaultPort when absent). socks5:// resolves
// the destination on this host and socks5h:// lets the proxy resolve it,
// as in curl. An unknown scheme is an error wrapping ErrUnknownScheme; a
// malformed URL one wrapping ErrMalformed. Errors never show the password.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included: keep only
		// its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Config{}, fmt.Errorf("%w: proxy URL %q: %v", ErrMalformed, redactURL(raw), err)
	}
	var c Config
	switch strings.ToLower(u.Scheme) {
	case "socks5":
		c.Type, c.ResolveLocally = TypeSOCKS5, true
	case "socks5h":
		c.Type = TypeSOCKS5
	case "socks4":
		c.Type = TypeSOCKS4
	case "socks4a":
		c.Type = TypeSOCKS4A
	case "http":
		c.Type = TypeHTTP
	case "https":
		c.Type = TypeHTTPS
	case "":
		return Config{}, fmt.Errorf("%w: proxy URL %q has no scheme (want socks5h://, socks5://, socks4a://, socks4://, http:// or https://)", ErrMalformed, redactURL(raw))
	default:
		return Config{}, fmt.Errorf("%w %q in proxy URL %q", ErrUnknownScheme, u.Scheme, redactURL(raw))
	}
	if u.Opaque != "" || u.Host == "" {
		return Config{}, fmt.Errorf("%w: proxy URL %q has no host (want scheme://host:port)", ErrMalformed, redactURL(raw))
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return Config{}, fmt.Errorf("%w: proxy URL %q has a path, query or fragment", ErrMalformed, redactURL(raw))
	}
	c.Host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, fmt.Errorf("%w: proxy URL %q: port %q out of range", ErrMalformed, redactURL(raw), p)
		}
		c.Port = n
	}
	if u.User != nil {
		c.User = u.User.Username()
		if p, ok := u.User.Password(); ok {
			c.Password = Secret(p)
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// redactURL hides the user information of a proxy URL, which may hold a
// password, even when the URL does not parse.
func redactURL(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 && i < at {
		start = i + 3
	}
	return raw[:start] + redacted + raw[at:]
}

// New returns a dialer that connects as c says, reaching the proxy (or,
// for TypeNone, the destination) through forward. A nil forward is a zero
// net.Dialer. An invalid Config is an error wrapping ErrMalformed or
// ErrUnknownScheme. The dialer keeps its own copy of what it needs from c
// and is safe for concurrent use.
//
// Its DialContext accepts the networks "tcp", "tcp4" and "tcp6" and a
// destination "host:port"; every failure that involves the proxy is a
// *ProxyError. The returned connection carries the bytes to and from the
// destination only.
func New(c Config, forward Dialer) (ProxyDialer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if forward == nil {
		forward = &net.Dialer{}
	}
	resolver := c.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	p := proxy{
		forward:  forward,
		addr:     net.JoinHostPort(c.Host, strconv.Itoa(c.port())),
		url:      c.String(),
		resolver: resolver,
	}
	switch c.Type {
	case TypeNone:
		return direct{forward}, nil
	case TypeSOCKS5:
		p.proto = ProtoSOCKS5
		return &socks5Dialer{proxy: p, user: c.User, password: c.Password, local: c.ResolveLocally}, nil
	case TypeSOCKS4, TypeSOCKS4A:
		p.proto = ProtoSOCKS4
		if c.Type == TypeSOCKS4A {
			p.proto = ProtoSOCKS4A
		}
		return &socks4Dialer{proxy: p, userID: c.User, remote: c.Type == TypeSOCKS4A}, nil
	case TypeHTTP, TypeHTTPS:
		p.proto = ProtoHTTP
		d := &httpDialer{proxy: p, user: c.User, password: c.Password}
		if c.Type == TypeHTTPS {
			if c.TLSConfig != nil {
				d.proxy.tls = c.TLSConfig.Clone()
			} else {
				d.proxy.tls = &tls.Config{}
			}
			if d.proxy.tls.ServerName == "" {
				d.proxy.tls.ServerName = c.Host
			}
		}
		return d, nil
	}
	return nil, fmt.Errorf("%w: %v", ErrUnknownScheme, c.Type)
}

// direct connects without a proxy.
type direct struct{ forward Dialer }

func (d direct) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.forward.DialContext(ctx, network, addr)
}

// Proxy returns "": there is none.
func (direct) Proxy() string { return "" }
