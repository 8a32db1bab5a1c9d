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

// connFlags are the flags probe and send share: where the relay is, how to
// reach it, how to secure and authenticate the session, and the audit trail.
type connFlags struct {
	fs             *flag.FlagSet
	config         string
	profileName    string
	provider       string
	maxIdle        int // set by commands that keep several connections (outbox run)
	servers        stringList
	tls            string
	helo           string
	timeout        time.Duration
	ca             string
	insecure       bool
	clientCert     string
	clientKey      string
	clientP12      string
	clientP12PW    string
	auth           string
	user           string
	passwordFile   string
	password       string
	authzid        string
	krb5Conf       string
	keytab         string
	ccache         string
	spn            string
	oauthTokenFile string
	allowPlainAuth bool
	proxy          string
	proxyType      string
	proxyHost      string
	proxyPort      int
	proxyUser      string
	proxyPWFile    string
	json           bool
	transcript     string
	audit          auditFlags
	smime          mailwarden.SMIMEConfig // set by send from its S/MIME flags
	graph          graphFlags
	from           string    // set by send from --from: the profile's From (send --test)
	watch          *tlsWatch // set by send: notes whether each message went encrypted
	diag           diagFlags // swaks-style session flags
}

func (c *connFlags) register(fs *flag.FlagSet) {
	c.fs = fs
	fs.StringVar(&c.config, "config", "", "configuration `FILE` with named profiles (default $MAILWARDEN_CONFIG); other flags override the profile's values")
	fs.StringVar(&c.profileName, "profile", "", "profile `NAME` in --config (default $MAILWARDEN_PROFILE, then the file's active profile)")
	fs.StringVar(&c.provider, "provider", "", "provider `PRESET` that fills server, TLS and authentication: exchange-online, exchange-online-usgov, exchange-online-china, gmail, outlook.com, yahoo, custom (see: smtpcheck config presets)")
	fs.Var(&c.servers, "server", "relay `ADDR`: host, host:port, host:587-starttls, host:465-ssl, host:465-nossl (repeat for failover)")
	fs.StringVar(&c.tls, "tls", "auto", "TLS `MODE`: auto, explicit (STARTTLS required), implicit, none")
	fs.StringVar(&c.helo, "helo", "", "`NAME` to send in EHLO/HELO (default: this host's fully qualified name, else the address literal of this end of the connection, e.g. [192.0.2.1])")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "time limit for each step")
	fs.StringVar(&c.ca, "ca", "", "PEM `FILE` of extra certificate authorities to trust")
	fs.BoolVar(&c.insecure, "insecure-skip-verify", false, "DANGEROUS: do not verify the relay's certificate")
	fs.StringVar(&c.clientCert, "client-cert", "", "client certificate PEM `FILE`")
	fs.StringVar(&c.clientKey, "client-key", "", "client key PEM `FILE`")
	fs.StringVar(&c.clientP12, "client-p12", "", "client certificate and key as a PKCS#12 `FILE`")
	fs.StringVar(&c.clientP12PW, "client-p12-password-file", "", "`FILE` holding the PKCS#12 password")
	fs.StringVar(&c.auth, "auth", "", "authentication `MECH`: auto, PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, SCRAM-SHA-1, NTLM, GSSAPI, XOAUTH2, OAUTHBEARER, none")
	fs.StringVar(&c.user, "user", "", "user `NAME` for authentication")
	fs.StringVar(&c.passwordFile, "password-file", "", "`FILE` holding the password (or set MAILWARDEN_PASSWORD)")
	fs.StringVar(&c.password, "password", "", "the password itself (visible to other processes: prefer --password-file)")
	fs.StringVar(&c.authzid, "authzid", "", "authorization `IDENTITY` (PLAIN)")
	fs.StringVar(&c.krb5Conf, "krb5-conf", "", "krb5.conf `FILE` for GSSAPI")
	fs.StringVar(&c.keytab, "keytab", "", "keytab `FILE` for GSSAPI")
	fs.StringVar(&c.ccache, "ccache", "", "Kerberos credential cache `FILE` (default KRB5CCNAME)")
	fs.StringVar(&c.spn, "spn", "", "service principal `NAME` (default smtp/<server host>)")
	fs.StringVar(&c.oauthTokenFile, "oauth-token-file", "", "`FILE` holding an OAuth2 access token (XOAUTH2, OAUTHBEARER, --transport graph)")
	fs.BoolVar(&c.allowPlainAuth, "allow-plaintext-auth", false, "DANGEROUS: let the mechanisms that send a reusable secret (PLAIN, LOGIN, NTLM, XOAUTH2, OAUTHBEARER; also when --auth auto picks one) run on a connection without TLS")
	fs.StringVar(&c.proxy, "proxy", "", "proxy `URL` (socks5://, socks5h://, socks4://, socks4a://, http://, https://) or auto (from ALL_PROXY/HTTPS_PROXY/NO_PROXY)")
	fs.StringVar(&c.proxyType, "proxy-type", "", "proxy `TYPE` for the field form: none, http, socks4, socks4a, socks5")
	fs.StringVar(&c.proxyHost, "proxy-host", "", "proxy `HOST`")
	fs.IntVar(&c.proxyPort, "proxy-port", 0, "proxy `PORT` (default per type)")
	fs.StringVar(&c.proxyUser, "proxy-user", "", "proxy user `NAME`")
	fs.StringVar(&c.proxyPWFile, "proxy-password-file", "", "`FILE` holding the proxy password")
	fs.BoolVar(&c.json, "json", false, "print the result as one JSON object")
	fs.StringVar(&c.transcript, "transcript", "", "write the SMTP conversation to `FILE` ('-' for standard output; authentication redacted)")
	c.audit.register(fs)
	c.graph.register(fs)
	c.diag.register(fs)
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
	file := c.config
	if file == "" {
		file = e.getenv("MAILWARDEN_CONFIG")
	}
	if file == "" {
		if c.profileName != "" {
			return mailwarden.Profile{}, nil, errors.New("--profile needs --config (or MAILWARDEN_CONFIG)")
		}
		return c.flagProfile(e, true)
	}
	cfg, err := mailwarden.LoadConfig(file)
	if err != nil {
		return mailwarden.Profile{}, nil, err
	}
	name := c.profileName
	if name == "" {
		name = e.getenv("MAILWARDEN_PROFILE")
	}
	base, err := cfg.Profile(name)
	if err != nil {
		return mailwarden.Profile{}, nil, err
	}
	fp, secrets, err := c.flagProfile(e, false)
	if err != nil {
		return mailwarden.Profile{}, nil, err
	}
	if c.fs != nil {
		c.fs.Visit(func(f *flag.Flag) {
			if set, ok := overlay[f.Name]; ok {
				set(&base, &fp)
			}
		})
	}
	if base.InsecureSkipVerify {
		fmt.Fprintf(e.stderr, "smtpcheck: WARNING: profile %s turns certificate verification off: anyone on the path can read and change this session\n", base.Name)
	}
	if base.Auth.Password == "" && e.getenv("MAILWARDEN_PASSWORD") != "" {
		base.Auth.Password = "env:MAILWARDEN_PASSWORD"
	}
	if fp.SMIME.SignP12 != "" || fp.SMIME.SignCert != "" || len(fp.SMIME.EncryptCerts) > 0 {
		base.SMIME = fp.SMIME
	}
	return base, secrets, nil
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

