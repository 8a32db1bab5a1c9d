package mailwarden

import (
	"context"
	"crypto"
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
	"mailwarden/internal/scrub"
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
	// Transcript, when not nil, receives the SMTP conversation through
	// the audit package's redacting writer (audit.Transcript): AUTH
	// exchanges and proxy credentials never reach it.
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
	// Progress, when not nil, is called as each send or enqueue goes
	// through its phases (see ProgressEvent): building, signing and
	// encrypting (with S/MIME), spooling, then for SMTP connecting,
	// transferring with the bytes written of the total, and done. It gets
	// no content, addresses or secrets. It is called on the sending
	// goroutine, concurrently by concurrent sends (tell them apart by
	// MessageID), and must return quickly. Nil costs nothing.
	Progress func(ProgressEvent)
	// SpoolInMemory is the largest message Send and SendRaw keep in
	// memory (in reused buffers) while it is sent; a larger one is spooled
	// to a temporary file, so memory does not grow with attachments. Either
	// way a retry or a failover sends the very same bytes. Zero means
	// DefaultSpoolInMemory; a negative value spools every message to a file.
	SpoolInMemory int64
}

// DefaultSpoolInMemory is the largest message a Sender keeps in memory
// by default (see Options.SpoolInMemory). Measured with Sender.Send to an
// in-process sink: in memory is 1.3-1.8x as fast as a temporary file at
// 64 KiB, about even from 256 KiB to 1 MiB, and slower beyond.
const DefaultSpoolInMemory = 256 << 10

// A Sender sends mail as a Profile says. It is safe for concurrent use.
// Close it to release connections and seal the audit trail.
type Sender struct {
	profile     Profile // the plan's profile, preset applied
	delivery    delivery
	proxy       string
	proxyReason string
	rootCAs     *x509.CertPool // the system roots plus the profile's ca_file; nil without one
	// auditDegraded is the sink a fail-open trail could not open.
	auditDegraded error
	trail         *audit.Handler      // nil when the profile configures no audit sink
	progress      func(ProgressEvent) // Options.Progress
	smime         *smimeSetup         // nil when the profile has no S/MIME settings
	defaults      *messageDefaults
	logger        *slog.Logger       // the transport's events: audit trail and Options.Logger
	tokens        *oauth.TokenSource // nil unless the profile acquires OAuth tokens
	keys          []keyUse           // the private keys the profile uses, for Probe
	spoolMem      int64              // Options.SpoolInMemory, resolved
	closeOnce     sync.Once
	closeErr      error
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
	pl, err := resolvePlan(p)
	if err != nil {
		return nil, err
	}
	secrets := scrub.New() // filled as secrets are resolved (scrub.go)
	ctx = withSessionSecrets(ctx, secrets)
	s := &Sender{profile: pl.profile, defaults: pl.defaults, progress: opts.Progress, spoolMem: opts.SpoolInMemory}
	if s.spoolMem == 0 {
		s.spoolMem = DefaultSpoolInMemory
	}
	var d interface {
		delivery
		start(logger *slog.Logger, opts *Options) error
	}
	if pl.graph {
		d, err = s.newGraphDelivery(ctx, pl, opts, getenv)
	} else {
		d, err = s.newSMTPDelivery(ctx, pl, opts, getenv)
	}
	if err != nil {
		return nil, err
	}
	if s.smime, err = loadSMIME(ctx, s.profile, getenv, opts.Secrets); err != nil {
		return nil, err
	}
	if s.smime != nil && s.smime.key != nil {
		s.keys = append([]keyUse{*s.smime.key}, s.keys...)
	}
	if o := s.profile.Auth.OAuth; s.tokens != nil && isKeyRef(o.ClientKeyFile) {
		// Opened already for the token source; the pool makes this a lookup.
		k, err := openKeyRef(ctx, s.profile, getenv, opts.Secrets, "auth.oauth.client_key_file", o.ClientKeyFile)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, keyUse{use: "oauth-assertion", loc: k.Location, signer: k.Signer})
	}
	if err := s.openTrail(ctx); err != nil {
		return nil, err
	}
	s.logger = slog.New(&routeHandler{trail: s.trail, extra: handlerOf(opts.Logger), profile: s.profile.Name})
	if s.auditDegraded != nil {
		// The sinks that did open record the gap.
		s.logger.LogAttrs(ctx, slog.LevelWarn, "audit.sink_unavailable", slog.String("sink", "syslog"), slog.String("error", s.auditDegraded.Error()))
	}
	if err := d.start(s.logger, opts); err != nil {
		s.closeTrail()
		return nil, &ConfigError{Profile: s.profile.Name, Field: "servers", Err: err}
	}
	s.delivery = d
	return s, nil
}

