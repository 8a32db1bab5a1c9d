package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"mailwarden"
)

// connFlags are the flags probe, send and the outbox share: where the relay
// is, how to reach it, how to secure and authenticate the session, and the
// audit trail. Every flag that sets a profile field is bound to that field
// in bindProfile, but for those diagFlags applies (-4/-6, send's DSN
// flags); the other flags live here.
type connFlags struct {
	fs          *flag.FlagSet
	config      string
	profileName string
	maxIdle     int // set by commands that keep several connections (outbox run)
	json        bool
	transcript  string
	smime       mailwarden.SMIMEConfig         // set by send from its S/MIME flags
	from        string                         // set by send from --from: the profile's From (send --test)
	diag        diagFlags                      // swaks-style session flags
	progress    func(mailwarden.ProgressEvent) // Options.Progress, set by commands with a progress display

	p       mailwarden.Profile // what the flags say
	secrets cliSecrets         // secrets given on the command line (--password)
}

func (c *connFlags) register(fs *flag.FlagSet) {
	c.fs = fs
	c.secrets = cliSecrets{}
	fs.StringVar(&c.config, "config", "", "configuration `FILE` with named profiles (default $MAILWARDEN_CONFIG); other flags override the profile's values")
	fs.StringVar(&c.profileName, "profile", "", "profile `NAME` in --config (default $MAILWARDEN_PROFILE, then the file's active profile)")
	bindProfile(fs, &c.p, c.secrets)
	fs.BoolVar(&c.json, "json", false, "print the result as one JSON object")
	fs.StringVar(&c.transcript, "transcript", "", "write the SMTP conversation to `FILE` ('-' for standard output; authentication redacted)")
	c.diag.register(fs)
}

