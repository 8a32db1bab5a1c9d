package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"mailwarden"
)

const oauthUsage = `usage: smtpcheck oauth login [--device] [--no-browser] [--port N] [OAuth flags]
       smtpcheck oauth token [--show] [--force] [--json] [OAuth flags]

login runs the interactive OAuth2 login once (authorization code with PKCE
in a browser, or the device code flow with --device) and stores the refresh
token in the encrypted --token-cache. token obtains an access token as a
send would (from the cache, refreshed when due, or by client credentials or
a service account) and prints its expiry and scopes; the token itself only
with --show.`

func runOAuth(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, oauthUsage)
		return exitUsage
	}
	switch args[0] {
	case "login":
		return runOAuthLogin(ctx, e, args[1:])
	case "token":
		return runOAuthToken(ctx, e, args[1:])
	}
	if isHelp(args[0]) {
		fmt.Fprintln(e.stdout, oauthUsage)
		return exitOK
	}
	fmt.Fprintf(e.stderr, "smtpcheck oauth: unknown subcommand %q\n%s\n", args[0], oauthUsage)
	return exitUsage
}

// oauthFlags describe a profile's OAuth settings on the command line.
type oauthFlags struct {
	fs                                              *flag.FlagSet
	config, profileName, provider                   string
	flow, tenant, clientID                          string
	clientSecretFile, clientSecretEnv, clientAuth   string
	user                                            string
	assertionCert, assertionKey                     string
	authURL, tokenURL, deviceAuthURL                string
	redirectURI                                     string
	scopes                                          stringList
	serviceAccount, subject                         string
	tokenCache, tokenCacheKeyFile, tokenCacheKeyEnv string
}

func (o *oauthFlags) register(fs *flag.FlagSet) {
	o.fs = fs
	fs.StringVar(&o.config, "config", "", "configuration `FILE` whose profile holds the OAuth settings (default $MAILWARDEN_CONFIG); the flags below override them")
	fs.StringVar(&o.profileName, "profile", "", "profile `NAME` in --config (default $MAILWARDEN_PROFILE, then the active one)")
	fs.StringVar(&o.provider, "provider", "", "provider `PRESET` that fills the endpoints and scopes: exchange-online, exchange-online-usgov, exchange-online-china, gmail, outlook.com")
	fs.StringVar(&o.flow, "flow", "", "OAuth `FLOW`: client_credentials, authorization_code, device_code, jwt_bearer (default: from the other flags)")
	fs.StringVar(&o.tenant, "tenant", "", "Entra ID tenant `ID`, replacing {tenant} in the URLs")
	fs.StringVar(&o.clientID, "client-id", "", "OAuth client (application) `ID`")
	fs.StringVar(&o.clientSecretFile, "client-secret-file", "", "`FILE` holding the client secret")
	fs.StringVar(&o.clientSecretEnv, "client-secret-env", "", "environment `VARIABLE` holding the client secret")
	fs.StringVar(&o.user, "user", "", "the mailbox `ADDRESS` the login is for (the SMTP user): logins are kept per mailbox, and the provider is asked to sign in this account")
	fs.StringVar(&o.clientAuth, "client-auth", "", "how the client secret is sent: client_secret_post (default: in the body) or client_secret_basic (HTTP Basic)")
	fs.StringVar(&o.assertionCert, "client-assertion-cert", "", "PEM certificate `FILE` for a client certificate assertion (instead of a secret)")
	fs.StringVar(&o.assertionKey, "client-assertion-key", "", "PEM RSA key `FILE` for the client certificate assertion, or a pkcs11: URI or certstore: reference of an RSA key that stays on a token or in a store (the certificate then comes from there unless --client-assertion-cert is given)")
	fs.StringVar(&o.authURL, "auth-url", "", "authorization endpoint `URL`")
	fs.StringVar(&o.tokenURL, "token-url", "", "token endpoint `URL`")
	fs.StringVar(&o.deviceAuthURL, "device-auth-url", "", "device authorization endpoint `URL`")
	fs.StringVar(&o.redirectURI, "redirect-uri", "", "loopback redirect `URI` (default http://localhost on a random port)")
	fs.Var(&o.scopes, "scope", "`SCOPE` to request (repeat for several)")
	fs.StringVar(&o.serviceAccount, "service-account-file", "", "Google service-account JSON key `FILE` (jwt_bearer)")
	fs.StringVar(&o.subject, "subject", "", "user `ADDRESS` a Google service account acts for (domain-wide delegation)")
	fs.StringVar(&o.tokenCache, "token-cache", "", "encrypted token cache `FILE`")
	fs.StringVar(&o.tokenCacheKeyFile, "token-cache-key-file", "", "`FILE` holding the token cache key")
	fs.StringVar(&o.tokenCacheKeyEnv, "token-cache-key-env", "", "environment `VARIABLE` holding the token cache key")
}

