package transport

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// TLSMode says how a session protects itself with TLS.
type TLSMode uint8

const (
	// TLSDefault is the zero value: implicit TLS on port 465, explicit
	// (required STARTTLS) everywhere else.
	TLSDefault TLSMode = iota
	// TLSNone speaks plaintext and never sends STARTTLS.
	TLSNone
	// TLSImplicit speaks TLS from the first byte (RFC 8314, "SMTPS").
	TLSImplicit
	// TLSExplicit requires STARTTLS: if the server does not offer it or the
	// upgrade fails, the session stops with an error; it never falls back
	// to plaintext.
	TLSExplicit
	// TLSAuto uses STARTTLS when the server offers it and plaintext when it
	// does not; ConnInfo.StartTLS says which happened. A STARTTLS that is
	// offered but fails (refused, bad certificate, injected bytes) is an
	// error, never a fallback to plaintext. Auto is open to a downgrade by
	// anyone on the path who strips STARTTLS from the EHLO reply and should
	// be used only where that is acceptable.
	TLSAuto
)

// String returns the mode's name as ParseTLSMode accepts it.
func (m TLSMode) String() string {
	switch m {
	case TLSDefault:
		return "default"
	case TLSNone:
		return "none"
	case TLSImplicit:
		return "implicit"
	case TLSExplicit:
		return "explicit"
	case TLSAuto:
		return "auto"
	}
	return "TLSMode(" + strconv.Itoa(int(m)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (m TLSMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseTLSMode.
func (m *TLSMode) UnmarshalText(b []byte) error {
	v, err := ParseTLSMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// ParseTLSMode parses a TLS mode name, case-insensitively: "none" (also
// "plain", "plaintext", "nossl", "notls"), "implicit" (also "ssl", "tls",
// "smtps"), "explicit" (also "starttls"), "auto", and "" or "default" for
// TLSDefault. Any other value is an error.
func ParseTLSMode(s string) (TLSMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "default":
		return TLSDefault, nil
	case "none", "plain", "plaintext", "nossl", "notls":
		return TLSNone, nil
	case "implicit", "ssl", "tls", "smtps":
		return TLSImplicit, nil
	case "explicit", "starttls":
		return TLSExplicit, nil
	case "auto", "opportunistic":
		return TLSAuto, nil
	}
	return TLSDefault, fmt.Errorf("transport: unknown TLS mode %q (want none, implicit, explicit or auto)", s)
}

// Default ports.
const (
	DefaultPort  = 25  // SMTP relay
	ImplicitPort = 465 // submissions, RFC 8314
)

// An Address is an SMTP server as an administrator types it. The zero Port
// means the default for the TLS mode in effect: 465 for implicit TLS, 25
// otherwise. A TLS other than TLSDefault overrides Config.TLS.
type Address struct {
	Host string
	Port int
	TLS  TLSMode
}

// ErrBadAddress is matched (errors.Is) by every error ParseAddress returns.
var ErrBadAddress = errors.New("transport: bad server address")

// ParseAddress parses a server address: "host", "host:port", "[v6]",
// "[v6]:port" or a bare IPv6 literal, each port optionally followed by a
// TLS suffix: "-ssl" or "-tls" (implicit TLS), "-nossl" or "-notls"
// (plaintext, TLSNone), "-starttls" (explicit), "-auto". Examples:
// "mail.example.com", "mail.example.com:587-starttls", "[::1]:25",
// "smtp.example.com:465-ssl". A suffix needs a port and a host: "465-ssl"
// alone is refused, since a host name may itself end in "-ssl". Errors
// match ErrBadAddress.
func ParseAddress(s string) (Address, error) {
	bad := func(why string) (Address, error) {
		return Address{}, fmt.Errorf("%w %q: %s", ErrBadAddress, s, why)
	}
	in := strings.TrimSpace(s)
	if in == "" {
		return bad("empty")
	}
	for _, r := range in {
		if r <= ' ' || r == 0x7f || r > 0x7e || r == '/' || r == '@' {
			return bad("contains a character not allowed in a host name")
		}
	}
	// A bare IPv6 literal.
	if strings.Count(in, ":") > 1 && !strings.HasPrefix(in, "[") {
		if ip := net.ParseIP(in); ip != nil {
			return Address{Host: ip.String()}, nil
		}
		return bad("IPv6 addresses with a port need brackets: [::1]:25")
	}
	var a Address
	host, rest := in, ""
	if strings.HasPrefix(in, "[") {
		end := strings.IndexByte(in, ']')
		if end < 0 {
			return bad("missing ]")
		}
		host, rest = in[1:end], in[end+1:]
		if net.ParseIP(host) == nil || !strings.Contains(host, ":") {
			return bad("brackets must hold an IPv6 address")
		}
		if rest != "" && rest[0] != ':' {
			return bad("unexpected text after ]")
		}
	} else if i := strings.IndexByte(in, ':'); i >= 0 {
		host, rest = in[:i], in[i:]
	}
	if rest != "" {
		port := rest[1:]
		if i := strings.IndexByte(port, '-'); i >= 0 {
			m, ok := suffixModes[strings.ToLower(port[i+1:])]
			if !ok {
				return bad("unknown suffix " + strconv.Quote(port[i:]) + " (want -ssl, -nossl, -starttls or -auto)")
			}
			a.TLS = m
			port = port[:i]
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '+' {
			return bad("port must be a number from 1 to 65535")
		}
		a.Port = n
	}
	if host == "" {
		return bad("missing host")
	}
	if ip := net.ParseIP(host); ip == nil {
		if err := checkHostName(host); err != nil {
			return bad(err.Error())
		}
	}
	a.Host = host
	return a, nil
}

var suffixModes = map[string]TLSMode{
	"ssl": TLSImplicit, "tls": TLSImplicit,
	"nossl": TLSNone, "notls": TLSNone,
	"starttls": TLSExplicit, "auto": TLSAuto,
}

func checkHostName(h string) error {
	if len(h) > 253 {
		return errors.New("host name too long")
	}
	if _, err := strconv.Atoi(h); err == nil {
		return errors.New("a port alone is not an address; write host:port")
	}
	if p, suf, ok := strings.Cut(h, "-"); ok {
		if _, err := strconv.Atoi(p); err == nil {
			if _, known := suffixModes[strings.ToLower(suf)]; known {
				return errors.New("a port alone is not an address; write host:port" + h[len(p):])
			}
		}
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return errors.New("empty or over-long label in host name")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("a host name label cannot begin or end with a hyphen")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("character %q not allowed in a host name", c)
			}
		}
	}
	return nil
}

// Mode returns the TLS mode in effect for a connection to a under cfgMode:
// a.TLS if set, else cfgMode if set, else implicit for port 465 and explicit
// otherwise. It never returns TLSDefault.
func (a Address) Mode(cfgMode TLSMode) TLSMode {
	m := a.TLS
	if m == TLSDefault {
		m = cfgMode
	}
	if m == TLSDefault {
		if a.Port == ImplicitPort {
			return TLSImplicit
		}
		return TLSExplicit
	}
	return m
}

// HostPort returns "host:port" for dialling under cfgMode, filling in the
// default port.
func (a Address) HostPort(cfgMode TLSMode) string {
	p := a.Port
	if p == 0 {
		p = DefaultPort
		if a.Mode(cfgMode) == TLSImplicit {
			p = ImplicitPort
		}
	}
	return net.JoinHostPort(a.Host, strconv.Itoa(p))
}

// String returns the address in the form ParseAddress reads.
func (a Address) String() string {
	h := a.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if a.Port == 0 && a.TLS == TLSDefault {
		return h
	}
	s := h
	if a.Port != 0 {
		s += ":" + strconv.Itoa(a.Port)
	} else {
		s += ":" + strconv.Itoa(DefaultPort)
		if a.TLS == TLSImplicit {
			s = h + ":" + strconv.Itoa(ImplicitPort)
		}
	}
	switch a.TLS {
	case TLSNone:
		s += "-nossl"
	case TLSImplicit:
		s += "-ssl"
	case TLSExplicit:
		s += "-starttls"
	case TLSAuto:
		s += "-auto"
	}
	return s
}