// bindProfile binds every flag that sets a profile field to that field of
// p. Adding such a flag is one line here: the flags-only profile and the
// overlay onto a --config profile both come from it. Secrets given on the
// command line go into secrets.
func bindProfile(fs *flag.FlagSet, p *mailwarden.Profile, secrets cliSecrets) {
	fs.StringVar(&p.Provider, "provider", "", "provider `PRESET` that fills server, TLS and authentication: exchange-online, exchange-online-usgov, exchange-online-china, gmail, outlook.com, yahoo, custom (see: smtpcheck config presets)")
	fs.Var(&serverList{list: &p.Servers}, "server", "relay `ADDR`: host, host:port, host:587-starttls, host:465-ssl, host:465-nossl (repeat for failover)")
	fs.StringVar(&p.TLS, "tls", "auto", "TLS `MODE`: auto (STARTTLS when offered; implicit TLS on port 465), explicit (STARTTLS required), implicit, none")
	fs.StringVar(&p.HeloName, "helo", "", "`NAME` to send in EHLO/HELO (default: this host's fully qualified name, else the address literal of this end of the connection, e.g. [192.0.2.1])")
	fs.StringVar(&p.SourceAddress, "source-address", "", "local IP `ADDRESS` to connect from")
	fs.StringVar(&p.TLSMinVersion, "tls-min-version", "", "oldest TLS `VERSION` to accept: 1.2 (the default) or 1.3")
	fs.StringVar(&p.TLSServerName, "tls-server-name", "", "`NAME` to send in SNI and to verify in the relay's certificate (default: the server's host name)")
	fs.DurationVar(&p.Timeout, "timeout", 30*time.Second, "time limit for each step: dial, each command, and the message data (transfer and final reply)")
	fs.StringVar(&p.CAFile, "ca", "", "PEM `FILE` of extra certificate authorities to trust, for the relay, an https:// proxy, a tcp+tls:// or relp+tls:// syslog server and the Graph endpoint")
	fs.BoolVar(&p.InsecureSkipVerify, "insecure-skip-verify", false, "DANGEROUS: do not verify the relay's certificate")
	fs.Var(setClearing(&p.ClientCertFile, &p.ClientP12File), "client-cert", "client certificate PEM `FILE`")
	fs.StringVar(&p.ClientKeyFile, "client-key", "", "client key PEM `FILE`, or a key that stays on a token or in a store: pkcs11:token=...;object=... or certstore:CurrentUser/My?thumbprint=... (the certificate then comes from there unless --client-cert is given)")
	registerPKCS11(fs, &p.PKCS11)
	fs.Var(setClearing(&p.ClientP12File, &p.ClientCertFile, &p.ClientKeyFile), "client-p12", "client certificate and key as a PKCS#12 `FILE`")
	fs.Var(secretRef("file:", &p.ClientP12Password), "client-p12-password-file", "`FILE` holding the PKCS#12 password")
	a := &p.Auth
	fs.StringVar(&a.Mechanism, "auth", "", "authentication `MECH`: auto (the default when --user or a token is given), PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, SCRAM-SHA-1, NTLM, GSSAPI, XOAUTH2, OAUTHBEARER, none, or system (the account this process runs as: SSPI Kerberos or NTLM on Windows, the Kerberos credential cache KRB5CCNAME or client keytab KRB5_CLIENT_KTNAME elsewhere; no user or password)")
	fs.StringVar(&a.Provider, "auth-provider", "", "`PROVIDER` of NTLM and GSSAPI: empty for the built-in mechanisms, or sspi (Windows only) for Windows SSPI with --user (DOMAIN\\user, user@domain or user) and the password as explicit credentials; --auth is then NTLM, GSSAPI or auto (GSSAPI when offered, else NTLM)")
	fs.StringVar(&a.Username, "user", "", "user `NAME` for authentication")
	fs.Var(secretRef("file:", &a.Password), "password-file", "`FILE` holding the password (or set MAILWARDEN_PASSWORD)")
	fs.Var(cliSecret("cli:password", secrets, &a.Password), "password", "the `PASSWORD` itself (visible to other processes: prefer --password-file)")
	fs.StringVar(&a.Authzid, "authzid", "", "authorization `IDENTITY` (PLAIN)")
	fs.StringVar(&a.Krb5Conf, "krb5-conf", "", "krb5.conf `FILE` for GSSAPI")
	fs.StringVar(&a.Keytab, "keytab", "", "keytab `FILE` for GSSAPI")
	fs.StringVar(&a.CCache, "ccache", "", "Kerberos credential cache `FILE` (default KRB5CCNAME)")
	fs.StringVar(&a.SPN, "spn", "", "service principal `NAME` (default smtp/<server host>)")
	fs.Var(secretRef("file:", &a.OAuthToken), "oauth-token-file", "`FILE` holding an OAuth2 access token (XOAUTH2, OAUTHBEARER, --transport graph)")
	fs.Var(secretRef("env:", &a.OAuthToken), "oauth-token-env", "environment `VARIABLE` holding an OAuth2 access token (XOAUTH2, OAUTHBEARER, graph)")
	fs.BoolVar(&a.AllowPlaintext, "allow-plaintext-auth", false, "DANGEROUS: allow authentication without TLS: PLAIN, LOGIN, XOAUTH2, OAUTHBEARER (secret sent as is), CRAM-MD5, SCRAM-SHA-*, NTLM (crackable offline), GSSAPI (session takeover)")
	px := &p.Proxy
	fs.Var(setClearing(&px.URL, &px.Type, &px.Host), "proxy", "proxy `URL` (socks5://, socks5h://, socks4://, socks4a://, http://, https://) or auto (from ALL_PROXY/HTTPS_PROXY/NO_PROXY)")
	fs.Var(setClearing(&px.Type, &px.URL), "proxy-type", "proxy `TYPE` for the field form: none, http, socks4, socks4a, socks5")
	fs.Var(setClearing(&px.Host, &px.URL), "proxy-host", "proxy `HOST`")
	fs.IntVar(&px.Port, "proxy-port", 0, "proxy `PORT` (default per type)")
	fs.StringVar(&px.User, "proxy-user", "", "proxy user `NAME`")
	fs.Var(secretRef("file:", &px.Password), "proxy-password-file", "`FILE` holding the proxy password")
	bindAudit(fs, &p.Audit)
	fs.StringVar(&p.Transport, "transport", "smtp", "`KIND` of transport: smtp (the relays in --server) or graph (Microsoft Graph sendMail; needs --oauth-token-file or --oauth-token-env)")
	fs.Var(setClearing(&p.Graph.Cloud, &p.Graph.Endpoint), "graph-cloud", "Microsoft Graph `CLOUD`: global (default), usgov, usgov-dod, china")
	fs.Var(setClearing(&p.Graph.Endpoint, &p.Graph.Cloud), "graph-endpoint", "Microsoft Graph base `URL`, overriding --graph-cloud")
	fs.StringVar(&p.Graph.Sender, "graph-sender", "", "mailbox `UPN` to send as through Graph (default: the --from address)")
	fs.IntVar(&p.Graph.MaxRetries, "graph-max-retries", 0, "retries of a throttled (429), unavailable (503) or unreachable Graph request (a 504 is not resent: the message may have gone out); 0 means 4, -1 none")
}

