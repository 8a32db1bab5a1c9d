package ntlm

import (
	"bytes"
	"context"
	"crypto/rc4"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"mailwarden/authmech"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// [MS-NLMP] 4.2.4: NTLMv2 authentication. User "User", domain "Domain",
// password "Password", server challenge 0123456789abcdef, client challenge
// aa*8, time 0, random session key 55*16, AV pairs NbDomainName "Domain"
// and NbComputerName "Server".
func TestMSNLMP_4_2_4(t *testing.T) {
	key := ntowfv2("Password", "User", "Domain")
	if want := unhex("0c 86 8a 40 3b fd 7a 93 a3 00 1e f2 2e f0 2e 3f"); !bytes.Equal(key, want) { // 4.2.4.1.1
		t.Fatalf("NTOWFv2 = %x", key)
	}
	sc, cc := unhex("0123456789abcdef"), unhex("aaaaaaaaaaaaaaaa")
	if lm, want := hmacMD5(key, sc, cc), unhex("86 c3 50 97 ac 9c ec 10 25 54 76 4a 57 cc cc 19"); !bytes.Equal(lm, want) { // 4.2.4.2.1
		t.Fatalf("LMv2 = %x", lm)
	}
	var av []byte
	for _, p := range []struct {
		id uint16
		v  string
	}{{2, "Domain"}, {1, "Server"}} {
		v := utf16le(p.v)
		av = binary.LittleEndian.AppendUint16(av, p.id)
		av = binary.LittleEndian.AppendUint16(av, uint16(len(v)))
		av = append(av, v...)
	}
	av = append(av, 0, 0, 0, 0)
	temp := append([]byte{1, 1, 0, 0, 0, 0, 0, 0}, make([]byte, 8)...)
	temp = append(append(append(temp, cc...), 0, 0, 0, 0), av...)
	temp = append(temp, 0, 0, 0, 0)
	proof := hmacMD5(key, sc, temp)
	if want := unhex("68 cd 0a b8 51 e5 1c 96 aa bc 92 7b eb ef 6a 1c"); !bytes.Equal(proof, want) { // 4.2.4.2.2
		t.Fatalf("NTProofStr = %x", proof)
	}
	base := hmacMD5(key, proof)
	if want := unhex("8d e4 0c ca db c1 4a 82 f1 5c b0 ad 0d e9 5c a3"); !bytes.Equal(base, want) { // 4.2.4.1.2
		t.Fatalf("SessionBaseKey = %x", base)
	}
	rc, _ := rc4.NewCipher(base)
	enc := make([]byte, 16)
	rc.XORKeyStream(enc, bytes.Repeat([]byte{0x55}, 16))
	if want := unhex("c5 da d2 54 4f c9 79 90 94 ce 1c e9 0b c9 d0 3e"); !bytes.Equal(enc, want) { // 4.2.4.2.3
		t.Fatalf("EncryptedSessionKey = %x", enc)
	}
}

// challenge builds a CHALLENGE_MESSAGE like [MS-NLMP] 4.2.4.3 with the
// given AV pairs.
func challenge(flags uint32, av []byte) []byte {
	m := make([]byte, 56)
	copy(m, signature)
	binary.LittleEndian.PutUint32(m[8:], 2)
	binary.LittleEndian.PutUint32(m[20:], flags)
	copy(m[24:], unhex("0123456789abcdef"))
	binary.LittleEndian.PutUint16(m[40:], uint16(len(av)))
	binary.LittleEndian.PutUint16(m[42:], uint16(len(av)))
	binary.LittleEndian.PutUint32(m[44:], 56)
	return append(m, av...)
}

// The AUTHENTICATE_MESSAGE carries NTLMv2 (never a 24-byte v1 response),
// a MIC that verifies over all three messages, and the channel binding of
// the server certificate.
func TestAuthenticateMICAndChannelBinding(t *testing.T) {
	leaf := tlsLeaf(t)
	info := &authmech.ServerInfo{Name: "mail.example.com", Mechanisms: []string{"NTLM"},
		TLS: &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: leaf}}
	cl, err := New(authmech.Credentials{Username: `Domain\User`, Password: "Password"})
	if err != nil {
		t.Fatal(err)
	}
	c := cl.(*Client)
	c.rand = bytes.NewReader(append(unhex("aaaaaaaaaaaaaaaa"), bytes.Repeat([]byte{0x55}, 16)...))
	c.now = func() time.Time { return time.Unix(0, 0) }
	_, neg, err := c.Start(context.Background(), info)
	if err != nil {
		t.Fatal(err)
	}
	ch := challenge(clientFlags, []byte{7, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0})
	auth, err := c.Next(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	get := func(off int) []byte {
		f, err := field(auth, off)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	lm, nt := get(12), get(20)
	if !bytes.Equal(lm, make([]byte, 24)) || len(nt) <= 24 {
		t.Fatalf("lm %x nt %d bytes: want Z(24) and an NTLMv2 response", lm, len(nt))
	}
	if !bytes.Equal(get(28), utf16le("Domain")) || !bytes.Equal(get(36), utf16le("User")) {
		t.Fatal("domain/user not split from DOMAIN\\user")
	}
	// The server's timestamp is used, and the AV pairs carry MIC flag and CBT.
	if !bytes.Equal(nt[24:32], []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("timestamp %x", nt[24:32])
	}
	av := nt[44 : len(nt)-4]
	if want := channelBindingHash(info); !bytes.Contains(av, append([]byte{10, 0, 16, 0}, want...)) {
		t.Fatal("no channel binding AV pair")
	}
	if !bytes.Contains(av, []byte{6, 0, 4, 0, 2, 0, 0, 0}) {
		t.Fatal("no MsvAvFlags with the MIC bit")
	}
	// Recompute the MIC as a server would.
	key := ntowfv2("Password", "User", "Domain")
	base := hmacMD5(key, nt[:16])
	rc, _ := rc4.NewCipher(base)
	exported := make([]byte, 16)
	rc.XORKeyStream(exported, get(52))
	if !bytes.Equal(exported, bytes.Repeat([]byte{0x55}, 16)) {
		t.Fatal("session key does not decrypt")
	}
	zeroed := append([]byte(nil), auth...)
	copy(zeroed[72:88], make([]byte, 16))
	if mic := hmacMD5(exported, neg, ch, zeroed); !bytes.Equal(mic, auth[72:88]) {
		t.Fatalf("MIC %x, want %x", auth[72:88], mic)
	}
	if hmacMD5(key, unhex("0123456789abcdef"), nt[16:])[0] != nt[0] {
		t.Fatal("NTProofStr does not verify")
	}
}

func TestUserForms(t *testing.T) {
	for in, want := range map[string][2]string{`CORP\alice`: {"alice", "CORP"}, "alice@corp.example": {"alice", "corp.example"}, "alice": {"alice", "DEF"}} {
		c, err := New(authmech.Credentials{Username: in, Password: "p", NTLM: authmech.NTLMOptions{Domain: "DEF"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.(*Client); got.user != want[0] || got.domain != want[1] {
			t.Errorf("%q -> %q, %q", in, got.user, got.domain)
		}
	}
	c, _ := New(authmech.Credentials{Username: "u", Password: "p"})
	if _, _, err := c.Start(context.Background(), &authmech.ServerInfo{Mechanisms: []string{"NTLM"}}); !errors.Is(err, authmech.ErrPlaintextRefused) {
		t.Fatalf("plaintext: %v", err)
	}
	if _, err := c.Next(context.Background(), []byte("NTLMSSP\x00\x02\x00")); err == nil {
		t.Fatal("short challenge accepted")
	}
}

func tlsLeaf(t testing.TB) []*x509.Certificate {
	b, err := os.ReadFile("../../testdata/certs/server.pem")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(p.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{c}
}

func TestSecretsNeverLeak(t *testing.T) {
	const pw = "S3cr3t-Pa55word-xyzzy"
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	cl, _ := New(authmech.Credentials{Username: `D\u`, Password: pw})
	info := &authmech.ServerInfo{Name: "h", Mechanisms: []string{"NTLM"}, TLS: &tls.ConnectionState{HandshakeComplete: true}}
	_, neg, err := cl.Start(context.Background(), info)
	fmt.Fprintf(&out, "%v %+v %#v %v %x\n", cl, cl, cl, err, neg)
	for _, ch := range [][]byte{nil, []byte("garbage"), challenge(clientFlags, nil), challenge(0, nil)} {
		resp, err := cl.Next(context.Background(), ch)
		fmt.Fprintf(&out, "%v %x\n", err, resp)
		log.Info("x", "c", cl, "err", err)
	}
	s := out.String()
	for _, form := range []string{pw, hex.EncodeToString([]byte(pw)), hex.EncodeToString(utf16le(pw)), base64.StdEncoding.EncodeToString([]byte(pw))} {
		if strings.Contains(s, form) {
			t.Fatalf("password leaked as %q", form)
		}
	}
	if !strings.Contains(s, "REDACTED") {
		t.Fatal("nothing recorded")
	}
}

func BenchmarkNTLM(b *testing.B) {
	info := &authmech.ServerInfo{Name: "h", Mechanisms: []string{"NTLM"}, TLS: &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: tlsLeaf(b)}}
	ch := challenge(clientFlags, []byte{7, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0})
	b.ReportAllocs()
	for b.Loop() {
		cl, _ := New(authmech.Credentials{Username: `Domain\User`, Password: "Password"})
		if _, _, err := cl.Start(context.Background(), info); err != nil {
			b.Fatal(err)
		}
		if _, err := cl.Next(context.Background(), ch); err != nil {
			b.Fatal(err)
		}
	}
}
