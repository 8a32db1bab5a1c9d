package gssapi

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	gss "github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// fuzzCTime is the authenticator time the fuzzed clients sent.
var fuzzCTime = time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)

// apRep builds the GSS-API token an acceptor answers with: an AP-REP whose
// encrypted part echoes ctime/cusec and carries subkey, sealed with key.
func apRep(tb testing.TB, key types.EncryptionKey, ctime time.Time, cusec int, subkey types.EncryptionKey) []byte {
	tb.Helper()
	part, err := asn1.Marshal(messages.EncAPRepPart{CTime: ctime, Cusec: cusec, Subkey: subkey, SequenceNumber: 7})
	if err != nil {
		tb.Fatal(err)
	}
	ed, err := crypto.GetEncryptedData(asn1tools.AddASNAppTag(part, asnAppTag.EncAPRepPart), key, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		tb.Fatal(err)
	}
	rep, err := asn1.Marshal(messages.APRep{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: ed})
	if err != nil {
		tb.Fatal(err)
	}
	oid, _ := asn1.Marshal(gss.OIDKRB5.OID())
	b := append(oid, 0x02, 0x00)
	return asn1tools.AddASNAppTag(append(b, asn1tools.AddASNAppTag(rep, asnAppTag.APREP)...), 0)
}

// FuzzAPRep feeds the server's first challenge (the AP-REP) to Next.
// Oracle: no panic; every refusal is an *Error matching ErrMutualAuth;
// whatever is accepted under the session key is refused by a client with
// any other key (nothing passes without proof of the service key), and an
// acceptor subkey is taken only from an accepted AP-REP.
func FuzzAPRep(f *testing.F) {
	session, sub := testKey(f, 1), testKey(f, 2)
	f.Add(apRep(f, session, fuzzCTime, 42, sub))
	f.Add(apRep(f, session, fuzzCTime, 42, types.EncryptionKey{}))
	f.Add(apRep(f, session, fuzzCTime.Add(time.Second), 42, sub))
	f.Add(apRep(f, testKey(f, 9), fuzzCTime, 42, sub))
	f.Add(initialContextToken([]byte{0x7e, 0x03, 0x02, 0x01, 0x00}))
	f.Add([]byte{})
	newClient := func(key types.EncryptionKey) *Client {
		c := &Client{sessionKey: key}
		c.auth.CTime, c.auth.Cusec = fuzzCTime, 42
		return c
	}
	f.Fuzz(func(t *testing.T, tok []byte) {
		c := newClient(session)
		resp, err := c.Next(context.Background(), tok)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrMutualAuth) || e.Op != "ap-rep" {
				t.Fatalf("refusal %v is not an ap-rep *Error matching ErrMutualAuth", err)
			}
			if c.mutual || c.acceptKey.KeyType != 0 {
				t.Fatal("a refused AP-REP changed the client's state")
			}
			return
		}
		if len(resp) != 0 || !c.mutual {
			t.Fatalf("accepted AP-REP: response %x, mutual %v", resp, c.mutual)
		}
		if _, err := newClient(testKey(t, 3)).Next(context.Background(), tok); !errors.Is(err, ErrMutualAuth) {
			t.Fatalf("an AP-REP accepted under the session key also passes under another key: %v", err)
		}
		if err := c.Verify(); !errors.Is(err, ErrMutualAuth) {
			t.Fatalf("Verify passed before the security-layer exchange: %v", err)
		}
	})
}

