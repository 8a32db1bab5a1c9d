package mailwarden

import (
	"errors"
	"fmt"
	"strings"

	"mailwarden/firewall"
	"mailwarden/transport"
)

// Validate checks a profile without touching the network, files or secrets:
// the provider, server addresses, TLS mode, timeout, mechanism name, proxy
// settings, secret reference syntax and message defaults. NewSender does
// the same checks and more (it reads files and resolves secrets). The error
// is a *ConfigError naming the profile and the field.
func (p Profile) Validate() error {
	bad := func(field string, err error) error {
		return &ConfigError{Profile: p.Name, Field: field, Err: err}
	}
	p, err := p.WithPreset()
	if err != nil {
		return err
	}
	switch strings.ToLower(p.Transport) {
	case "", "smtp":
		if len(p.Servers) == 0 {
			return bad("servers", errors.New("at least one server is required"))
		}
	case "graph":
		if _, err := p.Graph.resolve(p.Name); err != nil {
			return err
		}
	default:
		return bad("transport", fmt.Errorf("unknown transport %q (want smtp or graph)", p.Transport))
	}
	for i, a := range p.Servers {
		if _, err := transport.ParseAddress(a); err != nil {
			return bad(fmt.Sprintf("servers[%d]", i), err)
		}
	}
	if p.TLS != "" {
		if _, err := transport.ParseTLSMode(p.TLS); err != nil {
			return bad("tls", err)
		}
	}
	if p.Timeout < 0 {
		return bad("timeout", errors.New("must not be negative"))
	}
	if strings.ContainsAny(p.HeloName, "\r\n \t") {
		return bad("helo", errors.New("must be one host name, without spaces or line breaks"))
	}
	if (p.ClientCertFile == "") != (p.ClientKeyFile == "") {
		return bad("client_cert_file", errors.New("client_cert_file and client_key_file go together"))
	}
	if p.ClientP12File != "" && p.ClientCertFile != "" {
		return bad("client_p12_file", errors.New("set either a PEM pair or a PKCS#12 file, not both"))
	}
	if _, ok := newRegistry().Canonical(p.Auth.Mechanism); !ok {
		return bad("auth.mechanism", fmt.Errorf("unknown mechanism %q (%s)", p.Auth.Mechanism, acceptedMechanisms()))
	}
	for _, r := range p.secretRefs() {
		if err := r.ref.check(); err != nil {
			return bad(r.field, err)
		}
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
	if err := p.Proxy.validate(); err != nil {
		return bad("proxy", err)
	}
	if p.Audit.KeyFile != "" && p.Audit.File == "" {
		return bad("audit.key_file", errors.New("needs audit.file"))
	}
	if _, err := parseDefaults(p); err != nil {
		return err
	}
	return p.checkNet()
}

// check reports whether r has the form SCHEME:REST.
func (r SecretRef) check() error {
	if r == "" {
		return nil
	}
	_, _, err := r.parts()
	return err
}

func (px Proxy) validate() error {
	switch {
	case strings.EqualFold(px.URL, "auto"):
		return nil
	case px.URL != "":
		if px.Type != "" || px.Host != "" {
			return errors.New("set either url or the type/host fields, not both")
		}
		_, err := firewall.ParseURL(px.URL)
		return err
	case px.Type != "" || px.Host != "":
		t, err := firewall.ParseType(px.Type)
		if err != nil {
			return err
		}
		if t == firewall.TypeNone {
			return nil
		}
		return firewall.Config{Type: t, Host: px.Host, Port: px.Port, User: px.User}.Validate()
	}
	return nil
}
