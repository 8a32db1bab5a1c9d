//go:build !windows

package system

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"mailwarden/authmech"
	"mailwarden/authmech/gssapi"
)

const hintNoCredentials = "there is no Kerberos ticket for the account this process runs as: run kinit as that account (for a service, from its keytab: kinit -k -t FILE principal), point KRB5CCNAME at its credential cache, or set KRB5_CLIENT_KTNAME to a client keytab"

func platformHint(*Error) string { return "" }

// New returns a client that authenticates with Kerberos GSSAPI as the
// principal of the process's credential cache or client keytab. It refuses
// credentials that carry a user name or a password. Kerberos.Config and
// Kerberos.SPN are used as GSSAPI uses them; Kerberos.CCache and
// Kerberos.Keytab, when set, replace KRB5CCNAME and KRB5_CLIENT_KTNAME.
func New(c authmech.Credentials) (authmech.Client, error) { return newClient(c, os.Getenv) }

func newClient(c authmech.Credentials, getenv func(string) string) (*Client, error) {
	if c.Username != "" || c.Password != "" {
		return nil, ErrSecretGiven
	}
	return &Client{creds: c, getenv: getenv, now: time.Now}, nil
}

// Client is one exchange of the system mechanism: GSSAPI with the
// process's default Kerberos credentials.
type Client struct {
	creds  authmech.Credentials
	getenv func(string) string
	now    func() time.Time

	inner  *gssapi.Client
	source string // "credential cache FILE:..." or "client keytab ..."
}

// Package returns the security package of the last Start: "Kerberos", or
// "" before Start.
func (c *Client) Package() string {
	if c.inner == nil {
		return ""
	}
	return "Kerberos"
}

// User returns the principal and where its credentials came from, for the
// probe and the audit trail; "" before Start found credentials.
func (c *Client) User() string {
	if c.inner == nil {
		return ""
	}
	return c.inner.User() + " (system account, Kerberos from the " + c.source + ")"
}

func (c *Client) String() string {
	if c.inner == nil {
		return describe("", "")
	}
	return describe("Kerberos", c.inner.User())
}
func (c *Client) GoString() string { return c.String() }

// Start finds the process's Kerberos credentials and starts GSSAPI with
// them.
func (c *Client) Start(ctx context.Context, info *authmech.ServerInfo) (string, []byte, error) {
	if err := info.RefuseInClear("SYSTEM", "it negotiates no security layer, so whoever is on the path can relay the exchange and take over the authenticated session"); err != nil {
		return "", nil, err
	}
	if !info.Offers("GSSAPI") {
		offered := "nothing"
		if info != nil && len(info.Mechanisms) > 0 {
			offered = strings.Join(info.Mechanisms, " ")
		}
		return "", nil, &Error{Op: "offer", Package: "Kerberos", Msg: "the server does not offer GSSAPI (it offers " + offered + ")", Err: authmech.ErrNotOffered}
	}
	k := c.creds.Kerberos
	gc := authmech.Credentials{Authzid: c.creds.Authzid, Kerberos: authmech.Kerberos{Config: k.Config, Realm: k.Realm, SPN: k.SPN}}
	var why []string
	ccName := k.CCache
	if ccName == "" {
		ccName = c.getenv("KRB5CCNAME")
	}
	if ccName == "" {
		ccName = fmt.Sprintf("FILE:/tmp/krb5cc_%d", os.Getuid())
	}
	path, reason := c.usableCCache(ccName)
	switch {
	case reason == "":
		gc.Kerberos.CCache = path
		c.source = "credential cache " + ccName
	default:
		why = append(why, "credential cache "+ccName+": "+reason)
		ktName := k.Keytab
		if ktName == "" {
			ktName = c.getenv("KRB5_CLIENT_KTNAME")
		}
		if ktName == "" {
			why = append(why, "no client keytab (KRB5_CLIENT_KTNAME is not set)")
			return "", nil, &Error{Op: "credentials", Package: "Kerberos", Msg: strings.Join(why, "; "), Err: ErrNoCredentials}
		}
		ktPath := strings.TrimPrefix(ktName, "FILE:")
		principal, err := keytabPrincipal(ktPath)
		if err != nil {
			why = append(why, "client keytab "+ktName+": "+err.Error())
			return "", nil, &Error{Op: "credentials", Package: "Kerberos", Msg: strings.Join(why, "; "), Err: ErrNoCredentials}
		}
		gc.Username, gc.Kerberos.Keytab = principal, ktPath
		c.source = "client keytab " + ktName
	}
	inner, err := gssapi.New(gc, c.getenv)
	if err != nil {
		return "", nil, &Error{Op: "credentials", Package: "Kerberos", Msg: err.Error(), Err: err}
	}
	c.inner = inner
	return inner.Start(ctx, info)
}

// usableCCache returns the file of the credential cache name and "", or
// why it cannot be used: missing, unreadable, of a type this client does
// not read, or holding only expired tickets.
func (c *Client) usableCCache(name string) (path, reason string) {
	typ, rest, found := strings.Cut(name, ":")
	if !found || len(typ) == 1 { // a plain path (or a drive letter)
		typ, rest = "FILE", name
	}
	switch strings.ToUpper(typ) {
	case "FILE":
		path = rest
	case "DIR":
		// A DIR collection: its primary cache is named in the file
		// "primary", else "tkt".
		dir := strings.TrimPrefix(rest, ":")
		prim := "tkt"
		if b, err := os.ReadFile(filepath.Join(dir, "primary")); err == nil && strings.TrimSpace(string(b)) != "" {
			prim = strings.TrimSpace(string(b))
		}
		path = filepath.Join(dir, filepath.Base(prim))
	default:
		return "", "caches of type " + typ + " cannot be read here (use a FILE: or DIR: cache: KRB5CCNAME=FILE:/path)"
	}
	if _, err := os.Stat(path); err != nil {
		if os.IsNotExist(err) {
			return "", "no such file (no ticket: kinit was not run as this account)"
		}
		return "", err.Error()
	}
	cc, err := credentials.LoadCCache(path)
	if err != nil {
		return "", "unreadable: " + err.Error()
	}
	now := c.now()
	valid := false
	for _, e := range cc.GetEntries() {
		if e.EndTime.After(now) {
			valid = true
			break
		}
	}
	if !valid {
		return "", "it holds no ticket that has not expired (run kinit again)"
	}
	return path, ""
}

// keytabPrincipal returns the principal of the keytab's first entry,
// "name@REALM", as MIT Kerberos uses a client keytab.
func keytabPrincipal(path string) (string, error) {
	kt, err := keytab.Load(path)
	if err != nil {
		return "", err
	}
	if len(kt.Entries) == 0 {
		return "", fmt.Errorf("it has no entries")
	}
	p := kt.Entries[0].Principal
	return strings.Join(p.Components, "/") + "@" + p.Realm, nil
}

// Next continues the GSSAPI exchange.
func (c *Client) Next(ctx context.Context, challenge []byte) ([]byte, error) {
	if c.inner == nil {
		return nil, &Error{Op: "context", Msg: "a challenge before the exchange started"}
	}
	return c.inner.Next(ctx, challenge)
}

// Verify fails unless GSSAPI's mutual authentication completed.
func (c *Client) Verify() error {
	if c.inner == nil {
		return &Error{Op: "context", Msg: "the exchange did not start"}
	}
	return c.inner.Verify()
}

var (
	_ authmech.Client   = (*Client)(nil)
	_ authmech.Verifier = (*Client)(nil)
)

func newSSPI(authmech.Credentials, string) (authmech.Client, error) { return nil, ErrSSPIWindowsOnly }
