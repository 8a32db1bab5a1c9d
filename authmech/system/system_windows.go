//go:build windows

package system

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/alexbrainman/sspi"
	"github.com/alexbrainman/sspi/kerberos"
	"github.com/alexbrainman/sspi/ntlm"

	"mailwarden/authmech"
)

const hintNoCredentials = "SSPI found no credentials for the account this process runs as: run it as a domain account, a gMSA, or LocalSystem/NetworkService on a domain-joined machine (a local account has no Kerberos ticket and no domain NTLM credentials); check with klist that the logon session has a ticket"

// SSPI status codes the hints know.
const (
	secENoCredentials              = syscall.Errno(0x8009030E)
	secETargetUnknown              = syscall.Errno(0x80090303)
	secENoAuthority                = syscall.Errno(0x80090311)
	secETimeSkew                   = syscall.Errno(0x80090324)
	secELogonDenied                = syscall.Errno(0x8009030C)
	secEUnsupportedFunction        = syscall.Errno(0x80090302)
	secEWrongPrincipal             = syscall.Errno(0x80090322)
	kerbWrapNoEncrypt              = 0x80000001
	secpkgAttrNames                = 1 // SECPKG_ATTR_NAMES
	flagsKerberos           uint32 = sspi.ISC_REQ_MUTUAL_AUTH | sspi.ISC_REQ_INTEGRITY | sspi.ISC_REQ_CONNECTION
	flagsNTLM               uint32 = sspi.ISC_REQ_CONNECTION // as ntlm.NewClientContext
)

func platformHint(e *Error) string {
	var errno syscall.Errno
	if !errors.As(e.Err, &errno) {
		return ""
	}
	switch errno {
	case secETargetUnknown, secEWrongPrincipal:
		return "the domain does not know the relay's service principal (SEC_E_TARGET_UNKNOWN): register smtp/<relay host> on the relay's account (setspn -S), connect by that host name, or set --spn (auth.spn)"
	case secENoAuthority:
		return "no domain controller could be reached to authenticate (SEC_E_NO_AUTHENTICATING_AUTHORITY): check that this machine is joined to the domain and can reach a DC"
	case secETimeSkew:
		return "this machine's clock differs from the domain controller's by more than Kerberos allows (SEC_E_TIME_SKEW): synchronise the clock (w32tm /resync)"
	case secELogonDenied:
		if e.Explicit {
			return "the domain refused the user name or password given (SEC_E_LOGON_DENIED): check the user (DOMAIN\\user or user@domain) and the password"
		}
		return "the relay refused the logon (SEC_E_LOGON_DENIED): check that the account may use the receive connector"
	case secEUnsupportedFunction:
		return "NTLM is refused by policy on this machine or the domain (Network security: Restrict NTLM): use Kerberos (GSSAPI) on the relay"
	}
	return ""
}

// New returns a client that authenticates through SSPI as the account the
// process runs as. It refuses credentials that carry a user name or a
// password. Kerberos.SPN overrides the service principal smtp/<host>.
func New(c authmech.Credentials) (authmech.Client, error) {
	if c.Username != "" || c.Password != "" {
		return nil, ErrSecretGiven
	}
	return &Client{creds: c}, nil
}

func newSSPI(c authmech.Credentials, mech string) (authmech.Client, error) {
	domain, user := splitAccount(c.Username)
	return &Client{creds: c, want: mech, explicit: &explicitCreds{domain: domain, user: user}}, nil
}

// explicitCreds are the domain and user of the SSPI provider's explicit
// credentials; the password stays in Client.creds.
type explicitCreds struct{ domain, user string }

// Client is one exchange of the system mechanism through SSPI.
type Client struct {
	creds authmech.Credentials
	// explicit is set for the SSPI provider (NewSSPI): the user and
	// password in creds, not the logon session's credentials.
	explicit *explicitCreds
	want     string // "GSSAPI" or "NTLM" for NewSSPI's named mechanism; "" either

	pkg     string // "Kerberos" or "NTLM", set by Start
	account string

	cred   *sspi.Credentials
	krb    *sspi.Context // the Kerberos context, driven directly to reach its handle
	target []uint16      // the SPN, for InitializeSecurityContext
	ntlm   *sspi.Context // the NTLM context, driven the same way

	established bool // the security context is complete
	sawAPRep    bool // a context token came after SSPI had called the context complete
	done        bool // the security layer was negotiated (Kerberos) or the answer sent (NTLM)
}