// profile returns the profile whose OAuth settings the command uses: the
// one --config names with the OAuth flags given overriding its settings,
// or one made of the flags alone. interactive is the flow a login runs
// when none is configured.
func (o *oauthFlags) profile(e *env, interactive string, login bool) (mailwarden.Profile, error) {
	s, err := o.settings(interactive)
	if err != nil {
		return mailwarden.Profile{}, err
	}
	if login && !o.isSet("flow") {
		s.Flow = interactive
	}
	file := o.config
	if file == "" {
		file = e.getenv("MAILWARDEN_CONFIG")
	}
	if file == "" {
		if o.profileName != "" {
			return mailwarden.Profile{}, errors.New("--profile needs --config (or MAILWARDEN_CONFIG)")
		}
		return mailwarden.Profile{Provider: o.provider, Auth: mailwarden.Auth{Username: o.user, OAuth: s}}, nil
	}
	cfg, err := mailwarden.LoadConfig(file)
	if err != nil {
		return mailwarden.Profile{}, err
	}
	name := o.profileName
	if name == "" {
		name = e.getenv("MAILWARDEN_PROFILE")
	}
	p, err := cfg.Profile(name)
	if err != nil {
		return mailwarden.Profile{}, err
	}
	if o.provider != "" {
		p.Provider = o.provider
	}
	if o.user != "" {
		p.Auth.Username = o.user
	}
	d := &p.Auth.OAuth
	set := map[string]func(){
		"flow": func() { d.Flow = s.Flow }, "tenant": func() { d.TenantID = s.TenantID }, "client-id": func() { d.ClientID = s.ClientID },
		"client-secret-file": func() { d.ClientSecret = s.ClientSecret }, "client-secret-env": func() { d.ClientSecret = s.ClientSecret },
		"client-auth":           func() { d.ClientAuth = s.ClientAuth },
		"client-assertion-cert": func() { d.ClientCertFile = s.ClientCertFile }, "client-assertion-key": func() { d.ClientKeyFile = s.ClientKeyFile },
		"auth-url": func() { d.AuthURL = s.AuthURL }, "token-url": func() { d.TokenURL = s.TokenURL }, "device-auth-url": func() { d.DeviceAuthURL = s.DeviceAuthURL },
		"redirect-uri": func() { d.RedirectURI = s.RedirectURI }, "scope": func() { d.Scopes = s.Scopes },
		"service-account-file": func() { d.ServiceAccountFile = s.ServiceAccountFile }, "subject": func() { d.Subject = s.Subject },
		"token-cache":          func() { d.TokenCache = s.TokenCache },
		"token-cache-key-file": func() { d.TokenCacheKey = s.TokenCacheKey }, "token-cache-key-env": func() { d.TokenCacheKey = s.TokenCacheKey },
	}
	o.fs.Visit(func(f *flag.Flag) {
		if fn, ok := set[f.Name]; ok {
			fn()
		}
	})
	if d.Flow == "" {
		return p, fmt.Errorf("profile %s configures no auth.oauth.flow", p.Name)
	}
	return p, nil
}

func (o *oauthFlags) isSet(name string) bool { return flagGiven(o.fs, name) }

// settings returns the OAuth settings the flags give; interactive picks
// the default flow when --flow is not given and no app credential is.
func (o *oauthFlags) settings(interactive string) (mailwarden.OAuth, error) {
	s := mailwarden.OAuth{Flow: o.flow, TenantID: o.tenant, ClientID: o.clientID, ClientAuth: o.clientAuth,
		ClientCertFile: o.assertionCert, ClientKeyFile: o.assertionKey,
		AuthURL: o.authURL, TokenURL: o.tokenURL, DeviceAuthURL: o.deviceAuthURL, RedirectURI: o.redirectURI,
		Scopes: o.scopes, ServiceAccountFile: o.serviceAccount, Subject: o.subject, TokenCache: o.tokenCache}
	switch {
	case o.clientSecretFile != "" && o.clientSecretEnv != "":
		return s, errors.New("use either --client-secret-file or --client-secret-env, not both")
	case o.clientSecretFile != "":
		s.ClientSecret = mailwarden.SecretRef("file:" + o.clientSecretFile)
	case o.clientSecretEnv != "":
		s.ClientSecret = mailwarden.SecretRef("env:" + o.clientSecretEnv)
	}
	switch {
	case o.tokenCacheKeyFile != "" && o.tokenCacheKeyEnv != "":
		return s, errors.New("use either --token-cache-key-file or --token-cache-key-env, not both")
	case o.tokenCacheKeyFile != "":
		s.TokenCacheKey = mailwarden.SecretRef("file:" + o.tokenCacheKeyFile)
	case o.tokenCacheKeyEnv != "":
		s.TokenCacheKey = mailwarden.SecretRef("env:" + o.tokenCacheKeyEnv)
	}
	if s.Flow == "" {
		switch {
		case s.ServiceAccountFile != "":
			s.Flow = "jwt_bearer"
		case s.ClientCertFile != "", s.ClientKeyFile != "", s.ClientSecret != "" && s.AuthURL == "" && s.DeviceAuthURL == "":
			// App credentials and no interactive endpoint: app-only.
			s.Flow = "client_credentials"
		default:
			s.Flow = interactive
		}
	}
	return s, nil
}

