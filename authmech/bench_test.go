package authmech

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"testing"
)

// Client-side cost of one complete exchange per mechanism, against canned
// server messages (the RFC examples where there are some).
func BenchmarkMechanisms(b *testing.B) {
	ctx := context.Background()
	creds := Credentials{Username: "user", Password: "pencil", Token: StaticToken("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==")}
	reg := NewRegistry()
	simple := []struct {
		name       string
		challenges [][]byte
	}{
		{"PLAIN", nil},
		{"LOGIN", [][]byte{[]byte("Username:"), []byte("Password:")}},
		{"CRAM-MD5", [][]byte{[]byte("<1896.697170952@postoffice.reston.mci.net>")}},
		{"XOAUTH2", nil},
		{"OAUTHBEARER", nil},
	}
	for _, m := range simple {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c, err := reg.Client(m.name, creds)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.Start(ctx, tlsInfo); err != nil {
					b.Fatal(err)
				}
				for _, ch := range m.challenges {
					if _, err := c.Next(ctx, ch); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
	scram := []struct {
		name                string
		nonce, first, final string
		newClient           func() *scramClient
	}{
		{"SCRAM-SHA-1", "fyko+d2lbbFgONRv9qkxdawL", "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096", "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
			func() *scramClient { c, _ := newSCRAM("SCRAM-SHA-1", sha1.New, creds, nil); return c }},
		{"SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO", "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
			func() *scramClient { c, _ := newSCRAM("SCRAM-SHA-256", sha256.New, creds, nil); return c }},
	}
	for _, m := range scram {
		b.Run(m.name+"-4096-iterations", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := m.newClient()
				c.nonce = m.nonce
				c.Start(ctx, tlsInfo)
				if _, err := c.Next(ctx, []byte(m.first)); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Next(ctx, []byte(m.final)); err != nil {
					b.Fatal(err)
				}
				if err := c.Verify(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
