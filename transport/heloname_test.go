package transport

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func TestFQDNOf(t *testing.T) {
	lookup := func(names map[string]string) func(context.Context, string) (string, error) {
		return func(_ context.Context, h string) (string, error) {
			if c, ok := names[h]; ok {
				return c, nil
			}
			return "", errors.New("no such host")
		}
	}
	for _, c := range []struct {
		host  string
		names map[string]string
		want  string
	}{
		{"app01.example.com", nil, "app01.example.com"},
		{"app01", map[string]string{"app01": "app01.corp.example.com."}, "app01.corp.example.com"},
		{"vm", map[string]string{"vm": "vm."}, ""},
		{"vm", nil, ""},
		{"bad_name", map[string]string{"bad_name": "bad name.example."}, ""},
	} {
		if got := fqdnOf(c.host, lookup(c.names)); got != c.want {
			t.Errorf("fqdnOf(%q) = %q, want %q", c.host, got, c.want)
		}
	}
}

// TestDefaultHeloNameIsNeverBareLocalhost: with no HeloName the client
// sends this host's FQDN, or the address literal of its end of a direct
// connection (RFC 5321 section 4.1.4), not "localhost".
func TestDefaultHeloNameIsNeverBareLocalhost(t *testing.T) {
	for _, c := range []struct {
		cfg, fqdn, local, proxy, want string
	}{
		{"relay01.example.com", "", "127.0.0.1:4000", "", "relay01.example.com"},
		{"", "", "127.0.0.1:4000", "", "[127.0.0.1]"},
		{"", "", "[2001:db8::1]:4000", "", "[IPv6:2001:db8::1]"},
		{"", "", "[::ffff:192.0.2.7]:4000", "", "[192.0.2.7]"},
		{"", "", "127.0.0.1:4000", "socks5://127.0.0.1:1080", "localhost"},
	} {
		cfg := &Config{HeloName: c.cfg}
		cl := &Client{cfg: cfg, info: ConnInfo{LocalAddr: c.local, Proxy: c.proxy}}
		if got := cl.heloName(); got != c.want {
			t.Errorf("%+v: heloName = %q, want %q", c, got, c.want)
		}
	}
	if lit := addressLiteral(netip.MustParseAddr("fe80::1%eth0")); lit != "[IPv6:fe80::1]" {
		t.Errorf("zone kept: %s", lit)
	}
}