func runOAuthLogin(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("oauth login", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var of oauthFlags
	of.register(fs)
	device := fs.Bool("device", false, "use the device code flow: print a code to enter on another device (headless servers)")
	noBrowser := fs.Bool("no-browser", false, "print the login URL instead of opening a browser")
	port := fs.Int("port", 0, "loopback `PORT` for the browser's redirect (default: from --redirect-uri, else random)")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long to wait for the login to complete")
	if code, done := parseFlags(fs, e, args, "oauth login", oauthUsage); done {
		return code
	}
	flow := "authorization_code"
	if *device {
		flow = "device_code"
	}
	p, err := of.profile(e, flow, true)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck oauth login: %s\n", errLine(err))
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	ui := mailwarden.LoginUI{Device: *device, Port: *port,
		Open: func(ctx context.Context, u string) error {
			if !*noBrowser && openBrowser(u) == nil {
				fmt.Fprintf(e.stdout, "Opened a browser to log in. If it did not open, visit:\n  %s\n", u)
			} else {
				fmt.Fprintf(e.stdout, "To log in, open this URL in a browser on this machine:\n  %s\n", u)
			}
			fmt.Fprintln(e.stdout, "Waiting for the browser to return...")
			return nil
		},
		Prompt: func(ctx context.Context, p mailwarden.DevicePrompt) error {
			fmt.Fprintf(e.stdout, "To log in, visit %s on any device and enter the code %s\n", term(p.VerificationURI), term(p.UserCode))
			if p.VerificationURIComplete != "" {
				fmt.Fprintf(e.stdout, "(or open %s)\n", term(p.VerificationURIComplete))
			}
			if !p.Expiry.IsZero() {
				fmt.Fprintf(e.stdout, "The code expires at %s. Waiting...\n", p.Expiry.UTC().Format(time.RFC3339))
			}
			return nil
		}}
	tok, err := mailwarden.Login(ctx, p, &mailwarden.Options{Getenv: e.getenv}, ui)
	if err != nil {
		return oauthReport(e, "oauth login", err)
	}
	fmt.Fprintf(e.stdout, "logged in; tokens stored in %s\n", p.Auth.OAuth.TokenCache)
	printToken(e.stdout, tok, false)
	return exitOK
}

func runOAuthToken(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("oauth token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var of oauthFlags
	of.register(fs)
	show := fs.Bool("show", false, "also print the access token itself (it is a credential: handle with care)")
	force := fs.Bool("force", false, "fetch a new token even if the cached one is still fresh")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	timeout := fs.Duration("timeout", time.Minute, "time limit")
	if code, done := parseFlags(fs, e, args, "oauth token", oauthUsage); done {
		return code
	}
	p, err := of.profile(e, "authorization_code", false)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck oauth token: %s\n", errLine(err))
		return exitUsage
	}
	settings := p.Auth.OAuth
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	tok, err := mailwarden.OAuthToken(ctx, p, &mailwarden.Options{Getenv: e.getenv}, *force)
	if err != nil {
		return oauthReport(e, "oauth token", err)
	}
	if *asJSON {
		out := struct {
			Flow        string    `json:"flow"`
			Expiry      time.Time `json:"expiry,omitzero"`
			Scopes      []string  `json:"scopes"`
			Refreshable bool      `json:"refreshable"`
			AccessToken string    `json:"access_token,omitempty"`
		}{settings.Flow, tok.Expiry, tok.Scopes, tok.Refreshable, ""}
		if *show {
			out.AccessToken = tok.AccessToken
		}
		writeJSON(e.stdout, out)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "flow      %s\n", settings.Flow)
	printToken(e.stdout, tok, *show)
	return exitOK
}

func printToken(w io.Writer, tok mailwarden.Token, show bool) {
	if tok.Expiry.IsZero() {
		fmt.Fprintln(w, "expires   (the server did not say)")
	} else {
		fmt.Fprintf(w, "expires   %s (in %s)\n", tok.Expiry.UTC().Format(time.RFC3339), time.Until(tok.Expiry).Round(time.Second))
	}
	fmt.Fprintf(w, "scopes    %s\n", term(strings.Join(tok.Scopes, " ")))
	fmt.Fprintf(w, "refresh   %v\n", map[bool]string{true: "a refresh token is stored", false: "none (a new token is fetched when this one expires)"}[tok.Refreshable])
	if show {
		fmt.Fprintf(w, "token     %s\n", term(tok.AccessToken))
	}
}

// oauthReport prints err and returns its exit code: configuration and
// cache problems are usage errors, what the authorization server refused
// is an authentication failure, and an unreachable server a connection
// failure.
func oauthReport(e *env, name string, err error) int {
	fmt.Fprintf(e.stderr, "smtpcheck %s: %s\n", name, errLine(err))
	return exitCode(err)
}

// openBrowser asks the desktop to open u. It does not wait for the
// browser; an error means no opener could be started.
func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	case "darwin":
		cmd = exec.Command("open", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}
