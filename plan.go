package mailwarden

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"mailwarden/audit"
	"mailwarden/authmech"
	"mailwarden/authmech/system"
	"mailwarden/firewall"
	"mailwarden/transport"
)

// A plan is a Profile resolved once, without touching the network, files
// or secrets: the preset applied, the defaults filled in, every address,
// mode and name parsed. Validate is resolvePlan; NewSender builds the
// Sender from the plan and only adds what needs the outside world (files,
// secrets, the audit sinks). Errors name the field as the configuration
// file spells it ("servers[1]", "auth.mechanism").
type plan struct {
	profile Profile // with the preset applied
	graph   bool    // the graph transport; servers is then empty
	// endpoint is the Graph base URL (graph only).
	endpoint string
	servers  []transport.Address
	tls      transport.TLSMode
	// mechanism is the canonical SASL name: authmech.None when the
	// profile does not authenticate, authmech.Auto when it gives
	// credentials without a mechanism.
	mechanism string
	proxy     proxyPlan
	net       netPlan
	defaults  *messageDefaults
}

// proxyPlan is the proxy a profile asks for; its password is still a
// reference.
type proxyPlan struct {
	auto     bool            // from the environment (ALL_PROXY, HTTPS_PROXY, NO_PROXY)
	config   firewall.Config // Type none: direct
	password SecretRef
}

// resolvePlan checks p and resolves it into a plan. Errors are
// *ConfigError naming the profile and the field.
func resolvePlan(p Profile) (*plan, error) {
	bad := func(field string, err error) (*plan, error) {
		return nil, &ConfigError{Profile: p.Name, Field: field, Err: err}
	}
	p, err := p.WithPreset()
	if err != nil {
		return nil, err
	}
	pl := &plan{profile: p}
	switch strings.ToLower(p.Transport) {
	case "", "smtp":
		if len(p.Servers) == 0 {
			return bad("servers", errors.New("at least one server is required"))
		}
	case "graph":
		pl.graph = true
		if pl.endpoint, err = p.Graph.resolve(p.Name); err != nil {
			return nil, err
		}
	default:
		return bad("transport", fmt.Errorf("unknown transport %q (want smtp or graph)", p.Transport))
	}
	if pl.tls, err = planTLS(p.TLS); err != nil {
		return bad("tls", err)
	}
	for i, a := range p.Servers {
		addr, err := transport.ParseAddress(a)
		if err != nil {
			return bad(fmt.Sprintf("servers[%d]", i), err)
		}
		pl.servers = append(pl.servers, implicitOn465(addr, pl.tls))
	}
	if p.Timeout < 0 {
		return bad("timeout", errors.New("must not be negative"))
	}
	if strings.ContainsAny(p.HeloName, "\r\n \t") {
		return bad("helo", errors.New("must be one host name, without spaces or line breaks"))
	}
	if (p.ClientCertFile == "") != (p.ClientKeyFile == "") && !isKeyRef(p.ClientKeyFile) {
		return bad("client_cert_file", errors.New("client_cert_file and client_key_file go together"))
	}
	if p.ClientP12File != "" && p.ClientCertFile != "" {
		return bad("client_p12_file", errors.New("set either a PEM pair or a PKCS#12 file, not both"))
	}
	if pl.mechanism, err = planMechanism(p.Auth); err != nil {
		return bad("auth.mechanism", err)
	}
	if pl.mechanism == system.Name {
		if field, err := systemAuthSecret(p.Auth); err != nil {
			return bad("auth."+field, err)
		}
	}
	if field, err := planProvider(p.Auth, pl.mechanism, runtime.GOOS); err != nil {
		return bad("auth."+field, err)
	}
	if err := checkSecretRefs(p); err != nil {
		return nil, err
	}
	switch f := p.Auth.OAuth.Flow; f {
	case "", "client_credentials", "authorization_code", "device_code", "jwt_bearer":
	default:
		return bad("auth.oauth.flow", fmt.Errorf("unknown flow %q (want client_credentials, authorization_code, device_code or jwt_bearer)", f))
	}
	switch a := p.Auth.OAuth.ClientAuth; a {
	case "", "client_secret_post", "client_secret_basic":
	default:
		return bad("auth.oauth.client_auth", fmt.Errorf("unknown method %q (want client_secret_post or client_secret_basic)", a))
	}
	if pl.proxy, err = planProxy(p.Name, p.Proxy); err != nil {
		return nil, err
	}
	if p.Audit.KeyFile != "" && p.Audit.File == "" {
		return bad("audit.key_file", errors.New("needs audit.file"))
	}
	if p.Audit.AnchorFile != "" && p.Audit.File == "" {
		return bad("audit.anchor_file", errors.New("needs audit.file"))
	}
	if _, err := auditSync(p.Audit.Sync); err != nil {
		return bad("audit.sync", err)
	}
	if p.Audit.Sync != "" && p.Audit.File == "" {
		return bad("audit.sync", errors.New("needs audit.file"))
	}
	if p.Audit.Syslog != "" {
		sc, err := audit.ParseSyslogURL(p.Audit.Syslog)
		if err != nil {
			return bad("audit.syslog", err)
		}
		if !p.Audit.FailOpen && !sc.CanFailClose() {
			return bad("audit.syslog", fmt.Errorf("%w (%s)", audit.ErrSyslogFailOpenOnly, sc.Network))
		}
	}
	if pl.defaults, err = parseDefaults(p); err != nil {
		return nil, err
	}
	if pl.net, err = planNet(p); err != nil {
		return nil, err
	}
	return pl, nil
}

