package transport_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"mailwarden/transport"
)

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]struct {
		a        transport.Address
		hostport string
		mode     transport.TLSMode
	}{
		"mail.example.com":              {transport.Address{Host: "mail.example.com"}, "mail.example.com:25", transport.TLSExplicit},
		"mail.example.com:2525":         {transport.Address{Host: "mail.example.com", Port: 2525}, "mail.example.com:2525", transport.TLSExplicit},
		"mail.example.com:465":          {transport.Address{Host: "mail.example.com", Port: 465}, "mail.example.com:465", transport.TLSImplicit},
		"[::1]:25":                      {transport.Address{Host: "::1", Port: 25}, "[::1]:25", transport.TLSExplicit},
		"::1":                           {transport.Address{Host: "::1"}, "[::1]:25", transport.TLSExplicit},
		"127.0.0.1:25":                  {transport.Address{Host: "127.0.0.1", Port: 25}, "127.0.0.1:25", transport.TLSExplicit},
		"mail.example.com:587-starttls": {transport.Address{Host: "mail.example.com", Port: 587, TLS: transport.TLSExplicit}, "mail.example.com:587", transport.TLSExplicit},
		"smtp.example.com:465-ssl":      {transport.Address{Host: "smtp.example.com", Port: 465, TLS: transport.TLSImplicit}, "smtp.example.com:465", transport.TLSImplicit},
		"smtp.example.com:465-nossl":    {transport.Address{Host: "smtp.example.com", Port: 465, TLS: transport.TLSNone}, "smtp.example.com:465", transport.TLSNone},
		"relay:25-auto":                 {transport.Address{Host: "relay", Port: 25, TLS: transport.TLSAuto}, "relay:25", transport.TLSAuto},
		"[2001:db8::1]:587-STARTTLS":    {transport.Address{Host: "2001:db8::1", Port: 587, TLS: transport.TLSExplicit}, "[2001:db8::1]:587", transport.TLSExplicit},
	} {
		a, err := transport.ParseAddress(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if a != want.a || a.HostPort(transport.TLSDefault) != want.hostport || a.Mode(transport.TLSDefault) != want.mode {
			t.Errorf("%q: %+v %s %v, want %+v", in, a, a.HostPort(0), a.Mode(0), want)
		}
		if b, err := transport.ParseAddress(a.String()); err != nil || b.Mode(0) != a.Mode(0) || b.HostPort(0) != a.HostPort(0) {
			t.Errorf("%q: round trip %q -> %+v %v", in, a.String(), b, err)
		}
	}
	// Config.TLS applies when the address has no suffix; a suffix wins.
	a, _ := transport.ParseAddress("mail.example.com")
	if a.Mode(transport.TLSImplicit) != transport.TLSImplicit || a.HostPort(transport.TLSImplicit) != "mail.example.com:465" {
		t.Errorf("config mode: %v %s", a.Mode(transport.TLSImplicit), a.HostPort(transport.TLSImplicit))
	}
	a, _ = transport.ParseAddress("mail.example.com:25-nossl")
	if a.Mode(transport.TLSExplicit) != transport.TLSNone {
		t.Error("suffix must override the configured mode")
	}
	for _, in := range []string{"", " ", "host:", "host:0", "host:65536", "host:+25", "host:25-bogus", "465-ssl", "[::1", "[host]:25", "::1:25x", "ho st", "a@b", "host/x", "host:25\r\nMAIL", "-ssl", "exa..mple.com"} {
		if _, err := transport.ParseAddress(in); !errors.Is(err, transport.ErrBadAddress) || transport.Classify(err) != transport.ClassUsage {
			t.Errorf("%q: err = %v", in, err)
		}
	}
}

func TestTLSModeNames(t *testing.T) {
	for _, m := range []transport.TLSMode{transport.TLSDefault, transport.TLSNone, transport.TLSImplicit, transport.TLSExplicit, transport.TLSAuto} {
		got, err := transport.ParseTLSMode(m.String())
		if err != nil || got != m {
			t.Errorf("%v: %v %v", m, got, err)
		}
	}
	for in, want := range map[string]transport.TLSMode{"STARTTLS": transport.TLSExplicit, "ssl": transport.TLSImplicit, "plain": transport.TLSNone, "": transport.TLSDefault} {
		if got, err := transport.ParseTLSMode(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := transport.ParseTLSMode("maybe"); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestEnhancedCode(t *testing.T) {
	for in, ok := range map[string]bool{"2.0.0": true, "5.7.139": true, "4.4.1": true, "3.0.0": false, "5.7": false, "5.7.1000": false, "5..1": false, "x.1.1": false, "55.1.1": false,
		"": false, "2": false, "2.0.0.": false, "2.0.0.0": false, ".2.0.0": false, "2.0.": false, "5.1.": false, "4.999.999": true} {
		e, err := transport.ParseEnhancedCode(in)
		if (err == nil) != ok {
			t.Errorf("%q: %v", in, err)
		}
		// What parses prints as it was written (no leading zeros here).
		if ok && e.String() != in {
			t.Errorf("%q parsed and printed as %q", in, e.String())
		}
	}
	// String is "class.subject.detail" in decimal, from the table for one
	// digit each and by formatting otherwise.
	for _, e := range []transport.EnhancedCode{{2, 0, 0}, {5, 7, 1}, {9, 9, 9}, {0, 0, 1}, {4, 10, 0}, {5, 7, 139}, {2, 1, 10}, {10, 0, 0}, {-1, 2, 3}} {
		want := strconv.Itoa(e[0]) + "." + strconv.Itoa(e[1]) + "." + strconv.Itoa(e[2])
		if got := e.String(); got != want {
			t.Errorf("%v: %q, want %q", e, got, want)
		}
	}
	for c := range 10 {
		for s := range 10 {
			for d := range 10 {
				e := transport.EnhancedCode{c, s, d}
				if c == 0 && s == 0 && d == 0 {
					continue // the zero code prints as ""
				}
				if got, want := e.String(), fmt.Sprintf("%d.%d.%d", c, s, d); got != want {
					t.Fatalf("%v: %q, want %q", e, got, want)
				}
			}
		}
	}
	if (transport.EnhancedCode{}).String() != "" {
		t.Error("the zero code is not printed as empty")
	}
}
