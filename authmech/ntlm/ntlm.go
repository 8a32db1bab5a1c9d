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
	"log/slog"
	"strings"
	"time"
	"unicode/utf16"

	//lint:ignore SA1019 NTOWFv2 is defined over MD4 ([MS-NLMP] 3.3.2); there is no choice.
	"golang.org/x/crypto/md4"

	"mailwarden/authmech"
)

// Name is the SASL name of the mechanism.
const Name = "NTLM"

// Register adds NTLM to reg.
func Register(reg *authmech.Registry) error { return reg.Register(Name, New) }

// Negotiate flags ([MS-NLMP] 2.2.2.5).
const (
	flagUnicode       = 0x00000001
	flagRequestTarget = 0x00000004
	flagSign          = 0x00000010
	flagNTLM          = 0x00000200
	flagAlwaysSign    = 0x00008000
	flagExtendedSS    = 0x00080000
	flagTargetInfo    = 0x00800000
	flagVersion       = 0x02000000
	flag128           = 0x20000000
	flagKeyExch       = 0x40000000
	flag56            = 0x80000000

	clientFlags = flagUnicode | flagRequestTarget | flagSign | flagNTLM | flagAlwaysSign |
		flagExtendedSS | flagTargetInfo | flagVersion | flag128 | flagKeyExch | flag56
)

// AV pair ids ([MS-NLMP] 2.2.2.1).
const (
	avEOL             = 0
	avFlags           = 6
	avTimestamp       = 7
	avTargetName      = 9
	avChannelBindings = 10
)

var signature = []byte("NTLMSSP\x00")

// A Client is the NTLM authmech.Client.
type Client struct {
	user, domain, workstation string
	pass                      authmech.Secret

	// Set by tests for deterministic output; zero means random / now.
	rand io.Reader
	now  func() time.Time

	info      *authmech.ServerInfo
	negotiate []byte
	step      int
}

