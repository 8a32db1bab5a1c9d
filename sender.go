package mailwarden

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"

	"software.sslmate.com/src/go-pkcs12"

	"mailwarden/audit"
	"mailwarden/firewall"
	"mailwarden/oauth"
	"mailwarden/transport"
)

// Options carry what a Profile cannot: the embedding program's vault, its
// environment, and extra observers. The zero Options are usable.
type Options struct {
	// Secrets resolves SecretRefs other than env: and file:.
	Secrets SecretSource
	// Getenv reads the environment (SecretRefs, proxy "auto"); nil is
	// os.Getenv.
	Getenv func(string) string
	// Logger, when not nil, also receives every transport event (for
	// example a program's own structured log). The audit trail the Profile
	// configures gets them regardless.
	Logger *slog.Logger
	// Transcript, when not nil, receives the SMTP conversation with
	// authentication redacted.
	Transcript io.Writer
	// Forward is the dialer proxies are reached through (and the relay when
	// there is no proxy); nil is a net.Dialer.
	Forward firewall.Dialer
	// HTTPClient makes the HTTPS requests: OAuth 2.0 token requests and
	// the Microsoft Graph transport. nil means, for token requests of an
	// SMTP profile, a client that honours HTTPS_PROXY and NO_PROXY, follows
	// no redirects and allows each request oauth.DefaultHTTPTimeout; the
	// graph transport then uses its own client (the profile's TLS, proxy
	// and timeout) for both.
	HTTPClient *http.Client
	// MaxIdle is how many idle SMTP connections are kept for reuse; zero
	// means 2. An Outbox delivering with Concurrency n reuses connections
	// fully with MaxIdle >= n.
	MaxIdle int
}

// A Sender sends mail as a Profile says. It is safe for concurrent use.
// Close it to release connections and seal the audit trail.
type Sender struct {
	profile     Profile
	servers     []transport.Address
	session     *transport.Config
	relay       *transport.Relay
	proxy       string
	proxyReason string
	trail       *audit.Handler // nil when the profile configures no audit sink
	smime       *smimeSetup    // nil when the profile has no S/MIME settings
	defaults    *messageDefaults
	logger      *slog.Logger       // the transport's events: audit trail and Options.Logger
	tokens      *oauth.TokenSource // nil unless the profile acquires OAuth tokens
	graph       *graphSetup        // nil unless the profile's transport is graph
	closeOnce   sync.Once
	closeErr    error
}

