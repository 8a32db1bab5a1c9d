package firewall

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpproxy"
)

// FromEnvironment chooses how to reach the mail server at addr (host:port)
// from environment variables read through getenv (os.Getenv in a program,
// a map in a test). It returns the Config and, in words, why it chose it,
// such as
//
//	ALL_PROXY=socks5h://proxy:1080 (NO_PROXY did not match smtp.example.com)
//
// The proxy is the first of ALL_PROXY, all_proxy, https_proxy and
// HTTPS_PROXY that is set: ALL_PROXY is meant for every protocol, and a
// proxy for HTTPS is one that opens CONNECT tunnels. HTTP_PROXY is not
// used: it is meant for plain HTTP requests, which a proxy forwards
// without a tunnel. A value without a scheme ("proxy:3128") is an http://
// proxy, as in golang.org/x/net/http/httpproxy and curl. NO_PROXY (or
// no_proxy) lists hosts reached directly with the semantics of
// golang.org/x/net/http/httpproxy: "*", domain suffixes (".example.com",
// "example.com" also matches its subdomains), IP addresses and CIDR ranges,
// each optionally with a port; localhost and loopback addresses are always
// reached directly.
//
// A proxy value that does not parse or has an unknown scheme is an error
// (wrapping ErrMalformed or ErrUnknownScheme), never a silent direct
// connection. Errors and reasons never contain a password.
func FromEnvironment(getenv func(string) string, addr string) (Config, string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return Config{}, "", fmt.Errorf("firewall: destination %q is not host:port", addr)
	}
	name, value := firstEnv(getenv, "ALL_PROXY", "all_proxy", "https_proxy", "HTTPS_PROXY")
	if value == "" {
		return Config{}, "no ALL_PROXY or HTTPS_PROXY set: direct connection", nil
	}
	raw := value
	if u, err := url.Parse(value); err != nil || u.Scheme == "" || u.Host == "" {
		// httpproxy's rule: a bare host:port is an http:// proxy.
		if !strings.Contains(value, "://") {
			raw = "http://" + value
		}
	}
	c, err := ParseURL(raw)
	if err != nil {
		return Config{}, "", fmt.Errorf("%w (set in %s)", err, name)
	}
	setting := name + "=" + c.String()
	if raw != value {
		setting += " (no scheme: http assumed)"
	}
	noName, noProxy := firstEnv(getenv, "no_proxy", "NO_PROXY")
	if isLoopback(host) {
		return Config{}, fmt.Sprintf("%s is a loopback destination, never proxied: direct connection (%s ignored)", host, setting), nil
	}
	// Let httpproxy decide, so NO_PROXY means exactly what it means for
	// Go's HTTP clients; the proxy URL given to it only marks "proxied".
	pc := httpproxy.Config{HTTPSProxy: "http://proxy.invalid", NoProxy: noProxy}
	u, err := pc.ProxyFunc()(&url.URL{Scheme: "https", Host: addr})
	if err != nil {
		return Config{}, "", fmt.Errorf("firewall: %s: %v", noName, err)
	}
	if u == nil {
		return Config{}, fmt.Sprintf("%s=%s matched %s: direct connection (%s ignored)", noName, noProxy, host, setting), nil
	}
	if noProxy == "" {
		return c, setting + " (NO_PROXY unset)", nil
	}
	return c, fmt.Sprintf("%s (%s did not match %s)", setting, noName, host), nil
}

// firstEnv returns the first of names that is set, and its value.
func firstEnv(getenv func(string) string, names ...string) (string, string) {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return n, v
		}
	}
	return names[0], ""
}

// isLoopback reports whether host is localhost or a loopback address,
// which httpproxy never proxies.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
