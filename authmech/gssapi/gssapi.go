// Package gssapi is the SASL GSSAPI mechanism (RFC 4752): Kerberos V5
// authentication for SMTP AUTH, as on-premises Exchange and Dovecot or
// Cyrus with a KDC offer it. It is built from the pieces of
// github.com/jcmturner/gokrb5/v8, which has no SASL GSSAPI client, and keeps
// that dependency inside this package.
//
// The exchange: Start gets a service ticket for smtp/<server> (or the
// configured SPN) and sends the GSS-API initial context token (RFC 2743
// 3.1, RFC 4121 4.1) holding an AP-REQ that asks for mutual
// authentication. The server answers with an AP-REP, which is decrypted and
// checked against our authenticator (so a server that does not hold the
// service key cannot pass), and its subkey is taken. The server then sends a
// wrap token (RFC 4121 4.2.6.2) offering security layers; its checksum is
// verified and the client answers, in a wrap token of its own, "no security
// layer" (TLS protects the session) with the authorization identity.
//
// On a connection without TLS, Start refuses with an
// *authmech.PlaintextError unless ServerInfo.AllowPlaintext: the exchange
// itself gives an eavesdropper nothing to crack (the ticket is sealed with
// the service's key, the authenticator with a session key, and the server's
// replay cache stops a replay), but with no security layer the session
// after AUTH is unprotected, so a man in the middle that stripped STARTTLS
// relays the exchange to the real server and then sends as the user.
//
// Credentials come from a password, a keytab, or an existing credential
// cache — the last is "authenticate as the account the service runs as"
// (kinit or a Windows logon put the ticket there; KRB5CCNAME names it).
//
// gokrb5's KDC calls take neither a context nor a dialer. They run in a
// goroutine bounded by the caller's context: when the context ends first,
// Start returns ctx.Err() and the goroutine finishes on its own (bounded by
// krb5.conf's timeouts). It also means KDC traffic goes directly to the KDC
// named in krb5.conf (UDP or TCP port 88), never through the SMTP proxy: a
// host that can reach its relay only through a proxy must be able to reach
// its KDC, or use a credential cache obtained beforehand.
package gssapi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/crypto"
	gss "github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"mailwarden/authmech"
)

// Register adds GSSAPI to reg. auto uses it (ranked first) when the
// credentials configure Kerberos: a krb5.conf, a keytab or a credential
// cache.
func Register(reg *authmech.Registry) error {
	return reg.Register(authmech.Mechanism{
		Name: "GSSAPI",
		Rank: authmech.RankGSSAPI,
		Satisfies: func(c authmech.Credentials) bool {
			k := c.Kerberos
			return k.Config != "" || k.Keytab != "" || k.CCache != ""
		},
		New: func(c authmech.Credentials) (authmech.Client, error) { return New(c, os.Getenv) },
	})
}

// Error is a Kerberos failure: getting a ticket, or a server that failed
// mutual authentication. gokrb5's errors have no Unwrap; their text is kept
// (it never contains the password).
type Error struct {
	Op  string // "config", "keytab", "ccache", "login", "ticket", "ap-rep", "wrap"
	Msg string
	Err error
}