// Package returns the SSPI security package of the last Start: "Kerberos"
// or "NTLM", "" before Start.
func (c *Client) Package() string { return c.pkg }

// User returns the account and the package, for the probe and the audit
// trail; "" before Start.
func (c *Client) User() string {
	if c.pkg == "" {
		return ""
	}
	if c.explicit != nil {
		return c.account + " (SSPI " + c.pkg + ", explicit credentials)"
	}
	return c.account + " (system account, SSPI " + c.pkg + ")"
}

func (c *Client) String() string   { return describe(c.pkg, c.account) }
func (c *Client) GoString() string { return c.String() }

func currentAccount() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "the current account"
}

func (c *Client) fail(op, msg string, err error) error {
	var errno syscall.Errno
	if c.explicit == nil && errors.As(err, &errno) && errno == secENoCredentials && !errors.Is(err, ErrNoCredentials) {
		err = fmt.Errorf("%w: %v", ErrNoCredentials, err)
	}
	c.release() // the exchange is over: free the SSPI handles now
	return &Error{Op: op, Package: c.pkg, Account: c.account, Msg: msg, Err: err, Explicit: c.explicit != nil}
}

// acquire returns outbound credentials of the package pkg ("Kerberos" or
// "NTLM"): the logon session's, or the explicit user and password.
func (c *Client) acquire(pkg string) (*sspi.Credentials, error) {
	var cred *sspi.Credentials
	var err error
	switch {
	case c.explicit == nil && pkg == "Kerberos":
		cred, err = kerberos.AcquireCurrentUserCredentials()
	case c.explicit == nil:
		cred, err = ntlm.AcquireCurrentUserCredentials()
	case pkg == "Kerberos":
		cred, err = kerberos.AcquireUserCredentials(c.explicit.domain, c.explicit.user, string(c.creds.Password))
	default:
		cred, err = ntlm.AcquireUserCredentials(c.explicit.domain, c.explicit.user, string(c.creds.Password))
	}
	if err != nil && c.explicit == nil {
		err = fmt.Errorf("%w: %v", ErrNoCredentials, err)
	}
	return cred, err
}

// Start picks Kerberos (GSSAPI) when the server offers it, else NTLM, and
// makes the first token with the logon session's credentials (or, for
// NewSSPI, the user and password given; only the mechanism named, if one
// was).
func (c *Client) Start(ctx context.Context, info *authmech.ServerInfo) (string, []byte, error) {
	if err := info.RefuseInClear("SYSTEM", "it negotiates no security layer, so whoever is on the path can relay the exchange and take over the authenticated session"); err != nil {
		return "", nil, err
	}
	c.release()
	if c.explicit != nil {
		c.account = c.creds.Username // as the operator wrote it
	} else {
		c.account = currentAccount()
	}
	switch {
	case info.Offers("GSSAPI") && c.want != "NTLM":
		c.pkg = "Kerberos"
		spn := c.creds.Kerberos.SPN
		if spn == "" {
			if info == nil || info.Name == "" {
				return "", nil, c.fail("context", "no server name to derive the service principal from", nil)
			}
			spn = "smtp/" + info.Name
		}
		spn, _, _ = strings.Cut(spn, "@")
		cred, err := c.acquire(c.pkg)
		if err != nil {
			return "", nil, c.fail("credentials", "AcquireCredentialsHandle", err)
		}
		c.cred = cred
		if c.target, err = syscall.UTF16FromString(spn); err != nil {
			return "", nil, c.fail("context", "the service principal "+spn, err)
		}
		c.krb = sspi.NewClientContext(cred, flagsKerberos)
		completed, tok, err := c.update(c.krb, kerberos.PackageInfo.MaxToken, nil)
		if err != nil {
			return "", nil, c.fail("context", "InitializeSecurityContext for "+spn, err)
		}
		if len(tok) == 0 {
			return "", nil, c.fail("context", "InitializeSecurityContext for "+spn+" made no token", nil)
		}
		c.established = completed
		if completed {
			c.account = c.contextName(c.account)
		}
		return "GSSAPI", tok, nil
	case info.Offers("NTLM") && c.want != "GSSAPI":
		c.pkg = "NTLM"
		cred, err := c.acquire(c.pkg)
		if err != nil {
			return "", nil, c.fail("credentials", "AcquireCredentialsHandle", err)
		}
		c.cred = cred
		// The first call gets no input buffer at all: Wine's NTLM
		// package takes an input descriptor (even with an empty token,
		// as ntlm.NewClientContext passes) for a continuation and
		// answers SEC_E_INVALID_HANDLE.
		c.ntlm = sspi.NewClientContext(cred, flagsNTLM)
		c.target = nil
		if c.explicit == nil && info != nil {
			// SSPI's NTLM prefers a domain credential saved for the
			// relay in Credential Manager (cmdkey /add:HOST) to the logon
			// session's: name the account it holds.
			if u := savedCredentialUser(info.Name); u != "" {
				c.account = u + " (saved in Credential Manager for " + info.Name + ")"
			}
		}
		if info != nil && info.Name != "" {
			if c.target, err = syscall.UTF16FromString("smtp/" + info.Name); err != nil {
				return "", nil, c.fail("context", "the target name", err)
			}
		}
		_, tok, err := c.update(c.ntlm, ntlm.PackageInfo.MaxToken, nil)
		if err != nil {
			return "", nil, c.fail("context", "InitializeSecurityContext", err)
		}
		return "NTLM", tok, nil
	}
	offered := "nothing"
	if info != nil && len(info.Mechanisms) > 0 {
		offered = strings.Join(info.Mechanisms, " ")
	}
	wanted := "neither GSSAPI nor NTLM"
	if c.want != "" {
		wanted = "no " + c.want
	}
	return "", nil, &Error{Op: "offer", Msg: "the server offers " + wanted + " (it offers " + offered + ")", Err: authmech.ErrNotOffered, Explicit: c.explicit != nil}
}