// newSMTPDelivery completes NewSender for the SMTP transport: the session
// configuration every connection to the relays uses.
func (s *Sender) newSMTPDelivery(ctx context.Context, pl *plan, opts *Options, getenv func(string) string) (*smtpDelivery, error) {
	p := pl.profile
	cfg := &transport.Config{
		TLS:                pl.tls,
		HeloName:           p.HeloName,
		InsecureSkipVerify: p.InsecureSkipVerify,
		AllowPlaintextAuth: p.Auth.AllowPlaintext,
		Transcript:         redacting(opts.Transcript),
		Progress:           opts.Progress,
		DialTimeout:        p.Timeout,
		CommandTimeout:     p.Timeout,
	}
	// The timeout bounds the data phase as well (the body's transfer and
	// the final reply together, DATA and BDAT alike): a relay that never
	// answers the final "." must not hold a send for DataTimeout's ten
	// minutes.
	cfg.DataTimeout = p.Timeout
	tc, err := s.tlsConfig(ctx, getenv, opts.Secrets)
	if err != nil {
		return nil, err
	}
	cfg.TLSConfig = tc
	pl.applyNet(cfg)
	if cfg.Dialer, err = s.dialer(ctx, pl, pl.servers, getenv, opts, cfg.TLS); err != nil {
		return nil, err
	}
	newAuth, tokens, err := authFactory(ctx, p, pl.mechanism, &Options{Secrets: opts.Secrets, Getenv: getenv, HTTPClient: opts.HTTPClient})
	if err != nil {
		return nil, err
	}
	cfg.NewAuth = newAuth
	s.tokens = tokens
	cfg.Scrub = sessionSecrets(ctx).Scrub
	return &smtpDelivery{profile: p.Name, names: p.Servers, roundRobin: p.RoundRobin, servers: pl.servers, session: cfg}, nil
}

// start gives the session its logger and opens the relay pool.
func (d *smtpDelivery) start(logger *slog.Logger, opts *Options) error {
	d.session.Logger = logger
	strategy := transport.InOrder
	if d.roundRobin {
		strategy = transport.RoundRobin
	}
	r, err := transport.NewRelay(transport.RelayConfig{Servers: d.servers, Strategy: strategy, Session: d.session, MaxIdle: opts.MaxIdle})
	if err != nil {
		return err
	}
	d.relay = r
	return nil
}

// start gives the Graph client its logger.
func (d *graphDelivery) start(logger *slog.Logger, _ *Options) error {
	d.client.Logger = logger
	return nil
}

func handlerOf(l *slog.Logger) slog.Handler {
	if l == nil {
		return nil
	}
	return l.Handler()
}

// appendCAFile adds the certificates in the PEM file path to pool.
func appendCAFile(pool *x509.CertPool, path string) error {
	pem, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s holds no PEM certificate", path)
	}
	return nil
}