// bindAudit binds the audit flags to a:
//
//	--audit-file FILE      hash-chained JSON-lines audit trail
//	--audit-key-file FILE  HMAC key for the chain (hex or raw, mode 0600)
//	--audit-anchor FILE    the chain's head (seq, hash) kept in a second place
//	--syslog URL           unixgram:///dev/log, udp://127.0.0.1:514, tcp://..., tcp+tls://...?ca=FILE, relp://..., relp+tls://...
//	--eventlog SOURCE      Windows Event Log source (registered beforehand)
//	--audit-fail-open      carry on when the trail cannot be written (default: refuse)
func bindAudit(fs *flag.FlagSet, a *mailwarden.AuditConfig) {
	fs.StringVar(&a.File, "audit-file", "", "write a tamper-evident audit trail to `FILE`")
	fs.StringVar(&a.KeyFile, "audit-key-file", "", "HMAC key `FILE` for the audit trail's hash chain")
	fs.StringVar(&a.AnchorFile, "audit-anchor", "", "keep the audit trail's head (last seq and hash) in `FILE`, replaced after every record (or block written together), away from the trail's directory; 'audit verify --anchor FILE' then detects deleted newest files, and a writer refuses to start when the trail ends before it")
	fs.StringVar(&a.Syslog, "syslog", "", "send audit records to syslog at `URL`: relp://host:2514 or relp+tls://host:2514?ca=&cert=&key=&timeout= (each record acknowledged: fail-closed holds), tcp://host:514, tcp+tls://host:6514?ca= (a stopped or dead collector is noticed late: records can be lost), unixgram:///dev/log, udp://host:514 (never acknowledged: refused unless --audit-fail-open)")
	fs.StringVar(&a.EventLog, "eventlog", "", "send audit records to the Windows Event Log under `SOURCE`")
	fs.BoolVar(&a.FailOpen, "audit-fail-open", false, "send even when an audit sink fails or cannot be reached at start (the failure is reported on stderr and in the other sinks)")
}

// serverList is --server: repeatable, each value a comma-separated list.
// Given on the command line it replaces a profile's servers (its first
// value replaces, later ones add).
type serverList struct {
	list *[]string
	set  bool
}

func (l *serverList) String() string {
	if l.list == nil {
		return ""
	}
	return strings.Join(*l.list, ",")
}

func (l *serverList) Set(s string) error {
	if !l.set {
		*l.list, l.set = nil, true
	}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l.list = append(*l.list, part)
		}
	}
	return nil
}

// clearingValue sets a string field and clears the fields that are the
// other way of saying the same thing (--client-p12 clears a PEM pair,
// --proxy-host clears a proxy URL).
type clearingValue struct {
	dst   *string
	clear []*string
}

func setClearing(dst *string, clear ...*string) *clearingValue {
	return &clearingValue{dst: dst, clear: clear}
}

