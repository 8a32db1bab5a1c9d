package gssapi

import (
	"context"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/crypto"
	gss "github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"mailwarden/authmech"
)

// Name is the SASL name of the mechanism.
const Name = "GSSAPI"

// Register adds GSSAPI (alias KERBEROS, already set by authmech.NewRegistry)
// to reg, which makes it available by name and to auto.
func Register(reg *authmech.Registry) error { return reg.Register(Name, New) }

// ErrMutualAuth is returned when the server did not complete mutual
// authentication: no AP-REP, a forged one, or a bad wrap token.
var ErrMutualAuth = errors.New("gssapi: server did not prove its identity")

// New is the authmech.Factory for GSSAPI. It fails with an error wrapping
// authmech.ErrMissingCredentials when there is neither a keytab, a password
// nor a credential cache to use. It does not contact the KDC; Start does.
func New(c authmech.Credentials) (authmech.Client, error) {
	k := c.Kerberos
	cl := &Client{creds: c}
	switch {
	case k.Keytab != "" || c.Password != "":
		if c.Username == "" {
			return nil, fmt.Errorf("%w: a principal name is required with a keytab or password", authmech.ErrMissingCredentials)
		}
	case k.CCache != "":
		cl.ccache = k.CCache
	default:
		p := os.Getenv("KRB5CCNAME")
		if p == "" {
			p = fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
		}
		p = strings.TrimPrefix(p, "FILE:")
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w: no keytab, password or credential cache", authmech.ErrMissingCredentials)
		}
		cl.ccache = p
	}
	return cl, nil
}

// A Client is the GSSAPI authmech.Client. It is also an authmech.Verifier.
type Client struct {
	creds  authmech.Credentials
	ccache string

	step     int
	auth     types.Authenticator
	session  types.EncryptionKey
	key      types.EncryptionKey // acceptor subkey, or the session key
	subkey   bool                // key is the acceptor's subkey
	verified bool
}

// String never shows credentials or keys.
func (c *Client) String() string { return "gssapi.Client{[REDACTED]}" }

// GoString never shows credentials or keys.
func (c *Client) GoString() string { return c.String() }

// LogValue never shows credentials or keys.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

func fail(err error) error { return &authmech.MechanismError{Mech: Name, Err: err} }

// Start logs in to the KDC if needed, gets a ticket for the service and
// returns the AP-REQ as the initial response.
func (c *Client) Start(ctx context.Context, info *authmech.ServerInfo) (string, []byte, error) {
	if info != nil && len(info.Mechanisms) > 0 && !info.Offers(Name) {
		return "", nil, fail(authmech.ErrNotOffered)
	}
	spn := c.creds.Kerberos.SPN
	if spn == "" {
		if info == nil || info.Name == "" {
			return "", nil, fail(errors.New("gssapi: no server name to derive the service principal from"))
		}
		spn = "smtp/" + info.Name
	}
	if err := ctx.Err(); err != nil {
		return "", nil, fail(fmt.Errorf("gssapi: kdc: %w", err))
	}
	type result struct {
		cl  *client.Client
		tkt messages.Ticket
		key types.EncryptionKey
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		r.cl, r.err = c.login()
		if r.err == nil {
			r.tkt, r.key, r.err = r.cl.GetServiceTicket(spn)
			if r.err != nil {
				r.err = fmt.Errorf("gssapi: service ticket for %s: %s", spn, krbMsg(r.err))
			}
		}
		ch <- r
	}()
	var r result
	select {
	case <-ctx.Done():
		return "", nil, fail(fmt.Errorf("gssapi: kdc: %w", ctx.Err()))
	case r = <-ch:
	}
	if r.err != nil {
		return "", nil, fail(r.err)
	}
	defer r.cl.Destroy()

	auth, err := types.NewAuthenticator(r.cl.Credentials.Domain(), r.cl.Credentials.CName())
	if err != nil {
		return "", nil, fail(fmt.Errorf("gssapi: authenticator: %s", krbMsg(err)))
	}
	// RFC 4121 4.1.1: the checksum carries the (empty) channel bindings and
	// the context flags; SASL GSSAPI asks for mutual authentication.
	ck := make([]byte, 24)
	binary.LittleEndian.PutUint32(ck[0:4], 16)
	binary.LittleEndian.PutUint32(ck[20:24], uint32(gss.ContextFlagMutual|gss.ContextFlagInteg))
	auth.Cksum = types.Checksum{CksumType: 0x8003, Checksum: ck}
	apreq, err := messages.NewAPReq(r.tkt, r.key, auth)
	if err != nil {
		return "", nil, fail(fmt.Errorf("gssapi: ap-req: %s", krbMsg(err)))
	}
	types.SetFlag(&apreq.APOptions, flags.APOptionMutualRequired)
	ab, err := apreq.Marshal()
	if err != nil {
		return "", nil, fail(fmt.Errorf("gssapi: ap-req: %s", krbMsg(err)))
	}
	oid, _ := asn1.Marshal(asn1.ObjectIdentifier(gss.OIDKRB5.OID()))
	tok := append(oid, 0x01, 0x00) // TOK_ID KRB_AP_REQ
	tok = append(tok, ab...)
	c.auth, c.session, c.step, c.verified = auth, r.key, 0, false
	return Name, asn1tools.AddASNAppTag(tok, 0), nil
}

