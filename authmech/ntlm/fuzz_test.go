package ntlm

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"testing"
	"unicode/utf16"

	"mailwarden/authmech"
)

// FuzzChallenge feeds the server's CHALLENGE message to parseChallenge and
// to a whole Next. Oracle: no panic; a refusal matches
// ErrMalformedChallenge; an accepted message is a type-2 Unicode CHALLENGE
// whose target information lies inside it and re-encodes to itself; the
// AUTHENTICATE built from it declares fields that lie inside it and match
// their contents, and carries the password neither as UTF-8 nor as UTF-16.
func FuzzChallenge(f *testing.F) {
	good := challengeFor(f)
	f.Add(good)
	f.Add(good[:48])
	f.Add(append(good[:len(good)-4:len(good)-4], 0xff, 0xff))
	short := append([]byte(nil), good...)
	binary.LittleEndian.PutUint16(short[40:], 0xffff)
	f.Add(short)
	noTI := append([]byte(nil), good[:56]...)
	binary.LittleEndian.PutUint16(noTI[40:], 0)
	f.Add(noTI)
	// Target information near the 16-bit field limit: the NTLMv2 response
	// that embeds it (plus the pairs the client adds) would not fit.
	f.Add(challengeWithTargetInfo(encodeAV([]avPair{{2, make([]byte, 65500)}})))
	const password = "Fuzz-Passw0rd-Never-Sent"
	pwUTF16 := make([]byte, 0, 2*len(password))
	for _, u := range utf16.Encode([]rune(password)) {
		pwUTF16 = binary.LittleEndian.AppendUint16(pwUTF16, u)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		ch, err := parseChallenge(msg)
		if err != nil {
			if !errors.Is(err, ErrMalformedChallenge) {
				t.Fatalf("untyped error %v", err)
			}
		} else {
			if len(msg) < 48 || !bytes.Equal(msg[:8], signature) || binary.LittleEndian.Uint32(msg[8:]) != 2 || ch.flags&flagUnicode == 0 {
				t.Fatalf("accepted a message that is not a Unicode CHALLENGE: %x", msg)
			}
			if !bytes.Equal(ch.challenge, msg[24:32]) {
				t.Fatalf("server challenge %x, want %x", ch.challenge, msg[24:32])
			}
			if n, start := int(binary.LittleEndian.Uint16(msg[40:])), int(binary.LittleEndian.Uint32(msg[44:])); len(ch.targetInfo) != n || n > 0 && !bytes.Equal(ch.targetInfo, msg[start:start+n]) {
				t.Fatalf("target information %x is not the declared field", ch.targetInfo)
			}
			pairs, err := parseAV(ch.targetInfo)
			if err != nil {
				t.Fatalf("parseChallenge accepted target information parseAV refuses: %v", err)
			}
			if enc := encodeAV(pairs); len(pairs) > 0 && !bytes.HasPrefix(ch.targetInfo, enc[:len(enc)-4]) {
				t.Fatalf("AV pairs do not re-encode: %x -> %x", ch.targetInfo, enc)
			}
		}

		c, _ := New(authmech.Credentials{Username: `DOM\alice`, Password: password})
		c.rand = bytes.NewReader(make([]byte, 64))
		if _, _, err := c.Start(context.Background(), &authmech.ServerInfo{Name: "mail.example.com", TLS: &tls.ConnectionState{HandshakeComplete: true}}); err != nil {
			t.Fatal(err)
		}
		auth, err := c.Next(context.Background(), msg)
		if err != nil {
			if !errors.Is(err, ErrMalformedChallenge) {
				t.Fatalf("Next: untyped error %v", err)
			}
			return
		}
		if ch == nil {
			t.Fatal("Next answered a CHALLENGE parseChallenge refuses")
		}
		if len(auth) < 88 || !bytes.Equal(auth[:8], signature) || binary.LittleEndian.Uint32(auth[8:]) != 3 {
			t.Fatalf("not an AUTHENTICATE message: %x", auth)
		}
		end := 88
		for i := 0; i < 6; i++ {
			fo := 12 + 8*i
			n, maxN, start := int(binary.LittleEndian.Uint16(auth[fo:])), int(binary.LittleEndian.Uint16(auth[fo+2:])), int(binary.LittleEndian.Uint32(auth[fo+4:]))
			if n != maxN || start != end || start+n > len(auth) {
				t.Fatalf("field %d: len %d max %d at %d, message %d bytes, expected at %d", i, n, maxN, start, len(auth), end)
			}
			end += n
		}
		if end != len(auth) {
			t.Fatalf("the fields cover %d of %d bytes: a length was truncated", end, len(auth))
		}
		if bytes.Contains(auth, []byte(password)) || bytes.Contains(auth, pwUTF16) {
			t.Fatal("the AUTHENTICATE message carries the password")
		}
	})
}

// challengeWithTargetInfo is challengeFor with the given target
// information.
func challengeWithTargetInfo(ti []byte) []byte {
	m := challengeFor(nil)[:56]
	binary.LittleEndian.PutUint16(m[40:], uint16(len(ti)))
	binary.LittleEndian.PutUint16(m[42:], uint16(len(ti)))
	return append(m, ti...)
}