// Next answers a challenge: Kerberos context tokens until the context is
// complete, then the security-layer offer (RFC 4752 3.1); or NTLM's
// challenge.
func (c *Client) Next(_ context.Context, challenge []byte) ([]byte, error) {
	switch {
	case c.ntlm != nil:
		if c.done {
			return nil, c.fail("context", "unexpected server challenge after NTLM's answer", nil)
		}
		_, resp, err := c.update(c.ntlm, ntlm.PackageInfo.MaxToken, challenge)
		if err != nil {
			return nil, c.fail("context", "NTLM challenge", err)
		}
		c.done = true
		if c.explicit == nil {
			c.account = contextName(c.ntlm, c.account)
		}
		return resp, nil
	case c.krb != nil:
		if !c.established {
			completed, tok, err := c.update(c.krb, kerberos.PackageInfo.MaxToken, challenge)
			if err != nil {
				return nil, c.fail("context", "the server's Kerberos reply", err)
			}
			c.established = completed
			if completed {
				c.account = c.contextName(c.account)
			}
			if tok == nil {
				tok = []byte{}
			}
			return tok, nil
		}
		if c.done {
			return nil, c.fail("wrap", "unexpected server challenge after the security layer was chosen", nil)
		}
		if len(challenge) == 0 {
			// The context completed in our first token and the server
			// had no AP-REP to send: the offer comes next.
			return []byte{}, nil
		}
		return c.securityLayer(challenge)
	}
	return nil, c.fail("context", "a challenge before the exchange started", nil)
}

// contextName returns the client name of the established context
// (QueryContextAttributes SECPKG_ATTR_NAMES: the Kerberos principal, as
// user@REALM), or def when the package does not say.
func (c *Client) contextName(def string) string { return contextName(c.krb, def) }

// contextName returns the client name of the established context sc, or
// def.
func contextName(sc *sspi.Context, def string) string {
	var p *uint16 // SecPkgContext_NamesW: one pointer, allocated by SSPI
	if sspi.QueryContextAttributes(sc.Handle, secpkgAttrNames, (*byte)(unsafe.Pointer(&p))) != sspi.SEC_E_OK || p == nil {
		return def
	}
	defer sspi.FreeContextBuffer((*byte)(unsafe.Pointer(p)))
	if name := windows.UTF16PtrToString(p); name != "" {
		return name
	}
	return def
}

