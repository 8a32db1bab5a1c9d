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

// A TokenSource supplies OAuth 2.0 access tokens for XOAUTH2 and
// OAUTHBEARER. golang.org/x/oauth2's TokenSource is adapted to it by the
// caller, which keeps this package free of that dependency.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a TokenSource that always returns the same token.
type StaticToken Secret

// Token returns the token.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// String, GoString, LogValue and MarshalText redact the token as Secret
// does, so Credentials print safely.
func (t StaticToken) String() string               { return Secret(t).String() }
func (t StaticToken) GoString() string             { return "authmech.StaticToken(\"" + Secret(t).String() + "\")" }
func (t StaticToken) LogValue() slog.Value         { return Secret(t).LogValue() }
func (t StaticToken) MarshalText() ([]byte, error) { return Secret(t).MarshalText() }

// Credentials are what a mechanism authenticates with. Which fields a
// mechanism needs depends on it: Username and Password for PLAIN, LOGIN,
// CRAM-MD5, SCRAM and NTLM; Username and Token for XOAUTH2 and
// OAUTHBEARER; the Kerberos fields for GSSAPI.
type Credentials struct {
	Username string
	Password Secret
	// Authzid is the authorization identity (act as this user), for PLAIN,
	// SCRAM and OAUTHBEARER. Empty means the same as Username.
	Authzid string
	// Token supplies OAuth 2.0 access tokens.
	Token TokenSource
	// Domain and Workstation are NTLM's; "DOMAIN\user" and "user@domain"
	// forms of Username are understood too.
	Domain      string
	Workstation string
	// Kerberos configures GSSAPI.
	Kerberos Kerberos
}

// Kerberos configures the GSSAPI mechanism. With neither Keytab nor CCache,
// Credentials.Password is used to obtain a ticket; with none of the three,
// the credential cache named by KRB5CCNAME is used ("the account the service
// runs as").
type Kerberos struct {
	// Config is the krb5.conf path; empty means KRB5_CONFIG or
	// /etc/krb5.conf.
	Config string
	// Realm overrides the user's realm (default: from the user name
	// "user@REALM", else krb5.conf's default_realm).
	Realm  string
	Keytab string
	CCache string
	// SPN is the service principal; empty means smtp/<server host name>.
	SPN string
}

// Mechanism describes one SASL mechanism in a Registry.
type Mechanism struct {
	// Name is the SASL name servers advertise, upper-case.
	Name string
	// New makes a Client for one exchange.
	New func(Credentials) (Client, error)
	// Satisfies reports whether creds carry what the mechanism needs; auto
	// skips mechanisms whose Satisfies is false. Nil means always.
	Satisfies func(Credentials) bool
	// Rank orders mechanisms for auto: the highest rank the server offers
	// and the credentials satisfy wins. Zero keeps the mechanism out of
	// auto altogether.
	Rank int
}

// ErrUnknownMechanism is returned for a name the Registry does not know.
var ErrUnknownMechanism = errors.New("authmech: unknown mechanism")

// Names the Registry treats specially.
const (
	// None means no AUTH at all; Registry.Client returns a nil Client.
	None = "NONE"
	// Auto picks the strongest mechanism the server offers.
	Auto = "AUTO"
)

// Ranks of the built-in mechanisms for auto, strongest first: a mechanism
// that never sends a reusable secret and proves the server (GSSAPI, SCRAM)
// before one that does not (NTLM, CRAM-MD5), and those before ones that
// send the secret itself (bearer tokens, PLAIN, LOGIN).
const (
	RankGSSAPI      = 100
	RankSCRAMSHA256 = 90
	RankSCRAMSHA1   = 80
	RankNTLM        = 70
	RankCRAMMD5     = 60
	RankOAUTHBEARER = 50
	RankXOAUTH2     = 45
	RankPLAIN       = 20
	RankLOGIN       = 10
)

// A Registry maps mechanism names and aliases to mechanisms. It is safe
// for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	mechs   map[string]Mechanism
	aliases map[string]string
}