func (v *clearingValue) String() string {
	if v.dst == nil {
		return ""
	}
	return *v.dst
}

func (v *clearingValue) Set(s string) error {
	*v.dst = s
	for _, c := range v.clear {
		*c = ""
	}
	return nil
}

// refValue sets a SecretRef from a file name or a variable name: the
// secret is read when the sender needs it, never kept in the flag.
type refValue struct {
	scheme string // "file:" or "env:"
	dst    *mailwarden.SecretRef
}

func secretRef(scheme string, dst *mailwarden.SecretRef) *refValue {
	return &refValue{scheme: scheme, dst: dst}
}

func (v *refValue) String() string {
	if v.dst == nil {
		return ""
	}
	return strings.TrimPrefix(string(*v.dst), v.scheme)
}

func (v *refValue) Set(s string) error {
	*v.dst = mailwarden.SecretRef(v.scheme + s)
	return nil
}

// cliSecretValue is a secret given on the command line itself: it is kept
// in secrets under ref and the profile names ref.
type cliSecretValue struct {
	ref     string
	secrets cliSecrets
	dst     *mailwarden.SecretRef
}

func cliSecret(ref string, secrets cliSecrets, dst *mailwarden.SecretRef) *cliSecretValue {
	return &cliSecretValue{ref: ref, secrets: secrets, dst: dst}
}

func (v *cliSecretValue) String() string {
	if v.secrets == nil {
		return ""
	}
	return v.secrets[v.ref]
}

func (v *cliSecretValue) Set(s string) error {
	v.secrets[v.ref] = s
	*v.dst = mailwarden.SecretRef(v.ref)
	return nil
}

// cliSecrets is the SecretSource for secrets given on the command line.
type cliSecrets map[string]string

func (s cliSecrets) Secret(_ context.Context, ref string) (string, error) {
	v, ok := s[ref]
	if !ok {
		return "", errors.New("no such command-line secret")
	}
	return v, nil
}

// profile turns the flags into a Profile; warnings go to stderr. Secrets
// stay references: files and the environment are read when the sender needs
// them. With --config, the profile comes from the file and the flags given
// explicitly override its values.
func (c *connFlags) profile(e *env) (mailwarden.Profile, cliSecrets, error) {
	if err := c.checkCombinations(); err != nil {
		return mailwarden.Profile{}, nil, err
	}
	if c.isSet("password") {
		fmt.Fprintln(e.stderr, "smtpcheck: warning: --password is visible to other processes on this host; prefer --password-file or MAILWARDEN_PASSWORD")
	}
	file := c.config
	if file == "" {
		file = e.getenv("MAILWARDEN_CONFIG")
	}
	if file == "" {
		if c.profileName != "" {
			return mailwarden.Profile{}, nil, errors.New("--profile needs --config (or MAILWARDEN_CONFIG)")
		}
		p, err := c.flagProfile(e)
		if c.from != "" {
			p.From = c.from
		}
		if err == nil {
			err = c.proxyURLPassword(e, &p.Proxy, c.secrets)
		}
		return p, c.secrets, err
	}
	name := c.profileName
	if name == "" {
		name = e.getenv("MAILWARDEN_PROFILE")
	}
	base, err := mailwarden.LoadProfile(file, name)
	if err != nil {
		return mailwarden.Profile{}, nil, err
	}
	// The flags given on the command line, and only those, are set again
	// on the file's profile.
	if c.isSet("proxy") {
		base.Proxy = mailwarden.Proxy{} // a proxy URL replaces every proxy setting
	}
	over := flag.NewFlagSet("overlay", flag.ContinueOnError)
	fromFile := base
	bindProfile(over, &base, cliSecrets{}) // sets the flag defaults into base
	base = fromFile
	var serr error
	c.fs.Visit(func(f *flag.Flag) {
		if over.Lookup(f.Name) != nil && serr == nil {
			serr = over.Set(f.Name, f.Value.String())
		}
	})
	if c.from != "" {
		base.From = c.from
	}
	if serr == nil && c.isSet("proxy") {
		serr = c.proxyURLPassword(e, &base.Proxy, c.secrets)
	}
	if serr != nil {
		return mailwarden.Profile{}, nil, serr
	}
	if base.InsecureSkipVerify {
		fmt.Fprintf(e.stderr, "smtpcheck: WARNING: profile %s turns certificate verification off: anyone on the path can read and change this session\n", base.Name)
	}
	if base.Auth.Password == "" && e.getenv("MAILWARDEN_PASSWORD") != "" {
		base.Auth.Password = "env:MAILWARDEN_PASSWORD"
	}
	if c.smime.SignP12 != "" || c.smime.SignCert != "" || c.smime.SignKey != "" || len(c.smime.EncryptCerts) > 0 {
		base.SMIME = c.smime
	}
	return base, c.secrets, nil
}

