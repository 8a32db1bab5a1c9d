package ntlm

import (
	"bytes"
	"context"
	"crypto/rc4"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"mailwarden/authmech"
	"mailwarden/internal/testcert"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// payloadField returns the bytes of the AUTHENTICATE field at offset off.
func payloadField(msg []byte, off int) []byte {
	n := binary.LittleEndian.Uint16(msg[off:])
	start := binary.LittleEndian.Uint32(msg[off+4:])
	return msg[start : start+uint32(n)]
}

// TestMSNLMPVectors checks the NTLMv2 computation against [MS-NLMP]
// section 4.2.4 (user "User", domain "Domain", password "Password", server
// challenge 0123456789abcdef, client challenge aa..aa, time 0, random
// session key 55..55, target info NbDomainName "Domain" and NbComputerName
// "Server").
func TestMSNLMPVectors(t *testing.T) {
	// 4.2.4.1.1 NTOWFv2
	if got := ntowfv2("Password", "User", "Domain"); !bytes.Equal(got, unhex("0c868a403bfd7a93a3001ef22ef02e3f")) {
		t.Errorf("NTOWFv2 = %x", got)
	}
	c, err := New(authmech.Credentials{Username: "User", Domain: "Domain", Password: "Password", Workstation: "COMPUTER"})
	if err != nil {
		t.Fatal(err)
	}
	ti := encodeAV([]avPair{{2, utf16le("Domain")}, {1, utf16le("Server")}})
	ch := &challengeMsg{flags: negotiateFlags, challenge: unhex("0123456789abcdef"), targetInfo: ti}
	msg, err := c.buildAuthenticate(ch, nil, bytes.Repeat([]byte{0xaa}, 8), bytes.Repeat([]byte{0x55}, 16), ti, make([]byte, 8), false)
	if err != nil {
		t.Fatal(err)
	}
	// 4.2.4.2.1 LMv2 response
	if got := payloadField(msg, 12); !bytes.Equal(got, unhex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")) {
		t.Errorf("LMv2 response = %x", got)
	}
	// 4.2.4.2.2 NTLMv2 response: NTProofStr, then the temp blob.
	nt := payloadField(msg, 20)
	if !bytes.Equal(nt[:16], unhex("68cd0ab851e51c96aabc927bebef6a1c")) {
		t.Errorf("NTProofStr = %x", nt[:16])
	}
	// 4.2.4.2.3 encrypted session key (RC4 of 55..55 under the session base key 8de40ccadbc14a82f15cb0ad0de95ca3)
	if got := payloadField(msg, 52); !bytes.Equal(got, unhex("c5dad2544fc9799094ce1ce90bc9d03e")) {
		t.Errorf("encrypted session key = %x", got)
	}
	if got := hmacMD5(ntowfv2("Password", "User", "Domain"), nt[:16]); !bytes.Equal(got, unhex("8de40ccadbc14a82f15cb0ad0de95ca3")) {
		t.Errorf("session base key = %x", got)
	}
	if got := payloadField(msg, 36); !bytes.Equal(got, utf16le("User")) {
		t.Errorf("user field = %x", got)
	}
}

// challengeFor builds a CHALLENGE message with a timestamp, as servers send.
func challengeFor(_ testing.TB) []byte {
	ti := encodeAV([]avPair{{2, utf16le("MAILWARDEN")}, {1, utf16le("SERVER")}, {avTimestamp, fileTime(time.Unix(1_800_000_000, 0))}})
	m := make([]byte, 56)
	copy(m, signature)
	binary.LittleEndian.PutUint32(m[8:], 2)
	binary.LittleEndian.PutUint32(m[20:], negotiateFlags)
	copy(m[24:], unhex("0123456789abcdef"))
	binary.LittleEndian.PutUint16(m[40:], uint16(len(ti)))
	binary.LittleEndian.PutUint16(m[42:], uint16(len(ti)))
	binary.LittleEndian.PutUint32(m[44:], 56)
	return append(m, ti...)
}

func TestExchangeCarriesMICChannelBindingsAndTargetName(t *testing.T) {
	lb, err := testcert.NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	state := &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509Cert{lb.Server.Cert}}
	c, _ := New(authmech.Credentials{Username: `MAILWARDEN\alice`, Password: "pw"})
	mech, neg, err := c.Start(context.Background(), &authmech.ServerInfo{Name: "mail.example.com", TLS: state})
	if err != nil || mech != "NTLM" || !bytes.HasPrefix(neg, signature) {
		t.Fatalf("Start = %q %x %v", mech, neg, err)
	}
	chal := challengeFor(t)
	auth, err := c.Next(context.Background(), chal)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(auth[8:]) != 3 {
		t.Fatal("not an AUTHENTICATE message")
	}
	if got := payloadField(auth, 12); !bytes.Equal(got, make([]byte, 24)) {
		t.Errorf("with a server timestamp the LM response must be Z(24), got %x", got)
	}
	if got := payloadField(auth, 28); !bytes.Equal(got, utf16le("MAILWARDEN")) {
		t.Errorf("domain = %x", got)
	}
	// The AV pairs inside the NTLMv2 blob: MIC flag, channel bindings, target name.
	nt := payloadField(auth, 20)
	pairs, err := parseAV(nt[16+28:])
	if err != nil {
		t.Fatal(err)
	}
	found := map[uint16][]byte{}
	for _, p := range pairs {
		found[p.id] = p.value
	}
	if f := found[avFlags]; len(f) != 4 || binary.LittleEndian.Uint32(f)&avFlagMIC == 0 {
		t.Errorf("MsvAvFlags lacks the MIC bit: %x", f)
	}
	if cb := found[avChannelBindings]; !bytes.Equal(cb, channelBindingHash(lb.Server.Cert)) {
		t.Errorf("channel bindings = %x", cb)
	}
	if tn := found[avTargetName]; !bytes.Equal(tn, utf16le("smtp/mail.example.com")) {
		t.Errorf("target name = %x", tn)
	}
	// The MIC verifies: recompute it as a server would, from the exported
	// session key (decrypted with the session base key) over all three
	// messages with the MIC zeroed.
	keyNT := ntowfv2("pw", "alice", "MAILWARDEN")
	base := hmacMD5(keyNT, nt[:16])
	enc := payloadField(auth, 52)
	exported := rc4XOR(t, base, enc)
	zeroed := append([]byte(nil), auth...)
	copy(zeroed[72:88], make([]byte, 16))
	if want := hmacMD5(exported, neg, chal, zeroed); !bytes.Equal(auth[72:88], want) {
		t.Errorf("MIC %x, want %x", auth[72:88], want)
	}
	// And the NTProofStr verifies against the blob.
	if want := hmacMD5(keyNT, unhex("0123456789abcdef"), nt[16:]); !bytes.Equal(nt[:16], want) {
		t.Error("NTProofStr does not verify")
	}
}