// overlay copies, for each connection flag, the value it sets from the
// flags' profile onto a profile from a file.
var overlay = map[string]func(dst, src *mailwarden.Profile){
	"provider":             func(d, s *mailwarden.Profile) { d.Provider = s.Provider },
	"from":                 func(d, s *mailwarden.Profile) { d.From = s.From },
	"server":               func(d, s *mailwarden.Profile) { d.Servers = s.Servers },
	"tls":                  func(d, s *mailwarden.Profile) { d.TLS = s.TLS },
	"helo":                 func(d, s *mailwarden.Profile) { d.HeloName = s.HeloName },
	"timeout":              func(d, s *mailwarden.Profile) { d.Timeout = s.Timeout },
	"ca":                   func(d, s *mailwarden.Profile) { d.CAFile = s.CAFile },
	"insecure-skip-verify": func(d, s *mailwarden.Profile) { d.InsecureSkipVerify = s.InsecureSkipVerify },
	"client-cert":          func(d, s *mailwarden.Profile) { d.ClientCertFile, d.ClientP12File = s.ClientCertFile, "" },
	"client-key":           func(d, s *mailwarden.Profile) { d.ClientKeyFile = s.ClientKeyFile },
	"client-p12": func(d, s *mailwarden.Profile) {
		d.ClientP12File, d.ClientCertFile, d.ClientKeyFile = s.ClientP12File, "", ""
	},
	"client-p12-password-file": func(d, s *mailwarden.Profile) { d.ClientP12Password = s.ClientP12Password },
	"auth":                     func(d, s *mailwarden.Profile) { d.Auth.Mechanism = s.Auth.Mechanism },
	"user":                     func(d, s *mailwarden.Profile) { d.Auth.Username = s.Auth.Username },
	"password":                 func(d, s *mailwarden.Profile) { d.Auth.Password = s.Auth.Password },
	"password-file":            func(d, s *mailwarden.Profile) { d.Auth.Password = s.Auth.Password },
	"authzid":                  func(d, s *mailwarden.Profile) { d.Auth.Authzid = s.Auth.Authzid },
	"krb5-conf":                func(d, s *mailwarden.Profile) { d.Auth.Krb5Conf = s.Auth.Krb5Conf },
	"keytab":                   func(d, s *mailwarden.Profile) { d.Auth.Keytab = s.Auth.Keytab },
	"ccache":                   func(d, s *mailwarden.Profile) { d.Auth.CCache = s.Auth.CCache },
	"spn":                      func(d, s *mailwarden.Profile) { d.Auth.SPN = s.Auth.SPN },
	"oauth-token-file":         func(d, s *mailwarden.Profile) { d.Auth.OAuthToken = s.Auth.OAuthToken },
	"allow-plaintext-auth":     func(d, s *mailwarden.Profile) { d.Auth.AllowPlaintext = s.Auth.AllowPlaintext },
	"proxy":                    func(d, s *mailwarden.Profile) { d.Proxy = s.Proxy },
	"proxy-type":               func(d, s *mailwarden.Profile) { d.Proxy.URL, d.Proxy.Type = "", s.Proxy.Type },
	"proxy-host":               func(d, s *mailwarden.Profile) { d.Proxy.URL, d.Proxy.Host = "", s.Proxy.Host },
	"proxy-port":               func(d, s *mailwarden.Profile) { d.Proxy.Port = s.Proxy.Port },
	"proxy-user":               func(d, s *mailwarden.Profile) { d.Proxy.User = s.Proxy.User },
	"proxy-password-file":      func(d, s *mailwarden.Profile) { d.Proxy.Password = s.Proxy.Password },
	"audit-file":               func(d, s *mailwarden.Profile) { d.Audit.File = s.Audit.File },
	"audit-key-file":           func(d, s *mailwarden.Profile) { d.Audit.KeyFile = s.Audit.KeyFile },
	"syslog":                   func(d, s *mailwarden.Profile) { d.Audit.Syslog = s.Audit.Syslog },
	"eventlog":                 func(d, s *mailwarden.Profile) { d.Audit.EventLog = s.Audit.EventLog },
	"audit-fail-open":          func(d, s *mailwarden.Profile) { d.Audit.FailOpen = s.Audit.FailOpen },
	"transport":                func(d, s *mailwarden.Profile) { d.Transport = s.Transport },
	"graph-cloud":              func(d, s *mailwarden.Profile) { d.Graph.Cloud, d.Graph.Endpoint = s.Graph.Cloud, "" },
	"graph-endpoint":           func(d, s *mailwarden.Profile) { d.Graph.Endpoint, d.Graph.Cloud = s.Graph.Endpoint, "" },
	"graph-sender":             func(d, s *mailwarden.Profile) { d.Graph.Sender = s.Graph.Sender },
	"graph-max-retries":        func(d, s *mailwarden.Profile) { d.Graph.MaxRetries = s.Graph.MaxRetries },
	"oauth-token-env":          func(d, s *mailwarden.Profile) { d.Auth.OAuthToken = s.Auth.OAuthToken },
}

