// Package ntlm is the SASL NTLM mechanism for SMTP AUTH as Microsoft
// Exchange and Cyrus SASL speak it ([MS-SMTPNTLM]): NEGOTIATE as the
// initial response, the server's CHALLENGE, then AUTHENTICATE.
//
// Only NTLMv2 is implemented ([MS-NLMP] 3.3.2); LM and NTLMv1 responses are
// never computed or sent. The AUTHENTICATE message carries a MIC (the HMAC
// of all three messages under the exported session key) and, on a TLS
// connection, channel bindings (the tls-server-end-point hash of the
// server's certificate, RFC 5929), which protect against NTLM relay and
// "drop the MIC" attacks on servers that check them. The target name
// smtp/<server> is sent too.
//
// NTLM sends a hash an attacker can attack offline, so it refuses a
// connection without TLS unless the transport explicitly allows plaintext.
//
// Out of scope: NTLM session security (signing and sealing after
// authentication: TLS provides it), NTLMv1, and single sign-on with the
// logged-on Windows user's credentials.
package ntlm

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rc4"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
	"unicode/utf16"

	//lint:ignore SA1019 MD4 is what NTOWFv2 is defined with ([MS-NLMP] 3.3.2); NTLM exists for compatibility with legacy relays.
	"golang.org/x/crypto/md4"

	"mailwarden/authmech"
)

// Register adds NTLM to reg, ranked authmech.RankNTLM for auto.
func Register(reg *authmech.Registry) error {
	return reg.Register(authmech.Mechanism{
		Name:      "NTLM",
		Rank:      authmech.RankNTLM,
		Satisfies: func(c authmech.Credentials) bool { return c.Username != "" && c.Password != "" },
		New:       func(c authmech.Credentials) (authmech.Client, error) { return New(c) },
	})
}

// Negotiate flags ([MS-NLMP] 2.2.2.5).
const (
	flagUnicode                 = 0x00000001
	flagRequestTarget           = 0x00000004
	flagNTLM                    = 0x00000200
	flagAlwaysSign              = 0x00008000
	flagExtendedSessionSecurity = 0x00080000
	flagTargetInfo              = 0x00800000
	flagVersion                 = 0x02000000
	flag128                     = 0x20000000
	flagKeyExch                 = 0x40000000
	flag56                      = 0x80000000

	negotiateFlags = flagUnicode | flagRequestTarget | flagNTLM | flagAlwaysSign | flagExtendedSessionSecurity |
		flagTargetInfo | flagVersion | flag128 | flagKeyExch | flag56
)

// AV pair IDs ([MS-NLMP] 2.2.2.1).
const (
	avEOL             = 0
	avFlags           = 6
	avTimestamp       = 7
	avTargetName      = 9
	avChannelBindings = 10
)

// avFlagMIC says the AUTHENTICATE message carries a MIC.
const avFlagMIC = 0x00000002

var signature = []byte("NTLMSSP\x00")

// version is the Version structure sent with NEGOTIATE_VERSION: 10.0 build
// 19041, NTLM revision 15 ([MS-NLMP] 2.2.2.10).
var version = []byte{10, 0, 0x61, 0x4a, 0, 0, 0, 15}

// Client is the client side of one NTLM exchange.
type Client struct {
	user, domain, workstation string
	password                  authmech.Secret

	// Test hooks, fixed by tests for [MS-NLMP] 4.2.4: randomness and time.
	rand io.Reader
	now  func() time.Time

	step      int
	info      *authmech.ServerInfo
	negotiate []byte
}

