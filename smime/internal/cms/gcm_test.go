package cms

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	mrand "math/rand/v2"
	"testing"
)

// TestGCMEncrypterMatchesStdlib checks the streaming encrypter against the
// standard library's one-shot AES-GCM for many lengths and write splits.
func TestGCMEncrypterMatchesStdlib(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	sizes := []int{0, 1, 15, 16, 17, gcmChunk - 1, gcmChunk, gcmChunk + 1, 3*gcmChunk + 5, 100000}
	for i := 0; i < 20; i++ {
		sizes = append(sizes, r.IntN(5*gcmChunk))
	}
	for _, keyLen := range []int{16, 32} {
		for _, n := range sizes {
			key := make([]byte, keyLen)
			nonce := make([]byte, 12)
			rand.Read(key)
			rand.Read(nonce)
			pt := make([]byte, n)
			rand.Read(pt)
			block, _ := aes.NewCipher(key)
			aead, _ := cipher.NewGCM(block)
			want := aead.Seal(nil, nonce, pt, nil)

			g, err := NewGCMEncrypter(key, nonce)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			rest := pt
			for len(rest) > 0 {
				k := 1 + r.IntN(min(len(rest), 40000))
				got = append(got, g.Encrypt(make([]byte, k), rest[:k])...)
				rest = rest[k:]
			}
			got = append(got, g.Tag()...)
			if !bytes.Equal(got, want) {
				t.Fatalf("key %d size %d: streaming GCM differs from crypto/cipher", keyLen, n)
			}
		}
	}
}

func TestParseIndefinite(t *testing.T) {
	// SEQUENCE (indefinite) { OCTET STRING constructed (indefinite) { "ab", "c" } }
	in := []byte{0x30, 0x80, 0x24, 0x80, 0x04, 0x02, 'a', 'b', 0x04, 0x01, 'c', 0, 0, 0, 0, 0xff}
	n, rest, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rest, []byte{0xff}) {
		t.Fatalf("rest = %x", rest)
	}
	if got := n.Child(0).Bytes(); string(got) != "abc" {
		t.Fatalf("Bytes = %q", got)
	}
	want := []byte{0x30, 0x09, 0x24, 0x07, 0x04, 0x02, 'a', 'b', 0x04, 0x01, 'c'}
	if !bytes.Equal(n.DER(), want) {
		t.Fatalf("DER = %x", n.DER())
	}
	for i := range len(in) - 1 {
		if _, _, err := Parse(in[:i]); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
}

func BenchmarkGCMEncrypter(b *testing.B) {
	key := make([]byte, 32)
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	g, _ := NewGCMEncrypter(key, make([]byte, 12))
	for b.Loop() {
		g.Encrypt(buf, buf)
	}
}