// planTLS returns the profile's TLS mode. The default (empty) is auto:
// STARTTLS when the server offers it, implicit TLS on port 465.
func planTLS(s string) (transport.TLSMode, error) {
	if s == "" {
		return transport.TLSAuto, nil
	}
	return transport.ParseTLSMode(s)
}

// implicitOn465 makes a server on port 465 without a TLS suffix speak
// implicit TLS under the auto mode: 465 is the implicit-TLS port (RFC
// 8314), and waiting there for a plaintext greeting only times out. An
// explicit mode ("explicit", "none") is what the administrator asked for
// and is kept.
func implicitOn465(a transport.Address, mode transport.TLSMode) transport.Address {
	if a.TLS == transport.TLSDefault && mode == transport.TLSAuto && a.Port == transport.ImplicitPort {
		a.TLS = transport.TLSImplicit
	}
	return a
}

// planMechanism returns the canonical mechanism: the one named, or auto
// when the profile gives credentials (a user, a token or an OAuth flow)
// and names none, or none.
func planMechanism(a Auth) (string, error) {
	reg := newRegistry()
	if a.Mechanism == "" && (a.Username != "" || a.OAuthToken != "" || a.OAuth.Flow != "") {
		return authmech.Auto, nil
	}
	canon, ok := reg.Canonical(a.Mechanism)
	if !ok {
		return "", fmt.Errorf("unknown mechanism %q (%s)", a.Mechanism, acceptedMechanisms())
	}
	return canon, nil
}

// planProvider checks auth.provider against the mechanism on the system
// goos: "sspi" is Windows-only, runs NTLM, GSSAPI or auto between them,
// and needs a user and a password (a reference; resolved later). It
// returns the field at fault.
func planProvider(a Auth, mech, goos string) (string, error) {
	switch strings.ToLower(a.Provider) {
	case "", "builtin":
		return "", nil
	case system.ProviderSSPI:
	default:
		return "provider", fmt.Errorf("unknown provider %q (want sspi, or empty for the built-in mechanisms)", a.Provider)
	}
	if goos != "windows" {
		return "provider", system.ErrSSPIWindowsOnly
	}
	switch mech {
	case "NTLM", "GSSAPI", authmech.Auto:
	case system.Name:
		return "provider", errors.New("mechanism system already uses SSPI, with the account this process runs as; provider sspi is for a user and password (mechanism NTLM, GSSAPI or auto)")
	default:
		return "provider", fmt.Errorf("provider sspi runs NTLM and GSSAPI (or auto between them), not %s", mech)
	}
	if a.Username == "" {
		return "username", errors.New("provider sspi needs a user (DOMAIN\\user, user@domain or user) and a password; for the account this process runs as, use mechanism system")
	}
	if a.Password == "" {
		return "password", errors.New("provider sspi needs a password (a reference: env:NAME, file:PATH, ...)")
	}
	if a.Keytab != "" || a.CCache != "" || a.Krb5Conf != "" {
		return "provider", errors.New("provider sspi takes a user and password; keytab, ccache and krb5_conf are the built-in GSSAPI's (SSPI uses the domain's configuration)")
	}
	if a.OAuthToken != "" || a.OAuth.Flow != "" {
		return "provider", errors.New("provider sspi runs NTLM and GSSAPI, which take no OAuth token")
	}
	return "", nil
}

// checkSecretRefs checks the form of every secret reference of p.
func checkSecretRefs(p Profile) error {
	for _, r := range p.secretRefs() {
		if err := r.ref.check(); err != nil {
			return &ConfigError{Profile: p.Name, Field: r.field, Err: err}
		}
	}
	return nil
}

// planProxy checks a profile's proxy setting. A password given as a
// secret reference counts as given: it is resolved by NewSender. Errors
// are *ConfigError naming the field ("proxy.url", "proxy.type", or
// "proxy" for the combination).
func planProxy(name string, px Proxy) (proxyPlan, error) {
	bad := func(field string, err error) (proxyPlan, error) {
		return proxyPlan{}, &ConfigError{Profile: name, Field: field, Err: err}
	}
	pp := proxyPlan{password: px.Password}
	field := "proxy.url"
	switch {
	case strings.EqualFold(px.URL, "auto"):
		pp.auto = true
		return pp, nil
	case px.URL != "":
		if px.Type != "" || px.Host != "" {
			return bad("proxy", errors.New("set either url or the type/host fields, not both"))
		}
		if err := px.inlinePassword(); err != nil { // before parsing: its error would not name proxy.password
			return bad("proxy.url", err)
		}
		c, err := firewall.ParseURL(px.URL)
		if err != nil {
			return bad("proxy.url", err)
		}
		if px.User != "" {
			c.User = px.User
		}
		pp.config = c
	case px.Type != "" || px.Host != "":
		t, err := firewall.ParseType(px.Type)
		if err != nil {
			return bad("proxy.type", err)
		}
		if t == firewall.TypeNone {
			return pp, nil
		}
		pp.config = firewall.Config{Type: t, Host: px.Host, Port: px.Port, User: px.User}
		field = "proxy"
	default:
		return pp, nil
	}
	check := pp.config
	if px.Password != "" {
		check.Password = "set" // a reference: resolved when the Sender is made
	}
	if err := check.Validate(); err != nil {
		return bad(field, err)
	}
	return pp, nil
}

// auditSync parses audit.sync.
func auditSync(s string) (audit.SyncPolicy, error) {
	switch s {
	case "", "every":
		return audit.SyncEvery, nil
	case "interval":
		return audit.SyncInterval, nil
	case "none":
		return audit.SyncNone, nil
	}
	return 0, fmt.Errorf("unknown sync policy %q (want every, interval or none)", s)
}
