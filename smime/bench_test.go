package smime

import (
	"crypto/x509"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// benchBody is 7-bit text with CRLF lines, as an alert report would be.
var benchBody = []byte(strings.Repeat("2026-11-22T10:00:00Z host=db1 disk=/var used=97% status=CRITICAL\r\n", 512))

func benchWrap(b *testing.B, w Wrapper, size int) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		wc, err := w.Wrap(io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		io.WriteString(wc, "Content-Type: text/plain\r\n\r\n")
		for n := 0; n < size; n += len(benchBody) {
			if _, err := wc.Write(benchBody); err != nil {
				b.Fatal(err)
			}
		}
		if err := wc.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrap measures throughput and allocation per message. Run the
// 100 MB cases once: go test -bench Wrap -benchtime 1x -benchmem ./smime/
// The allocated bytes per operation stay flat from 1 MB to 100 MB: the
// wrappers stream.
func BenchmarkWrap(b *testing.B) {
	signer := loadIdentity(b, "signer-rsa")
	rcpt := loadCert(b, "recipient-rsa")
	detached, _ := NewSigner(SignConfig{Identity: signer})
	opaque, _ := NewSigner(SignConfig{Identity: signer, Opaque: true})
	cbc, _ := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{rcpt}, Cipher: AES256CBC})
	gcm, _ := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{rcpt}, Cipher: AES256GCM})
	cases := []struct {
		name string
		w    Wrapper
	}{
		{"sign-detached", detached},
		{"sign-opaque", opaque},
		{"encrypt-cbc", cbc},
		{"encrypt-gcm", gcm},
		{"sign+encrypt-gcm", SignAndEncrypt(detached, gcm)},
	}
	for _, size := range []int{1 << 20, 100 << 20} {
		for _, c := range cases {
			b.Run(fmt.Sprintf("%s/%dMB", c.name, size>>20), func(b *testing.B) { benchWrap(b, c.w, size) })
		}
	}
}

// TestStreamingMemory is the streaming guarantee as a regression test: the
// bytes allocated while wrapping a 16 MB message stay below 1 MB for every
// wrapper (BenchmarkWrap shows the same figure at 1 MB and 100 MB).
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	signer := loadIdentity(t, "signer-ecdsa")
	rcpt := loadCert(t, "recipient-rsa")
	detached, _ := NewSigner(SignConfig{Identity: signer})
	opaque, _ := NewSigner(SignConfig{Identity: signer, Opaque: true})
	gcm, _ := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{rcpt}, Cipher: AES256GCM})
	cbc, _ := NewEncrypter(EncryptConfig{Recipients: []*x509.Certificate{rcpt}})
	const size = 16 << 20
	for name, w := range map[string]Wrapper{"detached": detached, "opaque": opaque, "gcm": gcm, "cbc": cbc, "sign+gcm": SignAndEncrypt(opaque, gcm)} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		wc, err := w.Wrap(io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < size; n += len(benchBody) {
			wc.Write(benchBody)
		}
		if err := wc.Close(); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		if alloc > 1<<20 {
			t.Errorf("%s: %d bytes allocated for a 16 MB message", name, alloc)
		}
		t.Logf("%s: %d bytes allocated for 16 MB", name, alloc)
	}
}
