package gssapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gss "github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"

	"mailwarden/authmech"
)

func TestInitialContextTokenFraming(t *testing.T) {
	tok := initialContextToken([]byte{0x6e, 0x00})
	// [APPLICATION 0] len, OID 1.2.840.113554.1.2.2 (RFC 1964 1.1), TOK_ID 01 00.
	want := []byte{0x60, 0x0f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01, 0x00, 0x6e, 0x00}
	if !bytes.Equal(tok, want) {
		t.Errorf("token %x, want %x", tok, want)
	}
	// RFC 4121 4.1.1: Lgth 16, zero bindings, flags little-endian.
	ck := gssChecksum(gss.ContextFlagMutual | gss.ContextFlagInteg)
	if len(ck) != 24 || ck[0] != 16 || ck[20] != 2|32 || !bytes.Equal(ck[4:20], make([]byte, 16)) {
		t.Errorf("checksum %x", ck)
	}
}

func testKey(t testing.TB, b byte) types.EncryptionKey {
	t.Helper()
	return types.EncryptionKey{KeyType: etypeID.AES256_CTS_HMAC_SHA1_96, KeyValue: bytes.Repeat([]byte{b}, 32)}
}

// acceptorOffer builds the wrap token an acceptor sends: RFC 4752 offer
// bytes under key, with the acceptor flags.
func acceptorOffer(t testing.TB, key types.EncryptionKey, flags byte, offer []byte) []byte {
	t.Helper()
	wt := gss.WrapToken{Flags: flags, EC: 12, Payload: offer}
	if err := wt.SetCheckSum(key, keyusage.GSSAPI_ACCEPTOR_SEAL); err != nil {
		t.Fatal(err)
	}
	b, err := wt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSecurityLayerNegotiation(t *testing.T) {
	session, sub := testKey(t, 1), testKey(t, 2)
	c := &Client{creds: authmech.Credentials{Authzid: "alerts"}, sessionKey: session, mutual: true}
	c.auth.SeqNumber = 12345
	// Offer "no security layer" (0x01) and max size 65536, signed with the session key.
	resp, err := c.Next(context.Background(), acceptorOffer(t, session, 0x01, []byte{0x07, 0x01, 0x00, 0x00}))
	if err != nil {
		t.Fatal(err)
	}
	var wt gss.WrapToken
	if err := wt.Unmarshal(resp, false); err != nil {
		t.Fatal(err)
	}
	if ok, err := wt.Verify(session, keyusage.GSSAPI_INITIATOR_SEAL); !ok || err != nil {
		t.Errorf("our reply does not verify: %v", err)
	}
	if !bytes.Equal(wt.Payload, append([]byte{0x01, 0, 0, 0}, "alerts"...)) || wt.SndSeqNum != 12345 {
		t.Errorf("reply payload %x seq %d", wt.Payload, wt.SndSeqNum)
	}
	if err := c.Verify(); err != nil {
		t.Errorf("Verify after a complete exchange: %v", err)
	}

	// With the acceptor's subkey: the reply uses it and says so.
	c = &Client{sessionKey: session, acceptKey: sub, mutual: true}
	resp, err = c.Next(context.Background(), acceptorOffer(t, sub, 0x01|flagAcceptorSubkey, []byte{0x01, 0, 0x10, 0}))
	if err != nil {
		t.Fatal(err)
	}
	wt = gss.WrapToken{}
	wt.Unmarshal(resp, false)
	if ok, _ := wt.Verify(sub, keyusage.GSSAPI_INITIATOR_SEAL); !ok || wt.Flags&flagAcceptorSubkey == 0 {
		t.Error("reply under the acceptor subkey does not verify or lacks the flag")
	}

	// A forged offer (wrong key), a server that insists on a security
	// layer, and a short offer are refused.
	for name, tok := range map[string][]byte{
		"forged":         acceptorOffer(t, testKey(t, 9), 0x01, []byte{0x01, 0, 0, 0}),
		"layer required": acceptorOffer(t, session, 0x01, []byte{0x04, 0, 0, 0}),
		"short":          acceptorOffer(t, session, 0x01, []byte{0x01}),
	} {
		c := &Client{sessionKey: session, mutual: true}
		if _, err := c.Next(context.Background(), tok); err == nil {
			t.Errorf("%s offer accepted", name)
		}
		if err := c.Verify(); err == nil {
			t.Errorf("%s: Verify passed", name)
		}
	}
}

func TestAPRepMustProveTheServer(t *testing.T) {
	c := &Client{sessionKey: testKey(t, 1)}
	c.auth.CTime = time.Now()
	for _, bad := range [][]byte{nil, []byte("not a token"), initialContextToken([]byte{0x6f, 0x00})} {
		if _, err := c.Next(context.Background(), bad); !errors.Is(err, ErrMutualAuth) {
			t.Errorf("AP-REP %x: %v, want ErrMutualAuth", bad, err)
		}
		c.step = 0
	}
	if err := c.Verify(); !errors.Is(err, ErrMutualAuth) {
		t.Errorf("Verify without an AP-REP: %v", err)
	}
}

func TestRegisterAndAuto(t *testing.T) {
	reg := authmech.NewRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	if name, ok := reg.Canonical("KERBEROS"); !ok || name != "GSSAPI" {
		t.Errorf("KERBEROS = %q %v", name, ok)
	}
	info := &authmech.ServerInfo{Name: "m", TLS: &tls.ConnectionState{HandshakeComplete: true}, Mechanisms: []string{"GSSAPI", "PLAIN"}}
	// A user and password without any Kerberos configuration: auto must
	// not try Kerberos with the SMTP password.
	auto, _ := reg.Client("auto", authmech.Credentials{Username: "u", Password: "p"})
	if mech, _, err := auto.Start(context.Background(), info); err != nil || mech != "PLAIN" {
		t.Errorf("auto without Kerberos settings picked %q (%v)", mech, err)
	}
	if _, err := New(authmech.Credentials{Username: "u@R"}, func(string) string { return "" }); err == nil {
		t.Error("no password, keytab or cache accepted")
	}
	c, _ := New(authmech.Credentials{Username: "u@R", Password: "Secret-KRB"}, func(string) string { return "" })
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, "Secret-KRB") {
		t.Errorf("password printed: %s", s)
	}
}
