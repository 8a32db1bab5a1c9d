package authmech

import (
	"context"
	"crypto/tls"
	"log/slog"
)

// ServerInfo describes the server a Client is about to authenticate to. The
// transport fills it in after the last EHLO, so everything in it was learned
// over the connection as it is now (after STARTTLS, nothing from plaintext).
type ServerInfo struct {
	// Name is the host name the transport dialled (not a proxy's name). It is
	// what GSSAPI derives the service principal from.
	Name string
	// TLS is the state of the connection's TLS layer, or nil on a plaintext
	// connection.
	TLS *tls.ConnectionState
	// Mechanisms lists the SASL mechanisms the server advertised in its EHLO
	// AUTH keyword, upper-cased, in the server's order.
	Mechanisms []string
	// AllowPlaintext is the transport's policy: when false, a mechanism
	// must refuse a connection without TLS with a *PlaintextError (see
	// RefuseInClear), and auto picks none.
	AllowPlaintext bool
}

// Encrypted reports whether the connection is protected by TLS.
func (s *ServerInfo) Encrypted() bool { return s != nil && s.TLS != nil && s.TLS.HandshakeComplete }

// Offers reports whether the server advertised mech. Names are compared as
// whole tokens, case-insensitively; "PLAIN" never matches "PLAIN-CLIENTTOKEN".
func (s *ServerInfo) Offers(mech string) bool {
	if s == nil {
		return false
	}
	for _, m := range s.Mechanisms {
		if equalFold(m, mech) {
			return true
		}
	}
	return false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// A Client is the client side of one SASL exchange (RFC 4422). A Client is
// used for a single authentication and is not safe for concurrent use.
//
// The transport calls Start once; if it returns without error, it sends
// "AUTH mech" with the initial response ir (nil means none, an empty non-nil
// slice means an empty response, sent as "="). For every 334 challenge it
// calls Next with the decoded challenge and sends what Next returns. When the
// server answers 235 and the Client also implements Verifier, the transport
// calls Verify before it reports success.
type Client interface {
	Start(ctx context.Context, info *ServerInfo) (mech string, ir []byte, err error)
	Next(ctx context.Context, challenge []byte) (response []byte, err error)
}

// A Verifier is a Client that must check the end of the exchange itself: a
// SCRAM client whose server never proved it knows the password, or a GSSAPI
// client whose mutual authentication did not finish, reports that from Verify.
type Verifier interface {
	Verify() error
}

// Secret is a credential: a password, a token, a key passphrase. Its String,
// GoString, LogValue and MarshalText methods never reveal it, so it can be
// put in a struct that is logged or printed without leaking. Reveal returns
// the value for the one place that needs it.
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String returns a fixed marker, never the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// GoString implements fmt.GoStringer so %#v does not reveal the secret.
func (s Secret) GoString() string { return `authmech.Secret("` + s.String() + `")` }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler with the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
