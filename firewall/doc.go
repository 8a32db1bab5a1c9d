// Package firewall reaches a mail relay through the proxies that sit
// between many servers and the Internet: SOCKS5 (RFC 1928) with or without
// username/password authentication (RFC 1929), SOCKS4 and SOCKS4a, and HTTP
// CONNECT tunnels (RFC 9110 section 9.3.6) with Basic proxy authentication
// (RFC 7617) to an http:// or https:// proxy.
//
// Every dialer has the one method the transport needs,
// DialContext(ctx, network, addr), and wraps a forward Dialer that reaches
// the proxy itself, so dialers compose the way golang.org/x/net/proxy's do.
// Each also reports the proxy it goes through with Proxy, a URL without
// credentials ("" for a direct connection), for logs.
//
// A dialer is built with New from a Config. A Config comes from a proxy URL
// (ParseURL), from the fields an administration screen shows (type, host,
// port, user, password; see ParseType and DefaultPort), or from the
// environment (FromEnvironment), which also says in words which proxy it
// chose and why.
//
// # Name resolution
//
// SOCKS5 lets the proxy resolve the mail server's name, which is what a
// host behind a firewall usually needs: it often cannot resolve external
// names itself. That is the zero value of Config (ResolveLocally false) and
// what the admin-screen type "SOCKS5" means. In URLs the package follows
// curl: socks5h:// lets the proxy resolve, socks5:// resolves on this host
// and sends the proxy an address, so a URL in ALL_PROXY means the same to
// curl and to this package. SOCKS4 can only carry an IPv4 address: the name
// is always resolved here, and IPv6 destinations cannot be reached; prefer
// SOCKS4a or SOCKS5, which send the name. HTTP CONNECT always sends the name.
//
// # Errors
//
// Every failure that involves the proxy — it cannot be reached, its TLS
// certificate does not verify, it wants credentials or rejects them, it
// refuses the destination, it answers garbage or an oversized reply, it
// closes early, the context ends during the handshake — is a *ProxyError
// naming the proxy (never its password), the protocol and the stage, with
// the SOCKS reply code or HTTP status and a message in words. It is distinct
// from anything the mail server says. Context deadlines and cancellation
// hold through the whole proxy handshake.
//
// # TLS
//
// The returned connection is a plain byte stream to the mail server: the
// caller runs implicit TLS or STARTTLS over it unchanged and verifies the
// mail server's certificate against the mail server's name. Bytes the mail
// server sends right after the tunnel opens (its greeting) are never lost
// in a buffer. Only an https:// proxy adds a TLS layer of its own, verified
// against the proxy's name.
//
// # Timing
//
// A connection test can see where the time went: WithTrace puts a Trace in
// the context, and the dialers report how long reaching the proxy and
// opening the tunnel took.
//
// The SOCKS and HTTP handshakes themselves are written here rather than
// taken from golang.org/x/net/proxy: its SOCKS5 client reports a refusal as
// an untyped error string, has no local-resolution mode, and x/net has no
// SOCKS4 or HTTP CONNECT client.
//
// Out of scope: SOCKS BIND and UDP ASSOCIATE, SOCKS5 GSSAPI authentication,
// HTTP proxy authentication schemes other than Basic (NTLM, Negotiate,
// Digest), PAC files and WPAD.
package firewall
