// Package system is the "system" authentication of admin screens
// ("System", "Windows integrated"): the relay is reached as the account the
// process runs as, with no secret in the configuration.
//
// On Windows it goes through SSPI, the Windows security API, with the
// logon session's credentials (the computer account for a service running
// as LocalSystem or NetworkService, a gMSA, or the user): SASL GSSAPI
// (RFC 4752) with SSPI's Kerberos package, including the security-layer
// negotiation (the server's 4-byte offer is unwrapped with DecryptMessage,
// the answer "no security layer" wrapped with EncryptMessage), and AUTH
// NTLM with SSPI's NTLM package when the server offers NTLM but not GSSAPI
// (Exchange's internal receive connectors).
//
// Elsewhere it is Kerberos GSSAPI with the process's default credentials:
// the credential cache named by KRB5CCNAME (default /tmp/krb5cc_<uid>), or,
// when it holds no usable ticket, the client keytab named by
// KRB5_CLIENT_KTNAME — what "the service's own account" means on Linux.
//
// The mechanism sent on the wire is GSSAPI or NTLM; the client's User
// method names the account and the security package used, which the probe
// and the audit trail report. When no credentials can be found, Start
// returns an *Error with a hint.
package system

import (
	"errors"
	"fmt"

	"mailwarden/authmech"
)

// Name is the mechanism's name in the registry. It is not a SASL name:
// Start picks GSSAPI or NTLM.
const Name = "SYSTEM"

// Aliases are the admin-screen names that mean Name.
var Aliases = []string{"System", "Windows integrated", "WindowsIntegrated", "Integrated", "SSPI"}

// Register adds the system mechanism to reg. It never takes part in
// auto: authenticating as the process's own account is chosen explicitly.
func Register(reg *authmech.Registry) error {
	return reg.Register(authmech.Mechanism{
		Name: Name,
		New:  func(c authmech.Credentials) (authmech.Client, error) { return New(c) },
	}, Aliases...)
}

// ErrNoCredentials is wrapped when the process has no credentials to
// authenticate with: no Kerberos ticket or client keytab, or no logon
// session SSPI can use.
var ErrNoCredentials = errors.New("authmech/system: no credentials for the account this process runs as")

// ErrSecretGiven is returned by New when the credentials carry a user name
// or a password: the system mechanism uses the process's account only.
var ErrSecretGiven = errors.New("authmech/system: the system mechanism authenticates as the account the process runs as and takes no user name or password (remove them, or use another mechanism)")

// Error is a failure of the system mechanism that is not the server's
// answer: no credentials, a security package that failed, a server
// offering neither GSSAPI nor NTLM.
type Error struct {
	Op      string // "credentials", "context", "wrap", "offer"
	Package string // "Kerberos", "NTLM", or "" before one was chosen
	Account string // the account or principal, when known
	Msg     string
	Err     error
}

func (e *Error) Error() string {
	s := "authmech/system: " + e.Op
	if e.Package != "" {
		s += " (" + e.Package + ")"
	}
	s += ": " + e.Msg
	if e.Err != nil && e.Err != ErrNoCredentials {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Hint returns advice for the operator.
func (e *Error) Hint() string {
	if h := platformHint(e); h != "" {
		return h
	}
	switch {
	case errors.Is(e.Err, ErrNoCredentials):
		return hintNoCredentials
	case errors.Is(e.Err, authmech.ErrNotOffered):
		return "the server offers neither GSSAPI nor NTLM: enable Kerberos (GSSAPI) or Windows integrated authentication on the relay's receive connector, or use a mechanism with a user and password"
	case e.Op == "context" && e.Package == "Kerberos":
		return "the Kerberos exchange failed: check that this machine is in the domain (or has a ticket), that the relay's SPN smtp/<host> is registered (connect by that host name; --spn, auth.spn), and that the clocks agree"
	case e.Op == "context" && e.Package == "NTLM":
		return "NTLM through SSPI failed: the account may have no domain credentials (a local account; under Wine, no winbindd holding cached credentials for ntlm_auth), the domain policy may refuse outgoing NTLM (Network security: Restrict NTLM), or the relay does not accept this account"
	}
	return ""
}

// client describes itself without secrets (there are none).
func describe(pkg, account string) string {
	if pkg == "" {
		return "system.Client{}"
	}
	return fmt.Sprintf("system.Client{package: %s, account: %s}", pkg, account)
}