func (e *Error) Error() string { return "authmech/gssapi: " + e.Op + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// ErrMutualAuth is wrapped when the server's AP-REP or wrap token does not
// prove it holds the service key.
var ErrMutualAuth = errors.New("authmech/gssapi: the server failed mutual authentication")

// Client is one GSSAPI exchange.
type Client struct {
	creds  authmech.Credentials
	getenv func(string) string

	step       int
	sessionKey types.EncryptionKey
	acceptKey  types.EncryptionKey // the acceptor's subkey, when it sent one
	auth       types.Authenticator
	mutual     bool
	done       bool
	principal  string // the client principal of the ticket, set by Start
}

// New returns a Client; getenv reads KRB5_CONFIG and KRB5CCNAME.
func New(c authmech.Credentials, getenv func(string) string) (*Client, error) {
	k := c.Kerberos
	if c.Username == "" && k.CCache == "" && getenv("KRB5CCNAME") == "" {
		return nil, errors.New("authmech/gssapi: GSSAPI needs a user principal, or a credential cache")
	}
	if c.Username != "" && c.Password == "" && k.Keytab == "" && k.CCache == "" && getenv("KRB5CCNAME") == "" {
		return nil, errors.New("authmech/gssapi: GSSAPI needs a password, a keytab or a credential cache")
	}
	return &Client{creds: c, getenv: getenv}, nil
}

// User returns the principal reported in the audit trail: after Start,
// the one the ticket was issued to (with its realm), which for a
// credential cache is the cache's principal; before, the user name given.
func (c *Client) User() string {
	if c.principal != "" {
		return c.principal
	}
	return c.creds.Username
}

// String and GoString never show the password.
func (c *Client) String() string   { return "gssapi.Client{user: " + c.creds.Username + "}" }
func (c *Client) GoString() string { return c.String() }

func (c *Client) krb5Client() (*client.Client, error) {
	k := c.creds.Kerberos
	path := k.Config
	if path == "" {
		path = c.getenv("KRB5_CONFIG")
	}
	if path == "" {
		path = "/etc/krb5.conf"
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, &Error{Op: "config", Msg: fmt.Sprintf("loading %s: %v", path, err)}
	}
	user, realm := c.creds.Username, k.Realm
	if u, r, ok := strings.Cut(user, "@"); ok {
		user = u
		if realm == "" {
			realm = r
		}
	}
	if realm == "" {
		realm = cfg.LibDefaults.DefaultRealm
	}
	opts := client.DisablePAFXFAST(true)
	switch {
	case k.Keytab != "":
		kt, err := keytab.Load(k.Keytab)
		if err != nil {
			return nil, &Error{Op: "keytab", Msg: fmt.Sprintf("loading %s: %v", k.Keytab, err)}
		}
		return client.NewWithKeytab(user, realm, kt, cfg, opts), nil
	case k.CCache != "" || (c.creds.Password == "" && c.getenv("KRB5CCNAME") != ""):
		p := k.CCache
		if p == "" {
			p = c.getenv("KRB5CCNAME")
		}
		p = strings.TrimPrefix(p, "FILE:")
		cc, err := credentials.LoadCCache(p)
		if err != nil {
			return nil, &Error{Op: "ccache", Msg: fmt.Sprintf("loading %s: %v", p, err)}
		}
		cl, err := client.NewFromCCache(cc, cfg, opts)
		if err != nil {
			return nil, &Error{Op: "ccache", Msg: err.Error()}
		}
		return cl, nil
	}
	return client.NewWithPassword(user, realm, c.creds.Password.Reveal(), cfg, opts), nil
}

// kdcMsg is a gokrb5 error's text with the password taken out, should it
// ever be there.
func (c *Client) kdcMsg(err error) string {
	msg := err.Error()
	if pw := c.creds.Password.Reveal(); pw != "" {
		msg = strings.ReplaceAll(msg, pw, "[REDACTED]")
	}
	return msg
}

// Start gets a service ticket and sends the initial context token.
func (c *Client) Start(ctx context.Context, info *authmech.ServerInfo) (string, []byte, error) {
	if err := info.RefuseInClear("GSSAPI", "it negotiates no security layer, so whoever is on the path can relay the exchange and take over the authenticated session"); err != nil {
		return "", nil, err
	}
	spn := c.creds.Kerberos.SPN
	if spn == "" {
		if info == nil || info.Name == "" {
			return "", nil, errors.New("authmech/gssapi: no server name to derive the service principal from")
		}
		spn = "smtp/" + info.Name
	}
	spn, _, _ = strings.Cut(spn, "@")
	type result struct {
		cl  *client.Client
		tkt messages.Ticket
		key types.EncryptionKey
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		r.cl, r.err = c.krb5Client()
		if r.err == nil && c.creds.Kerberos.CCache == "" && (c.creds.Password != "" || c.creds.Kerberos.Keytab != "") {
			if err := r.cl.Login(); err != nil {
				r.err = &Error{Op: "login", Msg: c.kdcMsg(err)}
			}
		}
		if r.err == nil {
			var err error
			if r.tkt, r.key, err = r.cl.GetServiceTicket(spn); err != nil {
				r.err = &Error{Op: "ticket", Msg: "service ticket for " + spn + ": " + c.kdcMsg(err)}
			}
		}
		ch <- r
	}()
	var r result
	select {
	case <-ctx.Done():
		return "", nil, ctx.Err()
	case r = <-ch:
	}
	if r.err != nil {
		return "", nil, r.err
	}
	defer r.cl.Destroy()
	c.principal = r.cl.Credentials.CName().PrincipalNameString() + "@" + r.cl.Credentials.Domain()
	auth, err := types.NewAuthenticator(r.cl.Credentials.Domain(), r.cl.Credentials.CName())
	if err != nil {
		return "", nil, &Error{Op: "ticket", Msg: err.Error()}
	}
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: gssChecksum(gss.ContextFlagMutual | gss.ContextFlagInteg)}
	apreq, err := messages.NewAPReq(r.tkt, r.key, auth)
	if err != nil {
		return "", nil, &Error{Op: "ticket", Msg: err.Error()}
	}
	types.SetFlag(&apreq.APOptions, flags.APOptionMutualRequired)
	body, err := apreq.Marshal()
	if err != nil {
		return "", nil, &Error{Op: "ticket", Msg: err.Error()}
	}
	c.sessionKey, c.auth, c.step, c.mutual, c.done = r.key, auth, 0, false, false
	c.acceptKey = types.EncryptionKey{}
	return "GSSAPI", initialContextToken(body), nil
}