// FuzzWrapToken feeds the server's security-layer offer (an RFC 4121 wrap
// token) to Next after mutual authentication. Oracle: no panic; every
// refusal is a "wrap" *Error; an accepted offer is refused under any
// other key, and the reply is an initiator wrap token that verifies under
// the key the offer used and says "no security layer, max size 0" with the
// authorization identity, and nothing else.
func FuzzWrapToken(f *testing.F) {
	session, sub := testKey(f, 1), testKey(f, 2)
	f.Add(acceptorOffer(f, session, 0x01, []byte{0x07, 0x01, 0x00, 0x00}))
	f.Add(acceptorOffer(f, sub, 0x01|flagAcceptorSubkey, []byte{0x01, 0, 0x10, 0}))
	f.Add(acceptorOffer(f, session, 0x01, []byte{0x04, 0, 0, 0}))
	f.Add(acceptorOffer(f, session, 0x01, []byte{0x01}))
	f.Add(acceptorOffer(f, testKey(f, 9), 0x01, []byte{0x01, 0, 0, 0}))
	f.Add([]byte{0x05, 0x04, 0x01, 0xff})
	f.Add([]byte{})
	newClient := func(key, acceptor types.EncryptionKey) *Client {
		c := &Client{sessionKey: key, acceptKey: acceptor, mutual: true}
		c.creds.Authzid = "alerts"
		c.auth.SeqNumber = 99
		return c
	}
	f.Fuzz(func(t *testing.T, tok []byte) {
		c := newClient(session, sub)
		resp, err := c.Next(context.Background(), tok)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Op != "wrap" {
				t.Fatalf("refusal %v is not a wrap *Error", err)
			}
			if c.Verify() == nil {
				t.Fatal("Verify passed after a refused offer")
			}
			return
		}
		if _, err := newClient(testKey(t, 3), testKey(t, 4)).Next(context.Background(), tok); err == nil {
			t.Fatal("an offer accepted under the session key also passes under other keys")
		}
		var offer gss.WrapToken
		if err := offer.Unmarshal(tok, true); err != nil {
			t.Fatalf("accepted an offer that is not an acceptor wrap token: %v", err)
		}
		key := session
		if offer.Flags&flagAcceptorSubkey != 0 {
			key = sub
		}
		var wt gss.WrapToken
		if err := wt.Unmarshal(resp, false); err != nil {
			t.Fatalf("our reply is not an initiator wrap token: %v", err)
		}
		if ok, err := wt.Verify(key, keyusage.GSSAPI_INITIATOR_SEAL); !ok || err != nil {
			t.Fatalf("our reply does not verify under the offer's key: %v", err)
		}
		if !bytes.Equal(wt.Payload, []byte("\x01\x00\x00\x00alerts")) || wt.SndSeqNum != 99 {
			t.Fatalf("reply payload %x seq %d", wt.Payload, wt.SndSeqNum)
		}
		if err := c.Verify(); err != nil {
			t.Fatalf("Verify after an accepted offer: %v", err)
		}
	})
}

// TestAPRepSealedWithTheSessionKey shows FuzzAPRep's seeds reach both
// sides of its oracle: an AP-REP sealed with the session key and echoing
// the authenticator is accepted (and its subkey taken); with another key,
// or another time, it is refused.
func TestAPRepSealedWithTheSessionKey(t *testing.T) {
	session, sub := testKey(t, 1), testKey(t, 2)
	for name, tc := range map[string]struct {
		tok []byte
		ok  bool
	}{
		"valid":      {apRep(t, session, fuzzCTime, 42, sub), true},
		"wrong key":  {apRep(t, testKey(t, 9), fuzzCTime, 42, sub), false},
		"wrong time": {apRep(t, session, fuzzCTime.Add(time.Second), 42, sub), false},
		"wrong usec": {apRep(t, session, fuzzCTime, 43, sub), false},
	} {
		c := &Client{sessionKey: session}
		c.auth.CTime, c.auth.Cusec = fuzzCTime, 42
		_, err := c.Next(context.Background(), tc.tok)
		if (err == nil) != tc.ok || tc.ok && !bytes.Equal(c.acceptKey.KeyValue, sub.KeyValue) {
			t.Errorf("%s: err = %v, subkey taken %v", name, err, c.acceptKey.KeyType != 0)
		}
	}
}
