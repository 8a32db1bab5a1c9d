package smime

import (
	"crypto/x509"
	"fmt"
	"io"
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
