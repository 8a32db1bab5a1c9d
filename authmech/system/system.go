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
// NewSSPI is the other use of SSPI on Windows (the "sspi" provider): SASL
// GSSAPI or AUTH NTLM with explicit credentials, a user (DOMAIN\user,
// user@domain or user) and a password, handed to
// AcquireCredentialsHandle instead of the logon session's. It shares the
// exchange (security layer included) with the system mechanism. It is
// Windows-only: elsewhere NewSSPI returns ErrSSPIWindowsOnly.
//
// The mechanism sent on the wire is GSSAPI or NTLM; the client's User
// method names the account and the security package used, which the probe
// and the audit trail report. When no credentials can be found, Start
// returns an *Error with a hint.
package system

import (
	"errors"
	"fmt"
	"strings"

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

// ProviderSSPI is the name of the provider that runs GSSAPI and NTLM
// through SSPI with explicit credentials (NewSSPI).
const ProviderSSPI = "sspi"

// ErrSSPIWindowsOnly is returned by NewSSPI on systems other than Windows.
var ErrSSPIWindowsOnly = errors.New("authmech/system: the SSPI provider is Windows-only (SSPI is the Windows security API); elsewhere leave the provider empty for the built-in NTLM and GSSAPI")

// ErrSSPIMechanism is returned by NewSSPI for a mechanism SSPI does not
// provide here: only GSSAPI, NTLM and auto (whichever of the two the
// server offers, GSSAPI first).
var ErrSSPIMechanism = errors.New("authmech/system: the SSPI provider runs GSSAPI and NTLM only (or auto, which picks between them)")

// ErrSSPICredentials is returned by NewSSPI without a user name or a
// password.
var ErrSSPICredentials = errors.New("authmech/system: the SSPI provider with explicit credentials needs a user name (DOMAIN\\user, user@domain or user) and a password")

// NewSSPI returns a client that authenticates through SSPI with c's user
// name and password (explicit credentials, not the process's account):
// mech is "GSSAPI" (the Kerberos package), "NTLM" (the NTLM package) or
// authmech.Auto (GSSAPI when the server offers it, else NTLM).
// c.Kerberos.SPN overrides the service principal smtp/<host>; the other
// Kerberos fields are the built-in GSSAPI's and must be empty. The user
// name is split into domain and user at a backslash (DOMAIN\user) or at
// the last "@" (user@domain); a bare user has no domain. Errors are
// ErrSSPIWindowsOnly (not Windows), ErrSSPIMechanism or
// ErrSSPICredentials.
func NewSSPI(c authmech.Credentials, mech string) (authmech.Client, error) {
	switch mech {
	case "GSSAPI", "NTLM":
	case authmech.Auto:
		mech = ""
	default:
		return nil, fmt.Errorf("%w, not %s", ErrSSPIMechanism, mech)
	}
	if c.Username == "" || c.Password == "" {
		return nil, ErrSSPICredentials
	}
	if c.Kerberos.Keytab != "" || c.Kerberos.CCache != "" {
		return nil, errors.New("authmech/system: the SSPI provider takes a user and password, not a keytab or credential cache (those are the built-in GSSAPI's)")
	}
	return newSSPI(c, mech)
}

// splitAccount splits a user name given as DOMAIN\user or user@domain into
// its domain and user; a name with neither has no domain.
func splitAccount(name string) (domain, user string) {
	if d, u, ok := strings.Cut(name, `\`); ok {
		return d, u
	}
	if i := strings.LastIndex(name, "@"); i > 0 {
		return name[i+1:], name[:i]
	}
	return "", name
}

// Error is a failure of the system mechanism that is not the server's
// answer: no credentials, a security package that failed, a server
// offering neither GSSAPI nor NTLM.
type Error struct {
	Op      string // "credentials", "context", "wrap", "offer"
	Package string // "Kerberos", "NTLM", or "" before one was chosen
	Account string // the account or principal, when known
	// Explicit is set when the credentials were a user and password given
	// to the SSPI provider, not the process's account.
	Explicit bool
	Msg      string
	Err      error
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
	case e.Explicit && (e.Op == "credentials" || e.Op == "context"):
		return "SSPI could not authenticate with the user and password given (" + e.Package + "): check the user name (DOMAIN\\user or user@domain, the domain as the relay's domain knows it) and the password, that the domain (a domain controller, or the Kerberos realm's KDC) can be reached, and for Kerberos that the relay's SPN smtp/<host> is registered and the clocks agree"
	case errors.Is(e.Err, ErrNoCredentials):
		return hintNoCredentials
	case errors.Is(e.Err, authmech.ErrNotOffered):
		return "the server offers neither GSSAPI nor NTLM: enable Kerberos (GSSAPI) or Windows integrated authentication on the relay's receive connector, or use a mechanism with a user and password"
	case e.Op == "context" && e.Package == "Kerberos":
		return "the Kerberos exchange failed: check that this machine is in the domain (or has a ticket), that the relay's SPN smtp/<host> is registered (connect by that host name; --spn, auth.spn), and that the clocks agree"
	case e.Op == "context" && e.Package == "NTLM":
		return "NTLM through SSPI failed: the account may have no domain credentials (a local account with no domain credential saved for the relay in Credential Manager, cmdkey /add:HOST; under Wine, no winbindd holding cached credentials for ntlm_auth), the domain policy may refuse outgoing NTLM (Network security: Restrict NTLM), or the relay does not accept this account"
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