// gssChecksum is the authenticator checksum of RFC 4121 4.1.1: Lgth 16,
// no channel bindings, then the context flags.
func gssChecksum(f int) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b, 16)
	binary.LittleEndian.PutUint32(b[20:], uint32(f))
	return b
}

// initialContextToken frames an AP-REQ as the GSS-API initial context
// token: [APPLICATION 0] { OID 1.2.840.113554.1.2.2, TOK_ID 01 00, AP-REQ }.
func initialContextToken(apreq []byte) []byte {
	oid, _ := asn1.Marshal(gss.OIDKRB5.OID())
	b := append(oid, 0x01, 0x00)
	b = append(b, apreq...)
	return asn1tools.AddASNAppTag(b, 0)
}

// Next handles the AP-REP, then the security-layer offer. Both come from
// the server and are parsed by gokrb5, which does not bound every length
// (a short AP-REP cipher text made it panic): lengths are checked first,
// and a panic that still escapes is turned into an *Error, so a hostile
// server cannot crash the process.
func (c *Client) Next(_ context.Context, challenge []byte) (resp []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			op, sentinel := "wrap", error(nil)
			if !c.mutual {
				op, sentinel = "ap-rep", ErrMutualAuth
			}
			resp, err = nil, &Error{Op: op, Msg: fmt.Sprintf("malformed token from the server (%v)", r), Err: sentinel}
		}
	}()
	c.step++
	switch {
	case !c.mutual:
		if err := c.checkAPRep(challenge); err != nil {
			return nil, err
		}
		c.mutual = true
		return []byte{}, nil
	case !c.done:
		resp, err := c.securityLayer(challenge)
		if err != nil {
			return nil, err
		}
		c.done = true
		return resp, nil
	}
	return nil, errors.New("authmech/gssapi: unexpected server challenge")
}