// ConfigError is returned by NewSender for a profile that cannot work. It
// names the profile and the field.
type ConfigError struct {
	File    string // the configuration file, when the profile came from one
	Profile string
	Field   string // e.g. "auth.password"; empty when the whole file is at fault
	Err     error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("mailwarden: ")
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	if e.Profile != "" || e.File == "" {
		name := e.Profile
		if name == "" {
			name = "(unnamed)"
		}
		b.WriteString("profile " + name + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	fmt.Fprint(&b, e.Err)
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// NewSender validates p, resolves its secrets, opens its audit trail and
// returns a Sender. No connection is made until Send or Probe. Errors are
// *ConfigError.
func NewSender(ctx context.Context, p Profile, opts *Options) (*Sender, error) {
	if opts == nil {
		opts = &Options{}
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	bad := func(field string, err error) (*Sender, error) {
		return nil, &ConfigError{Profile: p.Name, Field: field, Err: err}
	}
	p, err := p.WithPreset()
	if err != nil {
		return nil, err
	}
	s := &Sender{profile: p}
	if s.defaults, err = parseDefaults(p); err != nil {
		return nil, err
	}
	switch strings.ToLower(p.Transport) {
	case "", "smtp":
	case "graph":
		return newGraphSender(ctx, s, opts, getenv)
	default:
		return bad("transport", fmt.Errorf("unknown transport %q (want smtp or graph)", p.Transport))
	}
	if len(p.Servers) == 0 {
		return bad("servers", errors.New("at least one server is required"))
	}
	for _, a := range p.Servers {
		addr, err := transport.ParseAddress(a)
		if err != nil {
			return bad("servers", err)
		}
		s.servers = append(s.servers, addr)
	}
	cfg := &transport.Config{
		HeloName:           p.HeloName,
		InsecureSkipVerify: p.InsecureSkipVerify,
		AllowPlaintextAuth: p.Auth.AllowPlaintext,
		Transcript:         opts.Transcript,
	}
	if p.TLS != "" {
		m, err := transport.ParseTLSMode(p.TLS)
		if err != nil {
			return bad("tls", err)
		}
		cfg.TLS = m
	} else {
		cfg.TLS = transport.TLSAuto
	}
	if p.Timeout < 0 {
		return bad("timeout", errors.New("must not be negative"))
	}
	cfg.DialTimeout, cfg.CommandTimeout = p.Timeout, p.Timeout
	tc, err := s.tlsConfig(ctx, getenv, opts.Secrets)
	if err != nil {
		return nil, err
	}
	cfg.TLSConfig = tc
	if err := p.applyNet(cfg); err != nil {
		return nil, err
	}

	d, err := s.dialer(ctx, getenv, opts, cfg.TLS)
	if err != nil {
		return nil, err
	}
	cfg.Dialer = d

	newAuth, tokens, err := authFactory(ctx, p, &Options{Secrets: opts.Secrets, Getenv: getenv, HTTPClient: opts.HTTPClient})
	if err != nil {
		return nil, err
	}
	cfg.NewAuth = newAuth
	s.tokens = tokens

	if s.smime, err = loadSMIME(ctx, p, getenv, opts.Secrets); err != nil {
		return nil, err
	}

	if err := s.openTrail(ctx); err != nil {
		return nil, err
	}
	cfg.Logger = slog.New(&routeHandler{trail: s.trail, extra: handlerOf(opts.Logger), profile: p.Name})
	s.session = cfg
	s.logger = cfg.Logger

	strategy := transport.InOrder
	if p.RoundRobin {
		strategy = transport.RoundRobin
	}
	r, err := transport.NewRelay(transport.RelayConfig{Servers: s.servers, Strategy: strategy, Session: cfg, MaxIdle: opts.MaxIdle})
	if err != nil {
		s.closeTrail()
		return bad("servers", err)
	}
	s.relay = r
	return s, nil
}

func handlerOf(l *slog.Logger) slog.Handler {
	if l == nil {
		return nil
	}
	return l.Handler()
}

func (s *Sender) tlsConfig(ctx context.Context, getenv func(string) string, src SecretSource) (*tls.Config, error) {
	p := s.profile
	bad := func(field string, err error) (*tls.Config, error) {
		return nil, &ConfigError{Profile: p.Name, Field: field, Err: err}
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if p.CAFile != "" {
		pem, err := os.ReadFile(p.CAFile)
		if err != nil {
			return bad("ca_file", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return bad("ca_file", fmt.Errorf("%s holds no PEM certificate", p.CAFile))
		}
		tc.RootCAs = pool
	}
	switch {
	case p.ClientCertFile != "" || p.ClientKeyFile != "":
		if p.ClientP12File != "" {
			return bad("client_p12_file", errors.New("set either a PEM pair or a PKCS#12 file, not both"))
		}
		cert, err := tls.LoadX509KeyPair(p.ClientCertFile, p.ClientKeyFile)
		if err != nil {
			return bad("client_cert_file", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case p.ClientP12File != "":
		data, err := os.ReadFile(p.ClientP12File)
		if err != nil {
			return bad("client_p12_file", err)
		}
		pw, err := p.ClientP12Password.Resolve(ctx, getenv, src)
		if err != nil {
			return bad("client_p12_password", err)
		}
		key, cert, chain, err := pkcs12.DecodeChain(data, pw)
		if err != nil {
			// go-pkcs12's errors never contain the password.
			return bad("client_p12_file", fmt.Errorf("cannot open %s: %w", p.ClientP12File, err))
		}
		c := tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
		for _, ca := range chain {
			c.Certificate = append(c.Certificate, ca.Raw)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc, nil
}

// dialer builds the proxy dialer the profile asks for, or nil for direct.
func (s *Sender) dialer(ctx context.Context, getenv func(string) string, opts *Options, mode transport.TLSMode) (transport.ContextDialer, error) {
	p := s.profile.Proxy
	bad := func(field string, err error) (transport.ContextDialer, error) {
		return nil, &ConfigError{Profile: s.profile.Name, Field: "proxy." + field, Err: err}
	}
	forward, err := s.profile.baseDialer(opts.Forward)
	if err != nil {
		return nil, err
	}
	var fc firewall.Config
	switch {
	case strings.EqualFold(p.URL, "auto"):
		// The environment may choose differently per server (NO_PROXY):
		// every server must come out the same, or the choice is ambiguous.
		for i, a := range s.servers {
			c, reason, err := firewall.FromEnvironment(getenv, a.HostPort(mode))
			if err != nil {
				return bad("url", err)
			}
			if i > 0 && c.String() != fc.String() {
				return bad("url", fmt.Errorf("the environment sends %s and %s through different proxies; configure the proxy explicitly", s.servers[0], a))
			}
			fc, s.proxyReason = c, reason
		}
	case p.URL != "":
		c, err := firewall.ParseURL(p.URL)
		if err != nil {
			return bad("url", err)
		}
		fc = c
		if p.Password != "" {
			pw, err := p.Password.Resolve(ctx, getenv, opts.Secrets)
			if err != nil {
				return bad("password", err)
			}
			fc.Password = firewall.Secret(pw)
		}
		if p.User != "" {
			fc.User = p.User
		}
	case p.Type != "" || p.Host != "":
		t, err := firewall.ParseType(p.Type)
		if err != nil {
			return bad("type", err)
		}
		fc = firewall.Config{Type: t, Host: p.Host, Port: p.Port, User: p.User}
		if p.Password != "" {
			pw, err := p.Password.Resolve(ctx, getenv, opts.Secrets)
			if err != nil {
				return bad("password", err)
			}
			fc.Password = firewall.Secret(pw)
		}
	}
	if fc.Type == firewall.TypeNone {
		if opts.Forward != nil || s.profile.hasNetDialOptions() {
			return forward, nil
		}
		return nil, nil
	}
	if err := fc.Validate(); err != nil {
		return bad("url", err)
	}
	d, err := firewall.New(fc, forward)
	if err != nil {
		return bad("url", err)
	}
	s.proxy = d.Proxy()
	return d, nil
}

func (s *Sender) openTrail(ctx context.Context) error {
	a := s.profile.Audit
	if a.File == "" && a.Syslog == "" && a.EventLog == "" {
		if a.KeyFile != "" {
			return &ConfigError{Profile: s.profile.Name, Field: "audit.key_file", Err: errors.New("needs audit.file")}
		}
		return nil
	}
	cfg := audit.Config{Syslog: a.Syslog, EventLog: a.EventLog}
	if a.File != "" {
		cfg.File = &audit.FileConfig{Path: a.File}
		if a.KeyFile != "" {
			key, err := audit.LoadKey(a.KeyFile)
			if err != nil {
				return &ConfigError{Profile: s.profile.Name, Field: "audit.key_file", Err: err}
			}
			cfg.File.Key = key
		}
	} else if a.KeyFile != "" {
		return &ConfigError{Profile: s.profile.Name, Field: "audit.key_file", Err: errors.New("needs audit.file")}
	}
	if a.FailOpen {
		cfg.Policy = audit.FailOpen
	}
	h, err := audit.New(ctx, cfg)
	if err != nil {
		return &ConfigError{Profile: s.profile.Name, Field: "audit", Err: err}
	}
	s.trail = h
	return nil
}

func (s *Sender) closeTrail() error {
	if s.trail == nil {
		return nil
	}
	return s.trail.Close()
}

// Close closes idle connections and the audit trail (a trail file gets its
// closing seal). Sends after Close fail.
func (s *Sender) Close() error {
	s.closeOnce.Do(func() {
		var err error
		if s.relay != nil {
			err = s.relay.Close()
		}
		s.closeErr = errors.Join(err, s.closeTrail())
	})
	return s.closeErr
}

// Profile returns the profile the sender was made from, with its provider
// preset applied.
func (s *Sender) Profile() Profile { return s.profile }

// Proxy returns the proxy the sender goes through (a URL without
// credentials), "" when direct, and for "auto" why it was chosen.
func (s *Sender) Proxy() (proxy, reason string) { return s.proxy, s.proxyReason }

// ErrAuditFailed is wrapped by the error of a send or probe that the audit
// trail could not record under the fail-closed policy.
var ErrAuditFailed = errors.New("mailwarden: the audit trail could not record this send")