func (s *Sender) tlsConfig(ctx context.Context, getenv func(string) string, src SecretSource) (*tls.Config, error) {
	p := s.profile
	bad := func(field string, err error) (*tls.Config, error) {
		return nil, &ConfigError{Profile: p.Name, Field: field, Err: err}
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if p.CAFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if err := appendCAFile(pool, p.CAFile); err != nil {
			return bad("ca_file", err)
		}
		tc.RootCAs = pool
		s.rootCAs = pool
	}
	switch {
	case isKeyRef(p.ClientKeyFile):
		k, err := openKeyRef(ctx, p, getenv, src, "client_key_file", p.ClientKeyFile)
		if err != nil {
			return nil, err
		}
		cert, err := keyRefCert(ctx, p, getenv, src, "client_cert_file", p.ClientCertFile, k, loadFirstCert)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: k.Signer, Leaf: cert}}
		s.keys = append(s.keys, keyUse{use: "tls-client", loc: k.Location, signer: k.Signer})
	case isKeyRef(p.ClientCertFile):
		return nil, certRefWithoutKey(p, "client_cert_file")
	case p.ClientCertFile != "" || p.ClientKeyFile != "": // not both forms: the plan checked
		cert, err := tls.LoadX509KeyPair(p.ClientCertFile, p.ClientKeyFile)
		if err != nil {
			return bad("client_cert_file", err)
		}
		tc.Certificates = []tls.Certificate{cert}
		if signer, ok := cert.PrivateKey.(crypto.Signer); ok {
			s.keys = append(s.keys, keyUse{use: "tls-client", loc: fileLocation(p.ClientKeyFile), signer: signer})
		}
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
		if signer, ok := key.(crypto.Signer); ok {
			s.keys = append(s.keys, keyUse{use: "tls-client", loc: fileLocation(p.ClientP12File), signer: signer})
		}
	}
	return tc, nil
}

// dialer builds the proxy dialer the plan asks for, or nil for direct.
// servers are where it will connect (for proxy "auto", which may choose
// per destination). An https:// proxy's certificate is verified against
// the same roots as the relay's (the system's plus ca_file).
func (s *Sender) dialer(ctx context.Context, pl *plan, servers []transport.Address, getenv func(string) string, opts *Options, mode transport.TLSMode) (transport.ContextDialer, error) {
	bad := func(field string, err error) (transport.ContextDialer, error) {
		return nil, &ConfigError{Profile: pl.profile.Name, Field: "proxy." + field, Err: err}
	}
	forward, err := pl.baseDialer(opts.Forward)
	if err != nil {
		return nil, err
	}
	fc := pl.proxy.config
	if pl.proxy.auto {
		// The environment may choose differently per server (NO_PROXY):
		// every server must come out the same, or the choice is ambiguous.
		for i, a := range servers {
			c, reason, err := firewall.FromEnvironment(getenv, a.HostPort(mode))
			if err != nil {
				return bad("url", err)
			}
			if i > 0 && c.String() != fc.String() {
				return bad("url", fmt.Errorf("the environment sends %s and %s through different proxies; configure the proxy explicitly", servers[0], a))
			}
			fc, s.proxyReason = c, reason
		}
	}
	if fc.Type == firewall.TypeNone {
		if opts.Forward != nil || s.profile.hasNetDialOptions() {
			return forward, nil
		}
		return nil, nil
	}
	if pl.proxy.password != "" {
		pw, err := pl.proxy.password.Resolve(ctx, getenv, opts.Secrets)
		if err != nil {
			return bad("password", err)
		}
		fc.Password = firewall.Secret(pw)
	}
	if s.rootCAs != nil && fc.TLSConfig == nil {
		fc.TLSConfig = &tls.Config{RootCAs: s.rootCAs, MinVersion: tls.VersionTLS12}
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

// openTrail opens the audit sinks the profile names. A tcp+tls syslog
// server's certificate is verified against the same roots as the relay's
// (the system's plus ca_file). Under audit.fail_open, a sink that cannot
// be opened (a syslog server that is down) is left out rather than
// refusing every send: the Sender goes on with the others, records the gap
// in them, and reports it by AuditDegraded.
func (s *Sender) openTrail(ctx context.Context) error {
	a := s.profile.Audit
	if a.File == "" && a.Syslog == "" && a.EventLog == "" {
		return nil
	}
	bad := func(field string, err error) error {
		return &ConfigError{Profile: s.profile.Name, Field: field, Err: err}
	}
	cfg := audit.Config{EventLog: a.EventLog}
	if a.File != "" {
		sync, err := auditSync(a.Sync)
		if err != nil {
			return bad("audit.sync", err)
		}
		cfg.File = &audit.FileConfig{Path: a.File, AnchorFile: a.AnchorFile, Sync: sync}
		if a.KeyFile != "" {
			key, err := audit.LoadKey(a.KeyFile)
			if err != nil {
				return bad("audit.key_file", err)
			}
			cfg.File.Key = key
		}
	}
	if a.Syslog != "" {
		sc, err := audit.ParseSyslogURL(a.Syslog)
		if err != nil {
			return bad("audit.syslog", err)
		}
		if !a.FailOpen && !sc.CanFailClose() {
			return bad("audit.syslog", fmt.Errorf("%w (%s)", audit.ErrSyslogFailOpenOnly, sc.Network))
		}
		if (sc.Network == audit.NetTLS || sc.Network == audit.NetRELPTLS) && s.rootCAs != nil {
			sc.TLS = &tls.Config{RootCAs: s.rootCAs, MinVersion: tls.VersionTLS12}
		}
		cfg.SyslogConfig = &sc
	}
	if a.FailOpen {
		cfg.Policy = audit.FailOpen
	}
	if a.Syslog != "" {
		if _, err := audit.ParseSyslogURL(a.Syslog); err != nil {
			return &ConfigError{Profile: s.profile.Name, Field: "audit.syslog", Err: err}
		}
	}
	h, err := audit.New(ctx, cfg)
	if err != nil && a.FailOpen && cfg.SyslogConfig != nil {
		s.auditDegraded = fmt.Errorf("audit: syslog %s cannot be reached; sending without it (fail-open): %w", a.Syslog, err)
		cfg.SyslogConfig = nil
		if cfg.File == nil && cfg.EventLog == "" {
			return nil
		}
		h, err = audit.New(ctx, cfg)
	}
	if err != nil {
		// The settings are valid (checked above); the trail cannot be
		// opened now (a directory missing or not writable, a full disk, a
		// collector that does not answer): an audit failure, not a usage
		// error.
		return &ConfigError{Profile: s.profile.Name, Field: "audit", Err: fmt.Errorf("%w (it cannot be opened): %w", ErrAuditFailed, err)}
	}
	s.trail = h
	return nil
}

// AuditDegraded reports an audit sink that a fail-open profile could not
// open (its syslog server was down when the Sender was made): sends go on
// without it. nil when every sink is open.
func (s *Sender) AuditDegraded() error { return s.auditDegraded }

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
		if s.delivery != nil {
			err = s.delivery.close()
		}
		s.closeErr = errors.Join(err, s.closeTrail())
	})
	return s.closeErr
}