func (c *Client) checkAPRep(b []byte) error {
	var tok spnego.KRB5Token
	if err := tok.Unmarshal(b); err != nil {
		return &Error{Op: "ap-rep", Msg: "the server's reply is not a Kerberos token: " + err.Error(), Err: ErrMutualAuth}
	}
	if tok.IsKRBError() {
		return &Error{Op: "ap-rep", Msg: "the server answered with a Kerberos error: " + tok.KRBError.Error(), Err: ErrMutualAuth}
	}
	if !tok.IsAPRep() {
		return &Error{Op: "ap-rep", Msg: "the server's reply is not an AP-REP", Err: ErrMutualAuth}
	}
	et, err := crypto.GetEtype(c.sessionKey.KeyType)
	if err != nil {
		return &Error{Op: "ap-rep", Msg: err.Error(), Err: ErrMutualAuth}
	}
	if len(tok.APRep.EncPart.Cipher) < et.GetConfounderByteSize()+et.GetHMACBitLength()/8 {
		return &Error{Op: "ap-rep", Msg: "the AP-REP's encrypted part is too short", Err: ErrMutualAuth}
	}
	plain, err := crypto.DecryptEncPart(tok.APRep.EncPart, c.sessionKey, keyusage.AP_REP_ENCPART)
	if err != nil {
		return &Error{Op: "ap-rep", Msg: "cannot decrypt the AP-REP with the session key", Err: ErrMutualAuth}
	}
	var part messages.EncAPRepPart
	if err := part.Unmarshal(plain); err != nil {
		return &Error{Op: "ap-rep", Msg: err.Error(), Err: ErrMutualAuth}
	}
	if part.CTime.Unix() != c.auth.CTime.Unix() || part.Cusec != c.auth.Cusec {
		return &Error{Op: "ap-rep", Msg: "the AP-REP does not echo our authenticator's time", Err: ErrMutualAuth}
	}
	if part.Subkey.KeyType != 0 && len(part.Subkey.KeyValue) > 0 {
		c.acceptKey = part.Subkey
	}
	return nil
}

// flagAcceptorSubkey is RFC 4121 4.2.2's AcceptorSubkey flag.
const flagAcceptorSubkey = 0x04

func (c *Client) securityLayer(b []byte) ([]byte, error) {
	var wt gss.WrapToken
	if err := wt.Unmarshal(b, true); err != nil {
		return nil, &Error{Op: "wrap", Msg: "the security-layer offer is not a wrap token: " + err.Error()}
	}
	key := c.sessionKey
	if wt.Flags&flagAcceptorSubkey != 0 {
		if c.acceptKey.KeyType == 0 {
			return nil, &Error{Op: "wrap", Msg: "the wrap token uses an acceptor subkey the AP-REP did not carry", Err: ErrMutualAuth}
		}
		key = c.acceptKey
	}
	if ok, err := wt.Verify(key, keyusage.GSSAPI_ACCEPTOR_SEAL); !ok || err != nil {
		return nil, &Error{Op: "wrap", Msg: "the security-layer offer's checksum does not verify", Err: ErrMutualAuth}
	}
	if len(wt.Payload) != 4 {
		return nil, &Error{Op: "wrap", Msg: fmt.Sprintf("the security-layer offer has %d bytes, want 4", len(wt.Payload))}
	}
	if wt.Payload[0]&0x01 == 0 {
		return nil, &Error{Op: "wrap", Msg: "the server requires a SASL security layer, which is not supported (TLS protects the session)"}
	}
	// RFC 4752 3.1: layer 1 (none), max size 0, then the authorization
	// identity.
	payload := append([]byte{0x01, 0, 0, 0}, c.creds.Authzid...)
	out := gss.WrapToken{
		Flags:     wt.Flags & flagAcceptorSubkey,
		RRC:       0,
		SndSeqNum: uint64(c.auth.SeqNumber),
		Payload:   payload,
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, &Error{Op: "wrap", Msg: err.Error()}
	}
	out.EC = uint16(et.GetHMACBitLength() / 8)
	if err := out.SetCheckSum(key, keyusage.GSSAPI_INITIATOR_SEAL); err != nil {
		return nil, &Error{Op: "wrap", Msg: err.Error()}
	}
	return out.Marshal()
}

// Verify fails unless mutual authentication and the security-layer
// negotiation both completed.
func (c *Client) Verify() error {
	if !c.mutual || !c.done {
		return &Error{Op: "ap-rep", Msg: "the exchange ended before the server proved itself", Err: ErrMutualAuth}
	}
	return nil
}

var (
	_ authmech.Client   = (*Client)(nil)
	_ authmech.Verifier = (*Client)(nil)
)
