package authmech

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// A TokenSource supplies OAuth 2.0 access tokens for XOAUTH2 and OAUTHBEARER.
// It has the shape of golang.org/x/oauth2's TokenSource reduced to what SASL
// needs, so that this package does not depend on x/oauth2; adapt one with a
// few lines:
//
//	authmech.TokenFunc(func(ctx context.Context) (string, error) {
//		t, err := ts.Token()
//		if err != nil {
//			return "", err
//		}
//		return t.AccessToken, nil
//	})
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// TokenFunc adapts a function to a TokenSource.
type TokenFunc func(ctx context.Context) (string, error)

// Token calls f(ctx).
func (f TokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// StaticToken is a TokenSource that always returns the same token.
type StaticToken Secret

// Token returns the token.
func (s StaticToken) Token(context.Context) (string, error) { return string(s), nil }

// String redacts the token.
func (s StaticToken) String() string { return Secret(s).String() }

// GoString redacts the token.
func (s StaticToken) GoString() string { return `authmech.StaticToken("` + Secret(s).String() + `")` }

// Kerberos holds the options of the GSSAPI mechanism. The zero value uses
// the default krb5.conf, the credential cache named by KRB5CCNAME (or the
// default one) and the service principal smtp/<server name>.
type Kerberos struct {
	// Config is the path of a krb5.conf; "" means KRB5_CONFIG or /etc/krb5.conf.
	Config string
	// Keytab is the path of a keytab holding the user's key; it is used
	// instead of the password when set.
	Keytab string
	// CCache is the path of a credential cache to use (the "run as the
	// service account" case); "" with neither Password nor Keytab set means
	// the cache named by KRB5CCNAME.
	CCache string
	// SPN overrides the service principal, e.g. "smtp/mail.example.com" or
	// "SMTPSVC/exch01.corp.example.com".
	SPN string
	// Realm overrides the realm of Username; "" means the realm in Username
	// (user@REALM) or the default realm of the configuration.
	Realm string
}

// Credentials are what a mechanism authenticates with. Each mechanism uses
// the fields it needs and reports ErrMissingCredentials when they are absent.
// Printing Credentials with any fmt verb or logging them with slog never
// shows the password.
type Credentials struct {
	// Username is the authentication identity. NTLM accepts "DOMAIN\user"
	// and "user@domain" as well as a plain user with NTLM.Domain.
	Username string
	// Password is the user's password (PLAIN, LOGIN, CRAM-MD5, SCRAM, NTLM,
	// and GSSAPI when neither a keytab nor a cache is given).
	Password Secret
	// Authzid is the optional authorization identity (act as another user),
	// for PLAIN, SCRAM and OAUTHBEARER.
	Authzid string
	// TokenSource supplies the access token for XOAUTH2 and OAUTHBEARER.
	TokenSource TokenSource
	// Kerberos holds the GSSAPI options.
	Kerberos Kerberos
	// NTLM holds the NTLM domain and workstation.
	NTLM NTLMOptions
}

// NTLMOptions holds the NTLM-specific parts of Credentials.
type NTLMOptions struct {
	// Domain is the user's domain when Username does not carry one.
	Domain string
	// Workstation is the client machine name sent to the server; "" sends none.
	Workstation string
}

func (c Credentials) hasPassword() bool { return c.Username != "" && c.Password != "" }

// ErrMissingCredentials is returned (wrapped) by a Factory when the
// Credentials lack what the mechanism needs, e.g. a password for PLAIN or a
// TokenSource for XOAUTH2. auto skips such mechanisms.
var ErrMissingCredentials = errors.New("authmech: credentials do not satisfy the mechanism")

// ErrUnknownMechanism is returned (wrapped in a *MechanismError) by
// Registry.Client for a name that is neither registered nor an alias.
var ErrUnknownMechanism = errors.New("authmech: unknown mechanism")

// A MechanismError reports a failure that belongs to one mechanism. It never
// holds a secret.
type MechanismError struct {
	Mech string // canonical SASL name, e.g. "SCRAM-SHA-256"
	Err  error
}

func (e *MechanismError) Error() string {
	return "authmech: " + e.Mech + ": " + trimPrefix(e.Err.Error())
}

// Unwrap returns the cause.
func (e *MechanismError) Unwrap() error { return e.Err }

func trimPrefix(s string) string { return strings.TrimPrefix(s, "authmech: ") }

func mechErr(mech string, err error) error { return &MechanismError{Mech: mech, Err: err} }

// A Factory makes a Client for one authentication from creds. It returns an
// error wrapping ErrMissingCredentials when creds cannot satisfy the
// mechanism; it must not contact the server or the network.
type Factory func(creds Credentials) (Client, error)

// None is the canonical name of "do not authenticate". Registry.Client
// returns a nil Client and a nil error for it and its aliases (NoLoginMethod,
// anonymous, none); the transport then skips AUTH.
const None = "NONE"

// Auto is the canonical name of the mechanism that picks the strongest one
// the server offers; see Registry.Client.
const Auto = "AUTO"

// A Registry maps mechanism names and aliases to factories. The zero value
// is empty; NewRegistry returns one holding the built-ins. A Registry is
// safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	mechs   map[string]Factory // canonical upper-case name
	aliases map[string]string  // upper-case alias -> canonical name
}

