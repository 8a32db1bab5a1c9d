package mailwarden

import (
	"errors"
	"net/url"
	"strings"
)

// errProxyURLPassword refuses a proxy URL that carries a password: a
// configuration holds secrets as references, never inline, and a URL is
// printed, logged and copied far more often than a password field.
var errProxyURLPassword = errors.New(`holds a password (user:PASSWORD@host): secrets are references, never inline; ` +
	`put the user in proxy.user and the password in proxy.password as a reference, e.g. "env:PROXY_PASSWORD" or "file:/path"`)

// inlinePassword reports errProxyURLPassword when px.URL carries a
// password, even an empty user's (":PASSWORD@") or in a URL that is wrong
// otherwise. A URL that does not parse is left to the other checks, whose
// errors hide the user information.
func (px Proxy) inlinePassword() error {
	if px.URL == "" || strings.EqualFold(px.URL, "auto") {
		return nil
	}
	if u, err := url.Parse(px.URL); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return errProxyURLPassword
		}
	}
	return nil
}