func TestChannelBindingStruct(t *testing.T) {
	lb, _ := testcert.NewLoopback()
	// Independent construction of the gss_channel_bindings_struct (RFC
	// 5929 4.1, [MS-NLMP] 3.1.5.1.2): four zero 32-bit fields, the length
	// of the application data, then "tls-server-end-point:" || SHA-256(cert).
	got := channelBindingHash(lb.Server.Cert)
	if len(got) != 16 {
		t.Fatalf("len %d", len(got))
	}
	other, _ := testcert.NewLoopback()
	if bytes.Equal(got, channelBindingHash(other.Server.Cert)) {
		t.Error("different certificates give the same binding")
	}
}

func TestRefusals(t *testing.T) {
	c, _ := New(authmech.Credentials{Username: "alice@MAILWARDEN", Password: "pw"})
	if c.user != "alice" || c.domain != "MAILWARDEN" {
		t.Errorf("user@domain parsed as %q %q", c.user, c.domain)
	}
	if _, _, err := c.Start(context.Background(), &authmech.ServerInfo{Name: "m"}); !errors.Is(err, authmech.ErrPlaintextRefused) {
		t.Errorf("plaintext: %v", err)
	}
	if _, _, err := c.Start(context.Background(), &authmech.ServerInfo{Name: "m", AllowPlaintext: true}); err != nil {
		t.Errorf("plaintext allowed: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("garbage"), append(append([]byte(nil), signature...), 3, 0, 0, 0)} {
		c.step = 0
		if _, err := c.Next(context.Background(), bad); err == nil {
			t.Errorf("challenge %q accepted", bad)
		}
	}
	if _, err := New(authmech.Credentials{Username: "a\r\nb", Password: "x"}); err == nil {
		t.Error("CR/LF in the user name accepted")
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, "pw") && !strings.Contains(s, "alice") {
		t.Errorf("printed %s", s)
	}
	if s := fmt.Sprintf("%+v %#v", c, c); strings.Contains(s, `"pw"`) || strings.Contains(s, ":pw") {
		t.Errorf("password printed: %s", s)
	}
}

func TestRegister(t *testing.T) {
	reg := authmech.NewRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	c, err := reg.Client("ntlm", authmech.Credentials{Username: "u", Password: "p"})
	if err != nil || c == nil {
		t.Fatalf("%v %v", c, err)
	}
	auto, _ := reg.Client("auto", authmech.Credentials{Username: "u", Password: "p"})
	info := &authmech.ServerInfo{Name: "m", TLS: &tls.ConnectionState{HandshakeComplete: true}, Mechanisms: []string{"PLAIN", "NTLM", "CRAM-MD5"}}
	if mech, _, err := auto.Start(context.Background(), info); err != nil || mech != "NTLM" {
		t.Errorf("auto picked %q (%v), want NTLM over CRAM-MD5", mech, err)
	}
}

func BenchmarkExchange(b *testing.B) {
	chal := challengeFor(nil)
	info := &authmech.ServerInfo{Name: "m", TLS: &tls.ConnectionState{HandshakeComplete: true}}
	b.ReportAllocs()
	for b.Loop() {
		c, _ := New(authmech.Credentials{Username: `D\u`, Password: "p"})
		c.Start(context.Background(), info)
		if _, err := c.Next(context.Background(), chal); err != nil {
			b.Fatal(err)
		}
	}
}

type x509Cert = x509.Certificate

func rc4XOR(t *testing.T, key, in []byte) []byte {
	c, err := rc4.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(in))
	c.XORKeyStream(out, in)
	return out
}
