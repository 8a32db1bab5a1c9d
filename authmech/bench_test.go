package authmech

import (
	"context"
	"testing"
)

// Client-side cost of one complete exchange per mechanism (the server's
// part is replayed from the RFC examples).
func BenchmarkMechanisms(b *testing.B) {
	ctx := context.Background()
	creds := Credentials{Username: "user", Password: "pencil", TokenSource: StaticToken("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==")}
	reg := NewRegistry()
	run := func(b *testing.B, name string, challenges ...string) {
		b.ReportAllocs()
		for b.Loop() {
			c, err := reg.Client(name, creds)
			if err != nil {
				b.Fatal(err)
			}
			if sc, ok := c.(*scramClient); ok {
				sc.nonce = map[string]string{"SCRAM-SHA-1": "fyko+d2lbbFgONRv9qkxdawL", "SCRAM-SHA-256": "rOprNGfwEbeRWgbNEkqO"}[name]
			}
			if _, _, err := c.Start(ctx, tlsInfo); err != nil {
				b.Fatal(err)
			}
			for _, ch := range challenges {
				if _, err := c.Next(ctx, []byte(ch)); err != nil {
					b.Fatal(err)
				}
			}
			if v, ok := c.(Verifier); ok {
				if err := v.Verify(); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("PLAIN", func(b *testing.B) { run(b, "PLAIN") })
	b.Run("LOGIN", func(b *testing.B) { run(b, "LOGIN", "VXNlcm5hbWU6", "UGFzc3dvcmQ6") })
	b.Run("CRAM-MD5", func(b *testing.B) { run(b, "CRAM-MD5", "<1896.697170952@postoffice.reston.mci.net>") })
	b.Run("SCRAM-SHA-1", func(b *testing.B) {
		run(b, "SCRAM-SHA-1", "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096", "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
	})
	b.Run("SCRAM-SHA-256", func(b *testing.B) {
		run(b, "SCRAM-SHA-256", "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
	})
	b.Run("XOAUTH2", func(b *testing.B) { run(b, "XOAUTH2") })
	b.Run("OAUTHBEARER", func(b *testing.B) { run(b, "OAUTHBEARER") })
	b.Run("auto-Start", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, _ := reg.Client("auto", creds)
			if _, _, err := c.Start(ctx, tlsInfo); err != nil {
				b.Fatal(err)
			}
		}
	})
}