// flagProfile builds a Profile from the flags alone.
func (c *connFlags) flagProfile(e *env, requireServer bool) (mailwarden.Profile, cliSecrets, error) {
	secrets := cliSecrets{}
	var p mailwarden.Profile
	p.Name = "command line"
	p.From = c.from
	for _, s := range c.servers {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				p.Servers = append(p.Servers, part)
			}
		}
	}
	p.Provider = c.provider
	if len(p.Servers) == 0 && requireServer && c.provider == "" && !c.graph.isGraph() {
		return p, nil, errors.New("--server is required (or --provider, or --config with a profile)")
	}
	p.TLS, p.HeloName, p.Timeout = c.tls, c.helo, c.timeout
	if c.provider != "" && !c.isSet("tls") {
		p.TLS = "" // the preset's
	}
	p.CAFile, p.InsecureSkipVerify = c.ca, c.insecure
	if c.insecure && requireServer {
		fmt.Fprintln(e.stderr, "smtpcheck: WARNING: --insecure-skip-verify: the relay's certificate is NOT verified; anyone on the path can read and change this session")
	}
	if (c.clientCert == "") != (c.clientKey == "") {
		return p, nil, errors.New("--client-cert and --client-key go together")
	}
	if c.clientP12 != "" && c.clientCert != "" {
		return p, nil, errors.New("use either --client-cert/--client-key or --client-p12, not both")
	}
	p.ClientCertFile, p.ClientKeyFile, p.ClientP12File = c.clientCert, c.clientKey, c.clientP12
	if c.clientP12PW != "" {
		p.ClientP12Password = mailwarden.SecretRef("file:" + c.clientP12PW)
	}

	a := &p.Auth
	a.Mechanism, a.Username, a.Authzid = c.auth, c.user, c.authzid
	a.Krb5Conf, a.Keytab, a.CCache, a.SPN = c.krb5Conf, c.keytab, c.ccache, c.spn
	a.AllowPlaintext = c.allowPlainAuth
	switch {
	case c.password != "" && c.passwordFile != "":
		return p, nil, errors.New("use either --password or --password-file, not both")
	case c.password != "":
		fmt.Fprintln(e.stderr, "smtpcheck: warning: --password is visible to other processes on this host; prefer --password-file or MAILWARDEN_PASSWORD")
		secrets["cli:password"] = c.password
		a.Password = "cli:password"
	case c.passwordFile != "":
		a.Password = mailwarden.SecretRef("file:" + c.passwordFile)
	case requireServer && e.getenv("MAILWARDEN_PASSWORD") != "":
		a.Password = "env:MAILWARDEN_PASSWORD"
	}
	if c.oauthTokenFile != "" {
		a.OAuthToken = mailwarden.SecretRef("file:" + c.oauthTokenFile)
	}
	if err := c.graph.apply(&p, !requireServer); err != nil {
		return p, nil, err
	}

	px := &p.Proxy
	if c.proxy != "" && (c.proxyType != "" || c.proxyHost != "") {
		return p, nil, errors.New("use either --proxy or the --proxy-type/--proxy-host fields, not both")
	}
	px.URL, px.Type, px.Host, px.Port, px.User = c.proxy, c.proxyType, c.proxyHost, c.proxyPort, c.proxyUser
	if c.proxyPWFile != "" {
		px.Password = mailwarden.SecretRef("file:" + c.proxyPWFile)
	}

	p.SMIME = c.smime
	p.Audit = mailwarden.AuditConfig{File: c.audit.file, KeyFile: c.audit.keyFile, Syslog: c.audit.syslog, EventLog: c.audit.eventlog, FailOpen: c.audit.failOpen}
	return p, secrets, nil
}