// Profile returns the profile the sender was made from, with its provider
// preset applied.
func (s *Sender) Profile() Profile { return s.profile }

// PlaintextByChoice reports whether the profile sends to every one of its
// SMTP servers without TLS by its own setting (tls none, or each address
// saying -nossl), as planned when the sender was made. A message that went
// unencrypted because TLS auto found no STARTTLS was not sent so by choice.
func (s *Sender) PlaintextByChoice() bool {
	d, ok := s.delivery.(*smtpDelivery)
	if !ok || len(d.servers) == 0 {
		return false
	}
	for _, a := range d.servers {
		if a.Mode(d.session.TLS) != transport.TLSNone {
			return false
		}
	}
	return true
}

// Proxy returns the proxy the sender goes through (a URL without
// credentials), "" when direct, and for "auto" why it was chosen.
func (s *Sender) Proxy() (proxy, reason string) { return s.proxy, s.proxyReason }

// redacting returns w behind the audit package's redacting transcript
// writer (AUTH exchanges and proxy credentials removed), unless it is one
// already; nil stays nil.
func redacting(w io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	if t, ok := w.(*audit.Transcript); ok {
		return t
	}
	return audit.NewTranscript(w)
}

// ErrAuditFailed is wrapped by the error of a send or probe that the audit
// trail could not record under the fail-closed policy.
var ErrAuditFailed = errors.New("mailwarden: the audit trail could not record this send")
