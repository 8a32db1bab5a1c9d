package cms

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestKeyWrapRFC3394 uses the test vectors of RFC 3394 section 4.
func TestKeyWrapRFC3394(t *testing.T) {
	h := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	vectors := []struct{ kek, key, wrapped string }{
		{"000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF", "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"},
		{"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF", "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"},
		{"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F", "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"},
	}
	for _, v := range vectors {
		got, err := Wrap(h(v.kek), h(v.key))
		if err != nil || !bytes.Equal(got, h(v.wrapped)) {
			t.Fatalf("Wrap = %X, %v; want %s", got, err, v.wrapped)
		}
		key, err := Unwrap(h(v.kek), got)
		if err != nil || !bytes.Equal(key, h(v.key)) {
			t.Fatalf("Unwrap = %X, %v", key, err)
		}
		got[5] ^= 1
		if _, err := Unwrap(h(v.kek), got); err != ErrUnwrap {
			t.Fatalf("tampered unwrap: %v", err)
		}
	}
}
