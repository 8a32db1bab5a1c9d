package main

import (
	"errors"
	"fmt"
	"net/url"

	"mailwarden"
)

// proxyURLPassword moves a password given inline in --proxy
// ("socks5h://user:PASS@host") out of the URL, as --password is handled:
// a warning, the password kept as a command-line secret reference and the
// user as the proxy user, so that the profile holds no secret and the URL
// printed anywhere carries none.
func (c *connFlags) proxyURLPassword(e *env, px *mailwarden.Proxy, secrets cliSecrets) error {
	u, err := url.Parse(px.URL)
	if err != nil || u.User == nil {
		return nil // the profile's checks report a malformed URL
	}
	pw, ok := u.User.Password()
	if !ok {
		return nil
	}
	if c.isSet("proxy-password-file") {
		return errors.New("use either a password in --proxy or --proxy-password-file, not both")
	}
	fmt.Fprintln(e.stderr, "smtpcheck: warning: the password in --proxy is visible to other processes on this host; prefer --proxy-user with --proxy-password-file")
	if px.User == "" {
		px.User = u.User.Username()
	}
	u.User = nil
	secrets["cli:proxy-password"] = pw
	px.URL, px.Password = u.String(), "cli:proxy-password"
	return nil
}
