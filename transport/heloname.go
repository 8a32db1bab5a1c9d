package transport

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// hostFQDN is this host's fully qualified domain name: os.Hostname when it
// has a dot, else the canonical name the resolver gives for it (as
// `hostname -f` does), or "" when neither is a fully qualified name. It is
// looked up once per process.
var hostFQDN = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return ""
	}
	return fqdnOf(h, net.DefaultResolver.LookupCNAME)
})

// fqdnOf returns h when it is a fully qualified name, else what lookup
// says its canonical name is, when that is one; "" otherwise.
func fqdnOf(h string, lookup func(context.Context, string) (string, error)) string {
	if strings.Contains(h, ".") && checkHeloName(h) == nil {
		return h
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if cname, err := lookup(ctx, h); err == nil {
		cname = strings.TrimSuffix(cname, ".")
		if strings.Contains(cname, ".") && checkHeloName(cname) == nil {
			return cname
		}
	}
	return ""
}

// heloName is the name this session sends in EHLO/HELO: Config.HeloName,
// else this host's fully qualified name, else (RFC 5321 section 4.1.4: a
// client without a meaningful domain name sends an address literal) the
// literal of the local address of a direct connection, e.g. "[192.0.2.1]"
// or "[IPv6:2001:db8::1]", and "localhost" through a proxy, whose far end
// has an address this host does not know.
func (c *Client) heloName() string {
	if c.cfg.HeloName != "" {
		return c.cfg.HeloName
	}
	if c.info.Proxy == "" {
		if ap, err := netip.ParseAddrPort(c.info.LocalAddr); err == nil {
			return addressLiteral(ap.Addr())
		}
	}
	return "localhost"
}

func addressLiteral(a netip.Addr) string {
	a = a.Unmap()
	if a.Is4() {
		return "[" + a.String() + "]"
	}
	return "[IPv6:" + a.WithZone("").String() + "]"
}
