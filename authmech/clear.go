package authmech

// Why the mechanisms of this package refuse a connection without TLS (the
// gssapi and ntlm packages say their own). The text completes
// "<mechanism> refused on an unencrypted connection: ...".
const (
	exposesPassword = "it sends the password itself"
	exposesBearer   = "it sends the bearer token, which is as good as a password to whoever sees it"
	exposesOffline  = "an eavesdropper can record the exchange and crack the password offline"
)

// A PlaintextError is returned by Start when a mechanism refuses a
// connection without TLS (ServerInfo.AllowPlaintext false). It matches
// ErrPlaintextRefused with errors.Is and says which mechanism refused and
// what the exchange would expose.
type PlaintextError struct {
	Mechanism string
	// Exposure says what an eavesdropper or a man in the middle that
	// stripped STARTTLS would gain, e.g. "an eavesdropper can record the
	// exchange and crack the password offline".
	Exposure string
}

func (e *PlaintextError) Error() string {
	return "authmech: " + e.Mechanism + " refused on an unencrypted connection: " + e.Exposure +
		" (use TLS; allowing plaintext authentication overrides this)"
}

// Unwrap returns ErrPlaintextRefused.
func (e *PlaintextError) Unwrap() error { return ErrPlaintextRefused }

// RefuseInClear returns a *PlaintextError for mech unless the connection
// is encrypted or s.AllowPlaintext is set; a nil s counts as unencrypted.
// exposure completes "mech refused on an unencrypted connection: ...". A
// mechanism calls it first thing in Start, before it fetches a token or
// contacts a KDC.
func (s *ServerInfo) RefuseInClear(mech, exposure string) error {
	if s.Encrypted() || (s != nil && s.AllowPlaintext) {
		return nil
	}
	return &PlaintextError{Mechanism: mech, Exposure: exposure}
}
