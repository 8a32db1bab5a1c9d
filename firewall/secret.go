package firewall

import "log/slog"

const redacted = "[REDACTED]"

// Secret is a proxy password. Its String, GoString, LogValue and
// MarshalText methods never reveal it, so a Config can be printed or
// logged without leaking the password. Reveal returns the value for the one
// place that needs it: the proxy handshake.
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String returns a fixed marker, or "" when the secret is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer so %#v does not reveal the secret.
func (s Secret) GoString() string { return `firewall.Secret("` + s.String() + `")` }

// LogValue implements slog.LogValuer with the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler with the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