// NewRegistry returns a Registry holding the built-in mechanisms: PLAIN,
// LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2 and OAUTHBEARER, and
// the admin-screen aliases. GSSAPI and NTLM are added by their packages.
func NewRegistry() *Registry {
	r := &Registry{mechs: map[string]Mechanism{}, aliases: map[string]string{}}
	hasPassword := func(c Credentials) bool { return c.Username != "" && c.Password != "" }
	hasToken := func(c Credentials) bool { return c.Token != nil }
	builtins := []struct {
		m       Mechanism
		aliases []string
	}{
		{Mechanism{Name: "PLAIN", New: newPlain, Satisfies: hasPassword, Rank: RankPLAIN}, []string{"SASLPLAIN", "LoginPlainMethod"}},
		{Mechanism{Name: "LOGIN", New: newLogin, Satisfies: hasPassword, Rank: RankLOGIN}, []string{"USER_PASSWORD", "AuthLoginMethod"}},
		{Mechanism{Name: "CRAM-MD5", New: newCRAMMD5, Satisfies: hasPassword, Rank: RankCRAMMD5}, []string{"CRAMMD5", "CramMD5Method"}},
		{Mechanism{Name: "SCRAM-SHA-1", New: newSCRAMSHA1, Satisfies: hasPassword, Rank: RankSCRAMSHA1}, nil},
		{Mechanism{Name: "SCRAM-SHA-256", New: newSCRAMSHA256, Satisfies: hasPassword, Rank: RankSCRAMSHA256}, nil},
		{Mechanism{Name: "XOAUTH2", New: newXOAUTH2, Satisfies: hasToken, Rank: RankXOAUTH2}, nil},
		{Mechanism{Name: "OAUTHBEARER", New: newOAUTHBEARER, Satisfies: hasToken, Rank: RankOAUTHBEARER}, nil},
	}
	for _, b := range builtins {
		if err := r.Register(b.m, b.aliases...); err != nil {
			panic(err) // the built-in table is static
		}
	}
	for _, a := range []string{"NoLoginMethod", "anonymous", "none"} {
		r.aliases[fold(a)] = None
	}
	r.aliases[fold("auto")] = Auto
	r.aliases[fold("KERBEROS")] = "GSSAPI"
	return r
}

func fold(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// Register adds m under its name and the given aliases, replacing a
// mechanism of the same name. It refuses an empty name, a nil New, and the
// reserved names NONE and AUTO.
func (r *Registry) Register(m Mechanism, aliases ...string) error {
	name := fold(m.Name)
	if name == "" || m.New == nil {
		return errors.New("authmech: Register needs a name and a New function")
	}
	if name == None || name == Auto {
		return fmt.Errorf("authmech: %s is a reserved name", name)
	}
	for _, c := range name {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("authmech: %q is not a SASL mechanism name", m.Name)
		}
	}
	m.Name = name
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mechs[name] = m
	for _, a := range aliases {
		r.aliases[fold(a)] = name
	}
	return nil
}

// Canonical returns the SASL name for name or one of its aliases, None,
// or Auto; ok is false for an unknown name. A known alias of a mechanism
// that is not registered (KERBEROS without the gssapi package) is unknown.
func (r *Registry) Canonical(name string) (canon string, ok bool) {
	n := fold(name)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if a, found := r.aliases[n]; found {
		n = a
	}
	if n == None || n == Auto || n == "" {
		if n == "" {
			n = None
		}
		return n, true
	}
	_, ok = r.mechs[n]
	return n, ok
}

// Names lists the registered mechanisms, strongest first.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Mechanism
	for _, m := range r.mechs {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rank != out[j].Rank {
			return out[i].Rank > out[j].Rank
		}
		return out[i].Name < out[j].Name
	})
	names := make([]string, len(out))
	for i, m := range out {
		names[i] = m.Name
	}
	return names
}

func (r *Registry) lookup(name string) (Mechanism, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m, ok := r.mechs[name]
	return m, ok
}

// Client returns a Client for the named mechanism (a SASL name, an alias,
// "auto") with creds. For "none" (and its aliases, and the empty name) it
// returns a nil Client and no error: the caller sends no AUTH. The error
// for an unknown name wraps ErrUnknownMechanism.
func (r *Registry) Client(name string, creds Credentials) (Client, error) {
	canon, ok := r.Canonical(name)
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s, auto, none)", ErrUnknownMechanism, name, strings.Join(r.Names(), ", "))
	}
	switch canon {
	case None:
		return nil, nil
	case Auto:
		return &AutoClient{reg: r, creds: creds}, nil
	}
	m, _ := r.lookup(canon)
	return m.New(creds)
}

// describe is what every built-in client prints as under %v, %+v and %#v:
// the mechanism and user, never the secret (fmt cannot call Secret's
// String method on an unexported field, so the clients say it themselves).
func describe(mech, user string) string { return "authmech." + mech + "{user: " + user + "}" }

func (p *plainClient) String() string   { return describe("PLAIN", p.c.Username) }
func (p *plainClient) GoString() string { return p.String() }
func (l *loginClient) String() string   { return describe("LOGIN", l.c.Username) }
func (l *loginClient) GoString() string { return l.String() }
func (m *cramClient) String() string    { return describe("CRAM-MD5", m.c.Username) }
func (m *cramClient) GoString() string  { return m.String() }
func (s *scramClient) String() string   { return describe(s.name, s.c.Username) }
func (s *scramClient) GoString() string { return s.String() }
func (o *oauthClient) String() string   { return describe(o.name(), o.c.Username) }
func (o *oauthClient) GoString() string { return o.String() }
func (a *AutoClient) String() string    { return describe("auto", a.creds.Username) }
func (a *AutoClient) GoString() string  { return a.String() }
