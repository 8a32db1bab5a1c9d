package mailwarden

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"mailwarden/firewall"
	"mailwarden/transport"
)

// netPlan is the profile's network, TLS and DSN options, parsed.
type netPlan struct {
	source netip.Addr // SourceAddress; the zero Addr when none
	tlsMin uint16
	dsn    *transport.DSN // nil when the profile asks for none
}

// planNet checks and parses the profile's network, TLS and DSN options.
// Errors are *ConfigError.
func planNet(p Profile) (netPlan, error) {
	var np netPlan
	bad := func(field string, err error) (netPlan, error) {
		return np, &ConfigError{Profile: p.Name, Field: field, Err: err}
	}
	switch p.IPVersion {
	case 0, 4, 6:
	default:
		return bad("ip_version", fmt.Errorf("%d: want 4, 6 or 0 (either)", p.IPVersion))
	}
	if p.SourceAddress != "" {
		a, err := netip.ParseAddr(p.SourceAddress)
		if err != nil {
			return bad("source_address", fmt.Errorf("%q is not an IP address", p.SourceAddress))
		}
		if (p.IPVersion == 4 && !a.Unmap().Is4()) || (p.IPVersion == 6 && a.Is4()) {
			return bad("source_address", fmt.Errorf("%s is not an IPv%d address", a, p.IPVersion))
		}
		np.source = a
	}
	var err error
	if np.tlsMin, err = tlsMinVersion(p.TLSMinVersion); err != nil {
		return bad("tls_min_version", err)
	}
	if n := p.TLSServerName; n != "" {
		if a, err := transport.ParseAddress(n); err != nil || a.Host != n {
			return bad("tls_server_name", fmt.Errorf("%q is not a host name", n))
		}
	}
	if np.dsn, err = p.DSN.transport(); err != nil {
		return bad("dsn", err)
	}
	return np, nil
}

func tlsMinVersion(s string) (uint16, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	v = strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(v, "tls")), "v")
	switch v {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("%q: want 1.2 or 1.3 (older versions are not offered)", s)
}

// transport returns the transport's DSN request, nil for the zero
// DSNConfig.
func (d DSNConfig) transport() (*transport.DSN, error) {
	if len(d.Notify) == 0 && d.Return == "" && d.EnvID == "" && !d.Require {
		return nil, nil
	}
	t := &transport.DSN{EnvID: d.EnvID, Require: d.Require}
	for _, n := range d.Notify {
		v := transport.DSNNotify(strings.ToUpper(strings.TrimSpace(n)))
		switch v {
		case transport.NotifyNever, transport.NotifySuccess, transport.NotifyFailure, transport.NotifyDelay:
		default:
			return nil, fmt.Errorf("notify %q: want never, or success, failure and delay", n)
		}
		t.Notify = append(t.Notify, v)
	}
	if len(t.Notify) > 1 {
		for _, v := range t.Notify {
			if v == transport.NotifyNever {
				return nil, errors.New("notify: never stands alone")
			}
		}
	}
	switch r := transport.DSNReturn(strings.ToUpper(strings.TrimSpace(d.Return))); r {
	case "":
	case transport.ReturnFull, transport.ReturnHeaders:
		t.Return = r
	default:
		return nil, fmt.Errorf("return %q: want full or hdrs", d.Return)
	}
	for _, c := range d.EnvID {
		if c < 0x21 || c > 0x7e {
			return nil, errors.New("envid: printable ASCII without spaces only")
		}
	}
	return t, nil
}

// applyNet puts the plan's TLS and DSN options into the session
// configuration (cfg.TLSConfig is the sender's own, not the caller's).
func (pl *plan) applyNet(cfg *transport.Config) {
	if cfg.TLSConfig == nil {
		cfg.TLSConfig = &tls.Config{}
	}
	cfg.TLSConfig.MinVersion = pl.net.tlsMin
	cfg.TLSConfig.ServerName = pl.profile.TLSServerName
	cfg.DSN = pl.net.dsn
}

// hasNetDialOptions reports whether the profile shapes the first hop.
func (p Profile) hasNetDialOptions() bool { return p.IPVersion != 0 || p.SourceAddress != "" }

// baseDialer is the dialer of the first hop: fwd (Options.Forward) or a
// net.Dialer from SourceAddress, limited to IPVersion.
func (pl *plan) baseDialer(fwd firewall.Dialer) (firewall.Dialer, error) {
	p := pl.profile
	if fwd == nil {
		nd := &net.Dialer{}
		if pl.net.source.IsValid() {
			nd.LocalAddr = &net.TCPAddr{IP: pl.net.source.AsSlice()}
		}
		fwd = nd
	} else if p.SourceAddress != "" {
		return nil, &ConfigError{Profile: p.Name, Field: "source_address", Err: errors.New("cannot be used with Options.Forward: bind that dialer instead")}
	}
	if p.IPVersion != 0 {
		return ipDialer{fwd, fmt.Sprintf("tcp%d", p.IPVersion)}, nil
	}
	return fwd, nil
}

// ipDialer dials "tcp" as tcp4 or tcp6.
type ipDialer struct {
	d       firewall.Dialer
	network string
}

func (d ipDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if network == "tcp" {
		network = d.network
	}
	return d.d.DialContext(ctx, network, addr)
}