// update runs InitializeSecurityContext on sc (Kerberos or NTLM) with the
// server's token in (nil for the first call, which then passes no input
// descriptor) and returns whether the context is complete and the token to
// send.
func (c *Client) update(sc *sspi.Context, maxToken uint32, in []byte) (bool, []byte, error) {
	out := make([]byte, maxToken)
	var ob [1]sspi.SecBuffer
	ob[0].Set(sspi.SECBUFFER_TOKEN, out)
	var inDesc *sspi.SecBufferDesc
	if in != nil {
		var ib [1]sspi.SecBuffer
		ib[0].Set(sspi.SECBUFFER_TOKEN, in)
		inDesc = sspi.NewSecBufferDesc(ib[:])
	}
	outDesc := sspi.NewSecBufferDesc(ob[:])
	completed := false
	var target *uint16
	if len(c.target) > 0 {
		target = &c.target[0]
	}
	switch ret := sc.Update(target, outDesc, inDesc); ret {
	case sspi.SEC_E_OK:
		completed = true
	case sspi.SEC_I_CONTINUE_NEEDED:
	case sspi.SEC_I_COMPLETE_NEEDED, sspi.SEC_I_COMPLETE_AND_CONTINUE:
		if r := sspi.CompleteAuthToken(sc.Handle, outDesc); r != sspi.SEC_E_OK {
			return false, nil, r
		}
		completed = ret == sspi.SEC_I_COMPLETE_NEEDED
	default:
		return false, nil, ret
	}
	return completed, append([]byte{}, out[:ob[0].BufferSize]...), nil
}

// unwrap is DecryptMessage of a GSS-API wrap token. Windows takes the
// whole token as a stream buffer (as curl does). Wine 8's provider wants a
// data and a token buffer, which it joins (data first) before gss_unwrap
// and copies the plain text to the start of the data buffer without
// updating its length: the whole token goes in the data buffer, the token
// buffer stays empty, and when the length is left as it was the plain text
// is the first want bytes (the offer of RFC 4752 is 4 bytes).
func (c *Client) unwrap(msg []byte, want int) ([]byte, error) {
	var qop uint32
	stream := append([]byte(nil), msg...) // DecryptMessage works in place
	var b [2]sspi.SecBuffer
	b[0].Set(sspi.SECBUFFER_STREAM, stream)
	b[1].Set(sspi.SECBUFFER_DATA, nil)
	ret := sspi.DecryptMessage(c.krb.Handle, sspi.NewSecBufferDesc(b[:]), 0, &qop)
	if ret == sspi.SEC_E_OK {
		return append([]byte{}, b[1].Bytes()...), nil
	}
	data := append([]byte(nil), msg...)
	b[0].Set(sspi.SECBUFFER_DATA, data)
	b[1].Set(sspi.SECBUFFER_TOKEN, nil)
	if r := sspi.DecryptMessage(c.krb.Handle, sspi.NewSecBufferDesc(b[:]), 0, &qop); r != sspi.SEC_E_OK {
		return nil, fmt.Errorf("%w (as data and token buffers: %v)", ret, r)
	}
	out := b[0].Bytes()
	if len(out) == len(msg) && len(msg) > want {
		out = out[:want]
	}
	return append([]byte{}, out...), nil
}

// wrap is EncryptMessage without confidentiality (KERB_WRAP_NO_ENCRYPT):
// the token, the data and the padding, joined, are the GSS-API wrap token.
func (c *Client) wrap(msg []byte) ([]byte, error) {
	_, maxSig, block, trailer, err := c.krb.Sizes()
	if err != nil {
		return nil, err
	}
	if maxSig == 0 {
		return nil, errors.New("the context has no integrity service")
	}
	var b [3]sspi.SecBuffer
	b[0].Set(sspi.SECBUFFER_TOKEN, make([]byte, trailer))
	b[1].Set(sspi.SECBUFFER_DATA, append([]byte(nil), msg...))
	b[2].Set(sspi.SECBUFFER_PADDING, make([]byte, block))
	if ret := sspi.EncryptMessage(c.krb.Handle, kerbWrapNoEncrypt, sspi.NewSecBufferDesc(b[:]), 0); ret != sspi.SEC_E_OK {
		return nil, ret
	}
	tok, data, pad := b[0].Bytes(), b[1].Bytes(), b[2].Bytes()
	// Windows leaves the token's header in the token buffer: token, data,
	// padding. Wine 8's provider puts the start of gss_wrap's output in the
	// data buffer and the rest in the token buffer: data, token. The
	// joined bytes must begin with a GSS-API token identifier (RFC 4121
	// 05 04, or RFC 1964's 60), which the plain text (01 00 00 00 ...)
	// never does.
	var out []byte
	if isWrapTokenStart(data) && !isWrapTokenStart(tok) {
		out = append(append(out, data...), tok...)
	} else {
		out = append(append(append(out, tok...), data...), pad...)
	}
	return out, nil
}