// checkCombinations refuses flags that contradict each other.
func (c *connFlags) checkCombinations() error {
	switch {
	case c.isSet("client-cert") && !c.isSet("client-key"), c.isSet("client-key") && !c.isSet("client-cert") && !mailwarden.IsKeyRef(c.fs.Lookup("client-key").Value.String()):
		return errors.New("--client-cert and --client-key go together")
	case c.isSet("client-p12") && c.isSet("client-cert"):
		return errors.New("use either --client-cert/--client-key or --client-p12, not both")
	case c.isSet("password") && c.isSet("password-file"):
		return errors.New("use either --password or --password-file, not both")
	case c.isSet("oauth-token-file") && c.isSet("oauth-token-env"):
		return errors.New("use either --oauth-token-file or --oauth-token-env, not both")
	case c.isSet("graph-cloud") && c.isSet("graph-endpoint"):
		return errors.New("use either --graph-cloud or --graph-endpoint, not both")
	case c.isSet("proxy") && (c.isSet("proxy-type") || c.isSet("proxy-host")):
		return errors.New("use either --proxy or the --proxy-type/--proxy-host fields, not both")
	}
	return nil
}

// flagProfile is the profile of the flags alone.
func (c *connFlags) flagProfile(e *env) (mailwarden.Profile, error) {
	p := c.p
	p.Name = flagProfileName
	if len(p.Servers) == 0 && p.Provider == "" && !strings.EqualFold(p.Transport, "graph") {
		return p, errors.New("--server is required (or --provider, or --config with a profile)")
	}
	if p.Provider != "" && !c.isSet("tls") {
		p.TLS = "" // the preset's
	}
	if p.InsecureSkipVerify {
		fmt.Fprintln(e.stderr, "smtpcheck: WARNING: --insecure-skip-verify: the relay's certificate is NOT verified; anyone on the path can read and change this session")
	}
	if p.Auth.Password == "" && e.getenv("MAILWARDEN_PASSWORD") != "" {
		p.Auth.Password = "env:MAILWARDEN_PASSWORD"
	}
	switch strings.ToLower(p.Transport) {
	case "", "smtp":
		p.Transport = ""
		if g := p.Graph; g.Cloud != "" || g.Endpoint != "" || g.Sender != "" || g.MaxRetries != 0 {
			return p, errors.New("--graph-cloud, --graph-endpoint, --graph-sender and --graph-max-retries need --transport graph")
		}
	case "graph":
		p.Transport = "graph"
		if len(p.Servers) > 0 {
			return p, errors.New("--server is not used with --transport graph (set --graph-cloud or --graph-endpoint)")
		}
	default:
		return p, fmt.Errorf("--transport %q: want smtp or graph", p.Transport)
	}
	p.SMIME = c.smime
	return p, nil
}

// isSet reports whether the flag was given on the command line.
func (c *connFlags) isSet(name string) bool { return flagGiven(c.fs, name) }

// flagGiven reports whether the flag called name was given on the command
// line (not merely left at its default). A nil fs has none.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	if fs != nil {
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	}
	return given
}