func (c *Client) login() (*client.Client, error) {
	k := c.creds.Kerberos
	path := k.Config
	if path == "" {
		path = os.Getenv("KRB5_CONFIG")
	}
	if path == "" {
		path = "/etc/krb5.conf"
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("gssapi: krb5.conf %s: %s", path, krbMsg(err))
	}
	var cl *client.Client
	if c.ccache != "" {
		cc, err := credentials.LoadCCache(c.ccache)
		if err != nil {
			return nil, fmt.Errorf("gssapi: credential cache: %s", krbMsg(err))
		}
		if cl, err = client.NewFromCCache(cc, cfg, client.DisablePAFXFAST(true)); err != nil {
			return nil, fmt.Errorf("gssapi: credential cache: %s", krbMsg(err))
		}
		return cl, nil
	}
	user, realm := c.creds.Username, k.Realm
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		if realm == "" {
			realm = user[i+1:]
		}
		user = user[:i]
	}
	if realm == "" {
		realm = cfg.LibDefaults.DefaultRealm
	}
	if k.Keytab != "" {
		kt, err := keytab.Load(k.Keytab)
		if err != nil {
			return nil, fmt.Errorf("gssapi: keytab: %s", krbMsg(err))
		}
		cl = client.NewWithKeytab(user, realm, kt, cfg, client.DisablePAFXFAST(true))
	} else {
		cl = client.NewWithPassword(user, realm, c.creds.Password.Reveal(), cfg, client.DisablePAFXFAST(true))
	}
	if err := cl.Login(); err != nil {
		return nil, fmt.Errorf("gssapi: kdc login as %s@%s: %s", user, realm, krbMsg(err))
	}
	return cl, nil
}

// krbMsg flattens a gokrb5 error (which has no Unwrap) to its text; gokrb5
// errors carry principal names and error codes, never keys or passwords.
func krbMsg(err error) string { return err.Error() }

// Next handles the server's AP-REP, then its security-layer offer.
func (c *Client) Next(_ context.Context, challenge []byte) ([]byte, error) {
	c.step++
	switch c.step {
	case 1:
		if err := c.apRep(challenge); err != nil {
			return nil, fail(err)
		}
		return []byte{}, nil
	case 2:
		resp, err := c.layer(challenge)
		if err != nil {
			return nil, fail(err)
		}
		c.verified = true
		return resp, nil
	}
	return nil, fail(errors.New("gssapi: unexpected challenge"))
}

