package firewall

import (
	"errors"
	"testing"
)

func TestFromEnvironment(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		addr   string
		proxy  string // Config.String()
		reason string
	}{
		{"nothing set", nil, "smtp.example.com:25", "direct",
			"no ALL_PROXY or HTTPS_PROXY set: direct connection"},
		{"ALL_PROXY", map[string]string{"ALL_PROXY": "socks5h://u:" + testPassword + "@proxy:1080"}, "smtp.example.com:25", "socks5h://proxy:1080",
			"ALL_PROXY=socks5h://proxy:1080 (NO_PROXY unset)"},
		{"all_proxy lower case", map[string]string{"all_proxy": "socks4a://proxy"}, "smtp.example.com:25", "socks4a://proxy:1080",
			"all_proxy=socks4a://proxy:1080 (NO_PROXY unset)"},
		{"ALL_PROXY before HTTPS_PROXY", map[string]string{"ALL_PROXY": "socks5://proxy", "HTTPS_PROXY": "http://other:3128"}, "smtp.example.com:25", "socks5://proxy:1080",
			"ALL_PROXY=socks5://proxy:1080 (NO_PROXY unset)"},
		{"https_proxy before HTTPS_PROXY", map[string]string{"https_proxy": "http://lower:3128", "HTTPS_PROXY": "http://upper:3128"}, "smtp.example.com:25", "http://lower:3128",
			"https_proxy=http://lower:3128 (NO_PROXY unset)"},
		{"HTTPS_PROXY without scheme", map[string]string{"HTTPS_PROXY": "proxy.corp:3128"}, "smtp.example.com:587", "http://proxy.corp:3128",
			"HTTPS_PROXY=http://proxy.corp:3128 (no scheme: http assumed) (NO_PROXY unset)"},
		{"HTTP_PROXY ignored", map[string]string{"HTTP_PROXY": "http://proxy:3128"}, "smtp.example.com:25", "direct",
			"no ALL_PROXY or HTTPS_PROXY set: direct connection"},
		{"NO_PROXY does not match", map[string]string{"ALL_PROXY": "socks5h://proxy:1080", "NO_PROXY": "internal.example,10.0.0.0/8"}, "smtp.example.com:25", "socks5h://proxy:1080",
			"ALL_PROXY=socks5h://proxy:1080 (NO_PROXY did not match smtp.example.com)"},
		{"NO_PROXY domain suffix", map[string]string{"ALL_PROXY": "socks5h://proxy:1080", "NO_PROXY": ".example.com"}, "smtp.example.com:25", "direct",
			"NO_PROXY=.example.com matched smtp.example.com: direct connection (ALL_PROXY=socks5h://proxy:1080 ignored)"},
		{"no_proxy domain and subdomains", map[string]string{"ALL_PROXY": "socks5h://proxy:1080", "no_proxy": "example.com"}, "smtp.example.com:25", "direct",
			"no_proxy=example.com matched smtp.example.com: direct connection (ALL_PROXY=socks5h://proxy:1080 ignored)"},
		{"NO_PROXY CIDR", map[string]string{"ALL_PROXY": "http://proxy:3128", "NO_PROXY": "10.0.0.0/8"}, "10.1.2.3:25", "direct",
			"NO_PROXY=10.0.0.0/8 matched 10.1.2.3: direct connection (ALL_PROXY=http://proxy:3128 ignored)"},
		{"NO_PROXY other port", map[string]string{"ALL_PROXY": "http://proxy:3128", "NO_PROXY": "smtp.example.com:587"}, "smtp.example.com:25", "http://proxy:3128",
			"ALL_PROXY=http://proxy:3128 (NO_PROXY did not match smtp.example.com)"},
		{"NO_PROXY star", map[string]string{"ALL_PROXY": "http://proxy:3128", "NO_PROXY": "*"}, "smtp.example.com:25", "direct",
			"NO_PROXY=* matched smtp.example.com: direct connection (ALL_PROXY=http://proxy:3128 ignored)"},
		{"loopback never proxied", map[string]string{"ALL_PROXY": "http://proxy:3128"}, "127.0.0.1:25", "direct",
			"127.0.0.1 is a loopback destination, never proxied: direct connection (ALL_PROXY=http://proxy:3128 ignored)"},
		{"localhost never proxied", map[string]string{"ALL_PROXY": "http://proxy:3128"}, "localhost:25", "direct",
			"localhost is a loopback destination, never proxied: direct connection (ALL_PROXY=http://proxy:3128 ignored)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, reason, err := FromEnvironment(func(k string) string { return tt.env[k] }, tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			if c.String() != tt.proxy || reason != tt.reason {
				t.Errorf("got %s, %q\nwant %s, %q", c, reason, tt.proxy, tt.reason)
			}
			assertNoSecret(t, reason)
			if _, err := New(c, nil); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
}

func TestFromEnvironmentErrors(t *testing.T) {
	tests := []struct {
		env  map[string]string
		addr string
		want error
	}{
		{map[string]string{"ALL_PROXY": "ftp://proxy:21"}, "smtp.example.com:25", ErrUnknownScheme},
		{map[string]string{"ALL_PROXY": "socks://proxy:1080"}, "smtp.example.com:25", ErrUnknownScheme},
		{map[string]string{"HTTPS_PROXY": "http://u:" + testPassword + "@[::1"}, "smtp.example.com:25", ErrMalformed},
		{map[string]string{"ALL_PROXY": "socks5h://u:" + testPassword + "@proxy:notaport"}, "smtp.example.com:25", ErrMalformed},
		{map[string]string{"ALL_PROXY": "socks5h://u:" + testPassword + "@proxy:1080"}, "smtp.example.com", nil},
		// A bad setting is an error even when NO_PROXY would bypass it.
		{map[string]string{"ALL_PROXY": "gopher://proxy", "NO_PROXY": "*"}, "smtp.example.com:25", ErrUnknownScheme},
	}
	for _, tt := range tests {
		c, reason, err := FromEnvironment(func(k string) string { return tt.env[k] }, tt.addr)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("FromEnvironment(%v, %q) = %v, %q, %v; want error %v", tt.env, tt.addr, c, reason, err, tt.want)
		}
		assertNoSecret(t, err)
	}
}
