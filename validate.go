package mailwarden

// Validate checks a profile without touching the network, files or secrets:
// the provider, server addresses, TLS mode, timeout, mechanism name, proxy
// settings, secret reference syntax and message defaults. It is the first
// step of NewSender, which then reads files and resolves secrets. The
// error is a *ConfigError naming the profile and the field as the
// configuration file spells it (e.g. "servers[1]", "auth.mechanism").
func (p Profile) Validate() error {
	_, err := resolvePlan(p)
	return err
}

// check reports whether r has the form SCHEME:REST.
func (r SecretRef) check() error {
	if r == "" {
		return nil
	}
	_, _, err := r.parts()
	return err
}