func (c *Client) apRep(b []byte) error {
	var t spnego.KRB5Token
	if err := t.Unmarshal(b); err != nil {
		return fmt.Errorf("%w: %s", ErrMutualAuth, krbMsg(err))
	}
	if t.IsKRBError() {
		return fmt.Errorf("gssapi: server: %s", t.KRBError.Error())
	}
	if !t.IsAPRep() {
		return fmt.Errorf("%w: no AP-REP", ErrMutualAuth)
	}
	plain, err := crypto.DecryptEncPart(t.APRep.EncPart, c.session, keyusage.AP_REP_ENCPART)
	if err != nil {
		return fmt.Errorf("%w: AP-REP does not decrypt", ErrMutualAuth)
	}
	var part messages.EncAPRepPart
	if err := part.Unmarshal(plain); err != nil {
		return fmt.Errorf("%w: AP-REP: %s", ErrMutualAuth, krbMsg(err))
	}
	if part.CTime.Unix() != c.auth.CTime.Unix() || part.Cusec != c.auth.Cusec {
		return fmt.Errorf("%w: AP-REP time does not match the authenticator", ErrMutualAuth)
	}
	c.key, c.subkey = c.session, false
	if part.Subkey.KeyType != 0 && len(part.Subkey.KeyValue) > 0 {
		c.key, c.subkey = part.Subkey, true
	}
	return nil
}

// layer checks the server's wrapped offer (RFC 4752 3.1) and wraps the
// reply: no security layer, maximum size 0, then the authorization identity.
func (c *Client) layer(b []byte) ([]byte, error) {
	var wt gss.WrapToken
	if err := wt.Unmarshal(b, true); err != nil {
		return nil, fmt.Errorf("%w: wrap token: %s", ErrMutualAuth, krbMsg(err))
	}
	if wt.Flags&0x02 != 0 {
		return nil, errors.New("gssapi: server sent a sealed wrap token (not supported)")
	}
	key := c.session
	if wt.Flags&0x04 != 0 {
		if !c.subkey {
			return nil, fmt.Errorf("%w: wrap token names an acceptor subkey the AP-REP did not carry", ErrMutualAuth)
		}
		key = c.key
	}
	if wt.RRC != 0 {
		return nil, errors.New("gssapi: rotated wrap token (not supported)")
	}
	if ok, err := wt.Verify(key, keyusage.GSSAPI_ACCEPTOR_SEAL); !ok || err != nil {
		return nil, fmt.Errorf("%w: wrap token checksum", ErrMutualAuth)
	}
	if len(wt.Payload) != 4 {
		return nil, fmt.Errorf("gssapi: security-layer offer of %d bytes, want 4", len(wt.Payload))
	}
	if wt.Payload[0]&0x01 == 0 {
		return nil, errors.New("gssapi: server does not offer \"no security layer\"")
	}
	payload := append([]byte{0x01, 0, 0, 0}, c.creds.Authzid...)
	et, err := crypto.GetEtype(c.key.KeyType)
	if err != nil {
		return nil, fmt.Errorf("gssapi: %s", krbMsg(err))
	}
	reply := gss.WrapToken{EC: uint16(et.GetHMACBitLength() / 8), SndSeqNum: uint64(c.auth.SeqNumber), Payload: payload}
	if c.subkey {
		reply.Flags = 0x04 // AcceptorSubkey
	}
	if err := reply.SetCheckSum(c.key, keyusage.GSSAPI_INITIATOR_SEAL); err != nil {
		return nil, fmt.Errorf("gssapi: wrap: %s", krbMsg(err))
	}
	out, err := reply.Marshal()
	if err != nil {
		return nil, fmt.Errorf("gssapi: wrap: %s", krbMsg(err))
	}
	return out, nil
}

// Verify reports ErrMutualAuth unless the AP-REP and the server's wrapped
// offer were both checked.
func (c *Client) Verify() error {
	if !c.verified {
		return fail(ErrMutualAuth)
	}
	return nil
}