func isWrapTokenStart(b []byte) bool {
	return len(b) >= 2 && (b[0] == 0x05 && b[1] == 0x04 || b[0] == 0x60)
}

func (c *Client) securityLayer(challenge []byte) ([]byte, error) {
	offer, err := c.unwrap(challenge, 4)
	if err != nil {
		if !c.sawAPRep && challenge[0] == 0x60 {
			// A GSS-API context token although SSPI called the context
			// complete (Negotiate-style one-step completion): the
			// server's AP-REP; the offer follows.
			c.sawAPRep = true
			return []byte{}, nil
		}
		return nil, c.fail("wrap", "the security-layer offer does not unwrap (DecryptMessage)", err)
	}
	if len(offer) != 4 {
		return nil, c.fail("wrap", fmt.Sprintf("the security-layer offer has %d bytes, want 4", len(offer)), nil)
	}
	if offer[0]&0x01 == 0 {
		return nil, c.fail("wrap", "the server requires a SASL security layer, which is not supported (TLS protects the session)", nil)
	}
	// Layer 1 (none), maximum size 0, then the authorization identity.
	msg := append([]byte{0x01, 0, 0, 0}, c.creds.Authzid...)
	out, err := c.wrap(msg)
	if err != nil {
		return nil, c.fail("wrap", "wrapping the answer (EncryptMessage)", err)
	}
	c.done = true
	return out, nil
}

// Verify fails unless the exchange completed: for Kerberos, the context
// (with mutual authentication) and the security layer.
func (c *Client) Verify() error {
	defer c.release()
	switch {
	case c.krb != nil:
		if !c.established || !c.done {
			return c.fail("context", "the exchange ended before the server proved itself", nil)
		}
		if c.krb.EstablishedFlags&sspi.ISC_REQ_MUTUAL_AUTH == 0 {
			err := errors.New("the security package did not establish mutual authentication")
			return c.fail("context", "no mutual authentication", err)
		}
	case c.ntlm != nil:
		if !c.done {
			return c.fail("context", "the exchange ended before NTLM's answer", nil)
		}
	default:
		return c.fail("context", "the exchange did not start", nil)
	}
	return nil
}

func (c *Client) release() {
	if c.krb != nil {
		c.krb.Release()
		c.krb = nil
	}
	if c.ntlm != nil {
		c.ntlm.Release()
		c.ntlm = nil
	}
	if c.cred != nil {
		c.cred.Release()
		c.cred = nil
	}
	c.established, c.done, c.sawAPRep = false, false, false
}

// credentialW is CREDENTIALW (wincred.h).
type credentialW struct {
	Flags              uint32
	Type               uint32
	TargetName         *uint16
	Comment            *uint16
	LastWritten        windows.Filetime
	CredentialBlobSize uint32
	CredentialBlob     *byte
	Persist            uint32
	AttributeCount     uint32
	Attributes         uintptr
	TargetAlias        *uint16
	UserName           *uint16
}

const credTypeDomainPassword = 2 // CRED_TYPE_DOMAIN_PASSWORD

var (
	advapi32     = windows.NewLazySystemDLL("advapi32.dll")
	procCredRead = advapi32.NewProc("CredReadW")
	procCredFree = advapi32.NewProc("CredFree")
)

// savedCredentialUser returns the user name of the domain credential
// Credential Manager holds for host, "" when there is none. The password
// is neither read nor returned (Windows does not hand it out for this
// type).
func savedCredentialUser(host string) string {
	if host == "" || procCredRead.Find() != nil || procCredFree.Find() != nil {
		return ""
	}
	target, err := syscall.UTF16PtrFromString(host)
	if err != nil {
		return ""
	}
	var p *credentialW
	if r, _, _ := procCredRead.Call(uintptr(unsafe.Pointer(target)), credTypeDomainPassword, 0, uintptr(unsafe.Pointer(&p))); r == 0 || p == nil {
		return ""
	}
	defer procCredFree.Call(uintptr(unsafe.Pointer(p)))
	if p.UserName == nil {
		return ""
	}
	return windows.UTF16PtrToString(p.UserName)
}

var (
	_ authmech.Client   = (*Client)(nil)
	_ authmech.Verifier = (*Client)(nil)
)