// NewRegistry returns a Registry with the built-in mechanisms and aliases:
// PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER,
// auto and none. GSSAPI is added by the authmech/gssapi package.
func NewRegistry() *Registry {
	r := &Registry{}
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(r.Register("PLAIN", newPlain, "SASLPLAIN", "LoginPlainMethod"))
	must(r.Register("LOGIN", newLogin, "USER_PASSWORD", "AuthLoginMethod"))
	must(r.Register("CRAM-MD5", newCRAMMD5, "CRAMMD5", "CramMD5Method"))
	must(r.Register("SCRAM-SHA-1", newSCRAMSHA1))
	must(r.Register("SCRAM-SHA-256", newSCRAMSHA256))
	must(r.Register("XOAUTH2", newXOAUTH2))
	must(r.Register("OAUTHBEARER", newOAUTHBEARER))
	must(r.Alias("GSSAPI", "KERBEROS"))
	return r
}

// Register adds the mechanism name (its SASL name, as servers advertise it)
// with its factory and optional aliases. Names are case-insensitive. It
// fails if name or an alias is already taken, or names auto or none.
func (r *Registry) Register(name string, f Factory, aliases ...string) error {
	if f == nil {
		return errors.New("authmech: Register: nil factory")
	}
	canon := strings.ToUpper(name)
	if err := validName(canon); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mechs == nil {
		r.mechs = make(map[string]Factory)
	}
	if _, ok := r.mechs[canon]; ok {
		return fmt.Errorf("authmech: mechanism %q already registered", canon)
	}
	if _, ok := r.aliases[canon]; ok {
		return fmt.Errorf("authmech: %q is already an alias", canon)
	}
	r.mechs[canon] = f
	return r.aliasLocked(canon, aliases)
}

// Alias makes each alias name the mechanism canon. canon need not be
// registered yet (NewRegistry aliases KERBEROS to GSSAPI before
// gssapi.Register runs).
func (r *Registry) Alias(canon string, aliases ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.aliasLocked(strings.ToUpper(canon), aliases)
}

func (r *Registry) aliasLocked(canon string, aliases []string) error {
	if r.aliases == nil {
		r.aliases = make(map[string]string)
	}
	for _, a := range aliases {
		ua := strings.ToUpper(a)
		if err := validName(ua); err != nil {
			return err
		}
		if _, ok := r.mechs[ua]; ok {
			return fmt.Errorf("authmech: alias %q is a mechanism name", a)
		}
		if old, ok := r.aliases[ua]; ok && old != canon {
			return fmt.Errorf("authmech: alias %q already names %s", a, old)
		}
		r.aliases[ua] = canon
	}
	return nil
}

var reserved = map[string]string{
	"AUTO": Auto, "NONE": None, "NOLOGINMETHOD": None, "ANONYMOUS": None,
}

func validName(n string) error {
	if n == "" || len(n) > 64 {
		return fmt.Errorf("authmech: invalid mechanism name %q", n)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("authmech: invalid mechanism name %q", n)
		}
	}
	if _, ok := reserved[n]; ok {
		return fmt.Errorf("authmech: %q is reserved", n)
	}
	return nil
}

// Canonical returns the canonical name for name or an alias of it: a SASL
// mechanism name such as "CRAM-MD5", Auto or None. ok is false for an
// unknown name.
func (r *Registry) Canonical(name string) (canon string, ok bool) {
	u := strings.ToUpper(strings.TrimSpace(name))
	if c, ok := reserved[u]; ok {
		return c, true
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if c, ok := r.aliases[u]; ok {
		u = c
	}
	_, ok = r.mechs[u]
	return u, ok
}

// Mechanisms returns the registered SASL names, sorted.
func (r *Registry) Mechanisms() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.mechs))
	for n := range r.mechs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Client returns a new Client for one authentication with the mechanism
// name (a SASL name or an alias, case-insensitive) and creds.
//
// For None and its aliases it returns (nil, nil): the caller must skip AUTH.
// For Auto it returns an *AutoClient. For an unknown name the error wraps
// ErrUnknownMechanism; when creds lack what the mechanism needs, it wraps
// ErrMissingCredentials. Errors are *MechanismError and never hold a secret.
func (r *Registry) Client(name string, creds Credentials) (Client, error) {
	canon, ok := r.Canonical(name)
	switch {
	case canon == None:
		return nil, nil
	case canon == Auto:
		return &AutoClient{reg: r, creds: creds}, nil
	case !ok:
		return nil, mechErr(strings.ToUpper(strings.TrimSpace(name)), ErrUnknownMechanism)
	}
	r.mu.RLock()
	f := r.mechs[canon]
	r.mu.RUnlock()
	c, err := f(creds)
	if err != nil {
		var me *MechanismError
		if errors.As(err, &me) {
			return nil, err
		}
		return nil, mechErr(canon, err)
	}
	return c, nil
}

func (r *Registry) factory(canon string) Factory {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.mechs[canon]
}

// redacted is embedded in every Client so that printing one with any fmt
// verb or logging it with slog shows no field, secret or derived key.
type redacted struct{}

func (redacted) String() string       { return "authmech.Client{[REDACTED]}" }
func (redacted) GoString() string     { return "authmech.Client{[REDACTED]}" }
func (redacted) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// MarshalText redacts the token.
func (s StaticToken) MarshalText() ([]byte, error) { return Secret(s).MarshalText() }

// LogValue redacts the token.
func (s StaticToken) LogValue() slog.Value { return Secret(s).LogValue() }