// New returns a Client for creds. The user may be given as "DOMAIN\user",
// "user@domain", or as Username with Credentials.Domain.
func New(creds authmech.Credentials) (*Client, error) {
	if creds.Username == "" || creds.Password == "" {
		return nil, errors.New("authmech/ntlm: NTLM needs a user name and a password")
	}
	user, domain := creds.Username, creds.Domain
	if d, u, ok := strings.Cut(user, `\`); ok {
		user, domain = u, d
	} else if u, d, ok := strings.Cut(user, "@"); ok && domain == "" {
		user, domain = u, d
	}
	for _, s := range []string{user, domain, creds.Workstation} {
		if strings.ContainsAny(s, "\r\n\x00") {
			return nil, errors.New("authmech/ntlm: user, domain or workstation contains a CR, LF or NUL")
		}
	}
	return &Client{user: user, domain: domain, workstation: creds.Workstation, password: creds.Password,
		rand: rand.Reader, now: time.Now}, nil
}

// User returns the user name as given (reported in the audit trail).
func (c *Client) User() string {
	if c.domain != "" {
		return c.domain + `\` + c.user
	}
	return c.user
}

// Start sends the NEGOTIATE message as the initial response.
func (c *Client) Start(_ context.Context, info *authmech.ServerInfo) (string, []byte, error) {
	if err := info.RefuseInClear("NTLM", "an eavesdropper can record the NTLMv2 response and crack the password offline"); err != nil {
		return "", nil, err
	}
	c.info, c.step = info, 0
	c.negotiate = negotiateMessage()
	return "NTLM", c.negotiate, nil
}

func negotiateMessage() []byte {
	m := make([]byte, 40)
	copy(m, signature)
	binary.LittleEndian.PutUint32(m[8:], 1)
	binary.LittleEndian.PutUint32(m[12:], negotiateFlags)
	// Domain and workstation fields empty (offsets point at the end).
	binary.LittleEndian.PutUint32(m[20:], 40)
	binary.LittleEndian.PutUint32(m[28:], 40)
	copy(m[32:], version)
	return m
}

// Next answers the CHALLENGE with the AUTHENTICATE message.
func (c *Client) Next(_ context.Context, challenge []byte) ([]byte, error) {
	c.step++
	if c.step != 1 {
		return nil, errors.New("authmech/ntlm: unexpected server challenge")
	}
	ch, err := parseChallenge(challenge)
	if err != nil {
		return nil, err
	}
	var cb []byte
	if c.info != nil && c.info.TLS != nil && len(c.info.TLS.PeerCertificates) > 0 {
		cb = channelBindingHash(c.info.TLS.PeerCertificates[0])
	}
	spn := ""
	if c.info != nil && c.info.Name != "" {
		spn = "smtp/" + c.info.Name
	}
	clientChallenge := make([]byte, 8)
	exported := make([]byte, 16)
	if _, err := io.ReadFull(c.rand, clientChallenge); err != nil {
		return nil, fmt.Errorf("authmech/ntlm: %w", err)
	}
	if _, err := io.ReadFull(c.rand, exported); err != nil {
		return nil, fmt.Errorf("authmech/ntlm: %w", err)
	}
	return c.authenticate(ch, challenge, clientChallenge, exported, cb, spn)
}

// ErrMalformedChallenge is matched (errors.Is) by every error about the
// server's CHALLENGE message: not NTLM, truncated, a field or an AV pair out
// of bounds, no end marker, or no Unicode support.
var ErrMalformedChallenge = errors.New("authmech/ntlm: bad CHALLENGE message")

type challengeMsg struct {
	flags      uint32
	challenge  []byte
	targetInfo []byte
}

func field(msg []byte, off int) ([]byte, error) {
	if len(msg) < off+8 {
		return nil, fmt.Errorf("%w: too short", ErrMalformedChallenge)
	}
	n := int(binary.LittleEndian.Uint16(msg[off:]))
	start := int(binary.LittleEndian.Uint32(msg[off+4:]))
	if n == 0 {
		return nil, nil
	}
	if start < 0 || start+n > len(msg) {
		return nil, fmt.Errorf("%w: a field lies outside the message", ErrMalformedChallenge)
	}
	return msg[start : start+n], nil
}

func parseChallenge(msg []byte) (*challengeMsg, error) {
	if len(msg) < 48 || !bytes.Equal(msg[:8], signature) || binary.LittleEndian.Uint32(msg[8:]) != 2 {
		return nil, fmt.Errorf("%w: the server's challenge is not an NTLM CHALLENGE message", ErrMalformedChallenge)
	}
	ti, err := field(msg, 40)
	if err != nil {
		return nil, err
	}
	ch := &challengeMsg{flags: binary.LittleEndian.Uint32(msg[20:]), challenge: msg[24:32], targetInfo: ti}
	if ch.flags&flagUnicode == 0 {
		return nil, fmt.Errorf("%w: the server does not speak Unicode NTLM", ErrMalformedChallenge)
	}
	if _, err := parseAV(ti); err != nil {
		return nil, err
	}
	return ch, nil
}

type avPair struct {
	id    uint16
	value []byte
}

func parseAV(b []byte) ([]avPair, error) {
	var out []avPair
	for len(b) >= 4 {
		id, n := binary.LittleEndian.Uint16(b), int(binary.LittleEndian.Uint16(b[2:]))
		if id == avEOL {
			return out, nil
		}
		if 4+n > len(b) {
			return nil, fmt.Errorf("%w: malformed target information", ErrMalformedChallenge)
		}
		out = append(out, avPair{id, b[4 : 4+n]})
		b = b[4+n:]
	}
	if len(b) == 0 && len(out) == 0 {
		return nil, nil
	}
	return nil, fmt.Errorf("%w: target information lacks its end marker", ErrMalformedChallenge)
}

func encodeAV(pairs []avPair) []byte {
	var out []byte
	for _, p := range pairs {
		out = binary.LittleEndian.AppendUint16(out, p.id)
		out = binary.LittleEndian.AppendUint16(out, uint16(len(p.value)))
		out = append(out, p.value...)
	}
	return append(out, 0, 0, 0, 0)
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return b
}

func hmacMD5(key []byte, parts ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// ntowfv2 is NTOWFv2 ([MS-NLMP] 3.3.2).
func ntowfv2(password, user, domain string) []byte {
	h := md4.New()
	h.Write(utf16le(password))
	return hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(user)+domain))
}

// channelBindingHash is the MD5 of a gss_channel_bindings_struct whose
// only content is the application data "tls-server-end-point:" followed by
// the certificate hash (RFC 5929 section 4.1: the certificate's signature
// hash, SHA-256 for MD5 and SHA-1).
func channelBindingHash(cert *x509.Certificate) []byte {
	var h hash.Hash
	switch cert.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		h = sha512.New384()
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		h = sha512.New()
	default:
		h = sha256.New()
	}
	h.Write(cert.Raw)
	app := append([]byte("tls-server-end-point:"), h.Sum(nil)...)
	s := make([]byte, 20, 20+len(app))
	binary.LittleEndian.PutUint32(s[16:], uint32(len(app)))
	sum := md5.Sum(append(s, app...))
	return sum[:]
}

// authenticate builds the AUTHENTICATE message ([MS-NLMP] 2.2.1.3, 3.1.5.1.2).
func (c *Client) authenticate(ch *challengeMsg, rawChallenge, clientChallenge, exported, cb []byte, spn string) ([]byte, error) {
	pairs, _ := parseAV(ch.targetInfo)
	var timestamp []byte
	haveFlags := false
	for i, p := range pairs {
		switch p.id {
		case avTimestamp:
			if len(p.value) == 8 {
				timestamp = p.value
			}
		case avFlags:
			if len(p.value) == 4 {
				f := binary.LittleEndian.Uint32(p.value) | avFlagMIC
				pairs[i].value = binary.LittleEndian.AppendUint32(nil, f)
				haveFlags = true
			}
		}
	}
	if !haveFlags {
		pairs = append(pairs, avPair{avFlags, binary.LittleEndian.AppendUint32(nil, avFlagMIC)})
	}
	if cb != nil {
		pairs = append(pairs, avPair{avChannelBindings, cb})
	} else {
		pairs = append(pairs, avPair{avChannelBindings, make([]byte, 16)})
	}
	if spn != "" {
		pairs = append(pairs, avPair{avTargetName, utf16le(spn)})
	}
	if timestamp == nil {
		timestamp = fileTime(c.now())
	}
	ti := encodeAV(pairs)
	// The NTLMv2 response (proof, 28-byte header, target information, 4
	// zero bytes) must fit a 16-bit field length.
	if 16+28+len(ti)+4 > 0xffff {
		return nil, fmt.Errorf("%w: target information too long (%d bytes)", ErrMalformedChallenge, len(ch.targetInfo))
	}
	return c.buildAuthenticate(ch, rawChallenge, clientChallenge, exported, ti, timestamp, true)
}

func fileTime(t time.Time) []byte {
	// 100-nanosecond intervals since 1601-01-01.
	ft := uint64(t.UnixNano()/100) + 116444736000000000
	return binary.LittleEndian.AppendUint64(nil, ft)
}

// buildAuthenticate computes the NTLMv2 response over targetInfo and
// assembles the message; withMIC false is used for the [MS-NLMP] 4.2.4
// vectors, which predate the MIC.
func (c *Client) buildAuthenticate(ch *challengeMsg, rawChallenge, clientChallenge, exported, targetInfo, timestamp []byte, withMIC bool) ([]byte, error) {
	keyNT := ntowfv2(c.password.Reveal(), c.user, c.domain)
	temp := []byte{1, 1, 0, 0, 0, 0, 0, 0}
	temp = append(temp, timestamp...)
	temp = append(temp, clientChallenge...)
	temp = append(temp, 0, 0, 0, 0)
	temp = append(temp, targetInfo...)
	temp = append(temp, 0, 0, 0, 0)
	proof := hmacMD5(keyNT, ch.challenge, temp)
	ntResponse := append(append([]byte(nil), proof...), temp...)
	// With a server timestamp present the LM response is Z(24)
	// ([MS-NLMP] 3.3.2); otherwise LMv2 (an HMAC, not an LM hash).
	lmResponse := make([]byte, 24)
	if !withMIC {
		lmResponse = append(hmacMD5(keyNT, ch.challenge, clientChallenge), clientChallenge...)
	}
	sessionBaseKey := hmacMD5(keyNT, proof)
	flags := ch.flags & negotiateFlags
	var encryptedKey []byte
	exportedKey := sessionBaseKey
	if flags&flagKeyExch != 0 {
		rc, err := rc4.NewCipher(sessionBaseKey)
		if err != nil {
			return nil, err
		}
		encryptedKey = make([]byte, 16)
		rc.XORKeyStream(encryptedKey, exported)
		exportedKey = exported
	}
	domain, user, ws := utf16le(c.domain), utf16le(c.user), utf16le(c.workstation)
	const head = 88
	payload := [][]byte{lmResponse, ntResponse, domain, user, ws, encryptedKey}
	msg := make([]byte, head)
	copy(msg, signature)
	binary.LittleEndian.PutUint32(msg[8:], 3)
	off := head
	for i, p := range payload {
		fo := 12 + 8*i
		binary.LittleEndian.PutUint16(msg[fo:], uint16(len(p)))
		binary.LittleEndian.PutUint16(msg[fo+2:], uint16(len(p)))
		binary.LittleEndian.PutUint32(msg[fo+4:], uint32(off))
		off += len(p)
	}
	binary.LittleEndian.PutUint32(msg[60:], flags)
	copy(msg[64:], version)
	for _, p := range payload {
		msg = append(msg, p...)
	}
	if withMIC {
		// MIC over NEGOTIATE, CHALLENGE and AUTHENTICATE with the MIC
		// field zero ([MS-NLMP] 3.1.5.1.2).
		mic := hmacMD5(exportedKey, c.negotiate, rawChallenge, msg)
		copy(msg[72:88], mic)
	}
	return msg, nil
}

var _ authmech.Client = (*Client)(nil)

// String and GoString describe the Client without its password, also
// under %+v and %#v.
func (c *Client) String() string   { return "ntlm.Client{user: " + c.User() + "}" }
func (c *Client) GoString() string { return c.String() }
