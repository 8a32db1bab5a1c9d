package firewall

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in   string
		want Config
		str  string
	}{
		{"socks5h://127.0.0.1:1080", Config{Type: TypeSOCKS5, Host: "127.0.0.1", Port: 1080}, "socks5h://127.0.0.1:1080"},
		{"socks5://proxy.example", Config{Type: TypeSOCKS5, Host: "proxy.example", ResolveLocally: true}, "socks5://proxy.example:1080"},
		{"SOCKS5H://user:p%40ss%3Aw@proxy:1081", Config{Type: TypeSOCKS5, Host: "proxy", Port: 1081, User: "user", Password: "p@ss:w"}, "socks5h://proxy:1081"},
		{"socks4://[::1]:1080", Config{Type: TypeSOCKS4, Host: "::1", Port: 1080}, "socks4://[::1]:1080"},
		{"socks4a://ident@proxy", Config{Type: TypeSOCKS4A, Host: "proxy", User: "ident"}, "socks4a://proxy:1080"},
		{"http://user:pass@host:3128", Config{Type: TypeHTTP, Host: "host", Port: 3128, User: "user", Password: "pass"}, "http://host:3128"},
		{"http://host", Config{Type: TypeHTTP, Host: "host"}, "http://host:80"},
		{"https://proxy.example/", Config{Type: TypeHTTPS, Host: "proxy.example"}, "https://proxy.example:443"},
	}
	for _, tt := range tests {
		got, err := ParseURL(tt.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if got.Password.Reveal() != tt.want.Password.Reveal() {
			t.Errorf("ParseURL(%q) password differs", tt.in)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("ParseURL(%q).String() = %q, want %q", tt.in, s, tt.str)
		}
		d, err := New(got, nil)
		if err != nil {
			t.Errorf("New(ParseURL(%q)): %v", tt.in, err)
		} else if d.Proxy() != tt.str {
			t.Errorf("Proxy() = %q, want %q", d.Proxy(), tt.str)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"ftp://proxy:21", ErrUnknownScheme},
		{"socks://proxy:1080", ErrUnknownScheme},
		{"direct://", ErrUnknownScheme},
		{"proxy:3128", ErrUnknownScheme}, // "proxy" parses as a scheme
		{"127.0.0.1:3128", ErrMalformed},
		{"//proxy:3128", ErrMalformed},
		{"socks5://", ErrMalformed},
		{"socks5:proxy", ErrMalformed},
		{"http://u:" + testPassword + "@proxy:99999", ErrMalformed},
		{"http://u:" + testPassword + "@proxy:0", ErrMalformed},
		{"http://u:" + testPassword + "@proxy:x", ErrMalformed},
		{"http://u:" + testPassword + "@proxy/path", ErrMalformed},
		{"http://u:" + testPassword + "@proxy?q=1", ErrMalformed},
		{"http://u:" + testPassword + "@[::1", ErrMalformed},
		{"http://u:" + testPassword + "@pro xy:80", ErrMalformed},
		{"http://u%3Ax:" + testPassword + "@proxy", ErrMalformed}, // ':' in a Basic user name
		{"socks4://u:" + testPassword + "@proxy", ErrMalformed},   // SOCKS4 has no password
		{"socks5://u@proxy", ErrMalformed},                        // RFC 1929 needs both
		{"socks5://:" + testPassword + "@proxy", ErrMalformed},
		{"socks5://" + strings.Repeat("u", 256) + ":" + testPassword + "@proxy", ErrMalformed},
	}
	for _, tt := range tests {
		_, err := ParseURL(tt.in)
		if !errors.Is(err, tt.want) {
			t.Errorf("ParseURL(%q) = %v, want %v", tt.in, err, tt.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "firewall: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
		assertNoSecret(t, err)
	}
}

func TestParseType(t *testing.T) {
	for in, want := range map[string]Type{
		"": TypeNone, "None": TypeNone, "direct": TypeNone, "Tunnel": TypeHTTP, "HTTP": TypeHTTP,
		"https": TypeHTTPS, "SOCKS4": TypeSOCKS4, "socks4a": TypeSOCKS4A, "SOCKS5": TypeSOCKS5, "socks5h": TypeSOCKS5,
	} {
		got, err := ParseType(in)
		if err != nil || got != want {
			t.Errorf("ParseType(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseType("socks6"); !errors.Is(err, ErrUnknownScheme) {
		t.Errorf("ParseType(socks6) = %v, want ErrUnknownScheme", err)
	}
	for typ, port := range map[Type]int{TypeNone: 0, TypeHTTP: 80, TypeHTTPS: 443, TypeSOCKS4: 1080, TypeSOCKS4A: 1080, TypeSOCKS5: 1080} {
		if DefaultPort(typ) != port {
			t.Errorf("DefaultPort(%v) = %d, want %d", typ, DefaultPort(typ), port)
		}
		if pt, _ := ParseType(typ.String()); pt != typ {
			t.Errorf("ParseType(%v.String()) = %v", typ, pt)
		}
	}
	if s := Type(42).String(); s != "Type(42)" {
		t.Errorf("Type(42).String() = %q", s)
	}
}

// TestFieldConfig builds configs the way an administration screen does.
func TestFieldConfig(t *testing.T) {
	tests := []struct {
		typ, host string
		port      int
		user      string
		pass      Secret
		proxy     string
		err       error
	}{
		{"None", "", 0, "", "", "", nil},
		{"Tunnel", "proxy", 0, "", "", "http://proxy:80", nil},
		{"Tunnel", "proxy", 3128, "u", testPassword, "http://proxy:3128", nil},
		{"SOCKS4", "10.0.0.1", 0, "ident", "", "socks4://10.0.0.1:1080", nil},
		{"SOCKS4a", "proxy", 1081, "", "", "socks4a://proxy:1081", nil},
		{"SOCKS5", "fe80::1", 0, "u", testPassword, "socks5h://[fe80::1]:1080", nil},
		{"SOCKS5", "", 1080, "", "", "", ErrMalformed},
		{"SOCKS5", "[::1]", 1080, "", "", "", ErrMalformed},
		{"SOCKS5", "proxy", 70000, "", "", "", ErrMalformed},
		{"SOCKS5", "proxy", -1, "", "", "", ErrMalformed},
		{"SOCKS5", "proxy", 0, "u\r\nX: y", testPassword, "", ErrMalformed},
		{"SOCKS4", "proxy", 0, "u", testPassword, "", ErrMalformed},
		{"None", "proxy", 0, "", "", "", ErrMalformed},
		{"SOCKS5", "pro xy", 0, "", "", "", ErrMalformed},
	}
	for _, tt := range tests {
		typ, err := ParseType(tt.typ)
		if err != nil {
			t.Fatal(err)
		}
		c := Config{Type: typ, Host: tt.host, Port: tt.port, User: tt.user, Password: tt.pass}
		d, err := New(c, nil)
		if !errors.Is(err, tt.err) {
			t.Errorf("New(%+v) = %v, want %v", c, err, tt.err)
			continue
		}
		assertNoSecret(t, err)
		if err == nil && d.Proxy() != tt.proxy {
			t.Errorf("New(%+v).Proxy() = %q, want %q", c, d.Proxy(), tt.proxy)
		}
	}
	if _, err := New(Config{Type: Type(9), Host: "h"}, nil); !errors.Is(err, ErrUnknownScheme) {
		t.Errorf("New(Type(9)) = %v, want ErrUnknownScheme", err)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	c := Config{Type: TypeSOCKS5, Host: "proxy", User: "u", Password: testPassword}
	assertNoSecret(t, c)
	assertNoSecret(t, &c)
	j, err := json.Marshal(struct {
		User     string
		Password Secret
	}{c.User, c.Password})
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, string(j))
	if !strings.Contains(string(j), `"Password":"[REDACTED]"`) {
		t.Errorf("JSON = %s, want the password redacted", j)
	}
	for _, s := range []string{fmt.Sprintf("%-12s", c.Password), fmt.Sprintf("%q", c.Password), fmt.Sprintf("%x", c.Password), fmt.Sprintf("%#v", c.Password)} {
		if strings.Contains(s, testPassword) || strings.Contains(s, fmt.Sprintf("%x", testPassword)) {
			t.Errorf("Secret printed as %q", s)
		}
	}
	if Secret("").String() != "" || c.Password.Reveal() != testPassword {
		t.Error("Secret: empty must print empty and Reveal must return the value")
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://u:p@h:1":      "http://[REDACTED]@h:1",
		"u:p@h:1":             "[REDACTED]@h:1",
		"socks5://a@b:c@h":    "socks5://[REDACTED]@h",
		"http://h:1":          "http://h:1",
		"http://u:p@[::1:bad": "http://[REDACTED]@[::1:bad",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