// New is the authmech.Factory for NTLM.
func New(c authmech.Credentials) (authmech.Client, error) {
	if c.Username == "" || c.Password == "" {
		return nil, fmt.Errorf("%w: a user name and a password are required", authmech.ErrMissingCredentials)
	}
	user, domain := c.Username, c.NTLM.Domain
	if d, u, ok := strings.Cut(user, `\`); ok {
		user, domain = u, d
	} else if i := strings.LastIndexByte(user, '@'); i > 0 {
		user, domain = user[:i], user[i+1:]
	}
	if user == "" {
		return nil, errors.New("ntlm: empty user name")
	}
	return &Client{user: user, domain: domain, workstation: c.NTLM.Workstation, pass: c.Password}, nil
}

// String never shows the password.
func (c *Client) String() string { return "ntlm.Client{[REDACTED]}" }

// GoString never shows the password.
func (c *Client) GoString() string { return c.String() }

// LogValue never shows the password.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

func fail(err error) error { return &authmech.MechanismError{Mech: Name, Err: err} }

// Start returns the NEGOTIATE_MESSAGE as the initial response.
func (c *Client) Start(_ context.Context, info *authmech.ServerInfo) (string, []byte, error) {
	if info != nil && len(info.Mechanisms) > 0 && !info.Offers(Name) {
		return "", nil, fail(authmech.ErrNotOffered)
	}
	if !info.Encrypted() && (info == nil || !info.AllowPlaintext) {
		return "", nil, fail(authmech.ErrPlaintextRefused)
	}
	m := make([]byte, 40)
	copy(m, signature)
	binary.LittleEndian.PutUint32(m[8:], 1)
	binary.LittleEndian.PutUint32(m[12:], clientFlags)
	// Domain and workstation fields stay empty (offset 40, length 0).
	binary.LittleEndian.PutUint32(m[20:], 40)
	binary.LittleEndian.PutUint32(m[28:], 40)
	copy(m[32:], version)
	c.info, c.negotiate, c.step = info, m, 0
	return Name, m, nil
}

// version is the VERSION structure ([MS-NLMP] 2.2.2.10): 10.0 build 0,
// NTLMSSP_REVISION_W2K3.
var version = []byte{10, 0, 0, 0, 0, 0, 0, 15}

// Next answers the CHALLENGE_MESSAGE with an AUTHENTICATE_MESSAGE.
func (c *Client) Next(_ context.Context, challenge []byte) ([]byte, error) {
	c.step++
	if c.step != 1 {
		return nil, fail(errors.New("ntlm: unexpected challenge"))
	}
	ch, err := parseChallenge(challenge)
	if err != nil {
		return nil, fail(err)
	}
	if ch.flags&flagUnicode == 0 {
		return nil, fail(errors.New("ntlm: server does not support Unicode"))
	}
	r := c.rand
	if r == nil {
		r = rand.Reader
	}
	var cc [8]byte
	var exported [16]byte
	if _, err := io.ReadFull(r, cc[:]); err != nil {
		return nil, fail(err)
	}
	if _, err := io.ReadFull(r, exported[:]); err != nil {
		return nil, fail(err)
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	var cbt []byte
	var spn string
	if c.info != nil {
		cbt = channelBindingHash(c.info)
		if c.info.Name != "" {
			spn = "smtp/" + c.info.Name
		}
	}
	return c.authenticate(ch, cc, exported, now(), cbt, spn), nil
}

// Verify is a no-op: NTLM has no server proof. It exists so that NTLM is an
// authmech.Verifier that fails when the exchange did not run.
func (c *Client) Verify() error {
	if c.step != 1 {
		return fail(errors.New("ntlm: exchange did not complete"))
	}
	return nil
}

type challengeMsg struct {
	flags      uint32
	server     [8]byte
	targetInfo []byte
	raw        []byte
}

func field(b []byte, off int) ([]byte, error) {
	l := int(binary.LittleEndian.Uint16(b[off:]))
	o := int(binary.LittleEndian.Uint32(b[off+4:]))
	if o > len(b) || l > len(b)-o {
		return nil, errors.New("ntlm: malformed challenge: field out of range")
	}
	return b[o : o+l], nil
}

func parseChallenge(b []byte) (*challengeMsg, error) {
	if len(b) < 32 || !bytes.Equal(b[:8], signature) || binary.LittleEndian.Uint32(b[8:]) != 2 {
		return nil, errors.New("ntlm: not a CHALLENGE_MESSAGE")
	}
	ch := &challengeMsg{flags: binary.LittleEndian.Uint32(b[20:]), raw: b}
	copy(ch.server[:], b[24:32])
	if ch.flags&flagTargetInfo != 0 && len(b) >= 48 {
		ti, err := field(b, 40)
		if err != nil {
			return nil, err
		}
		ch.targetInfo = ti
	}
	return ch, nil
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return b
}

func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// ntowfv2 is NTOWFv2 ([MS-NLMP] 3.3.2).
func ntowfv2(pass, user, domain string) []byte {
	h := md4.New()
	h.Write(utf16le(pass))
	return hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(user)+domain))
}

// avPairs returns the server's AV pairs with the client's additions: the
// flags saying a MIC is present, the channel binding hash and the target
// name, then MsvAvEOL. It also returns the server's timestamp, if any.
func avPairs(server []byte, cbt []byte, spn string) (out []byte, ts []byte) {
	add := func(id uint16, v []byte) {
		out = binary.LittleEndian.AppendUint16(out, id)
		out = binary.LittleEndian.AppendUint16(out, uint16(len(v)))
		out = append(out, v...)
	}
	var flags uint32
	for b := server; len(b) >= 4; {
		id, l := binary.LittleEndian.Uint16(b), int(binary.LittleEndian.Uint16(b[2:]))
		if id == avEOL || 4+l > len(b) {
			break
		}
		v := b[4 : 4+l]
		switch id {
		case avFlags:
			if l == 4 {
				flags = binary.LittleEndian.Uint32(v)
			}
		case avTimestamp:
			ts = v
			add(id, v)
		case avChannelBindings, avTargetName:
		default:
			add(id, v)
		}
		b = b[4+l:]
	}
	add(avFlags, binary.LittleEndian.AppendUint32(nil, flags|0x2)) // MIC present
	if cbt == nil {
		cbt = make([]byte, 16)
	}
	add(avChannelBindings, cbt)
	if spn != "" {
		add(avTargetName, utf16le(spn))
	}
	add(avEOL, nil)
	return out, ts
}

// channelBindingHash is the MD5 of the gss_channel_bindings_struct whose
// application data is "tls-server-end-point:" followed by the hash of the
// server's certificate (RFC 5929 section 4.1), or nil without TLS.
func channelBindingHash(info *authmech.ServerInfo) []byte {
	if !info.Encrypted() || len(info.TLS.PeerCertificates) == 0 {
		return nil
	}
	cert := info.TLS.PeerCertificates[0]
	var h hash.Hash
	switch cert.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		h = sha512.New384()
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		h = sha512.New()
	default: // MD5, SHA-1 and SHA-256 all use SHA-256 (RFC 5929 4.1)
		h = sha256.New()
	}
	h.Write(cert.Raw)
	app := append([]byte("tls-server-end-point:"), h.Sum(nil)...)
	s := make([]byte, 16, 20+len(app)) // initiator and acceptor: type 0, empty
	s = binary.LittleEndian.AppendUint32(s, uint32(len(app)))
	s = append(s, app...)
	sum := md5.Sum(s)
	return sum[:]
}

func filetime(t time.Time) []byte {
	ft := uint64(t.UnixNano()/100) + 116444736000000000
	return binary.LittleEndian.AppendUint64(nil, ft)
}

// authenticate builds the AUTHENTICATE_MESSAGE ([MS-NLMP] 2.2.1.3) with
// the NTLMv2 response, the encrypted session key and the MIC.
func (c *Client) authenticate(ch *challengeMsg, cc [8]byte, exported [16]byte, now time.Time, cbt []byte, spn string) []byte {
	av, ts := avPairs(ch.targetInfo, cbt, spn)
	if ts == nil {
		ts = filetime(now)
	}
	key := ntowfv2(string(c.pass), c.user, c.domain)
	temp := make([]byte, 0, 28+len(av)+4)
	temp = append(temp, 1, 1, 0, 0, 0, 0, 0, 0)
	temp = append(temp, ts...)
	temp = append(temp, cc[:]...)
	temp = append(temp, 0, 0, 0, 0)
	temp = append(temp, av...)
	temp = append(temp, 0, 0, 0, 0)
	proof := hmacMD5(key, ch.server[:], temp)
	nt := append(proof, temp...)
	// With a MIC the LM response is Z(24) ([MS-NLMP] 3.1.5.1.2).
	lm := make([]byte, 24)
	sessionBase := hmacMD5(key, proof)

	flags := clientFlags & ch.flags
	flags |= flagUnicode | flagNTLM
	exportedKey := sessionBase
	var encKey []byte
	if flags&flagKeyExch != 0 {
		rc, _ := rc4.NewCipher(sessionBase)
		encKey = make([]byte, 16)
		rc.XORKeyStream(encKey, exported[:])
		exportedKey = exported[:]
	}

	fields := [][]byte{lm, nt, utf16le(c.domain), utf16le(c.user), utf16le(c.workstation), encKey}
	const hdr = 88
	m := make([]byte, hdr)
	copy(m, signature)
	binary.LittleEndian.PutUint32(m[8:], 3)
	off := hdr
	for i, f := range fields {
		p := 12 + 8*i
		binary.LittleEndian.PutUint16(m[p:], uint16(len(f)))
		binary.LittleEndian.PutUint16(m[p+2:], uint16(len(f)))
		binary.LittleEndian.PutUint32(m[p+4:], uint32(off))
		off += len(f)
	}
	binary.LittleEndian.PutUint32(m[60:], flags)
	copy(m[64:], version)
	for _, f := range fields {
		m = append(m, f...)
	}
	mic := hmacMD5(exportedKey, c.negotiate, ch.raw, m)
	copy(m[72:88], mic)
	return m
}
