package gssapi_test

import (
	"context"
	"crypto/tls"
	"os"
	"testing"

	"mailwarden/authmech"
	"mailwarden/authmech/gssapi"
	"mailwarden/internal/peers"
)

// BenchmarkStartWithKDC measures Start against the test environment's MIT
// KDC on loopback: keytab login (AS exchange), service ticket (TGS exchange)
// and the AP-REQ. It is dominated by the two KDC round trips.
func BenchmarkStartWithKDC(b *testing.B) {
	v := peers.Need(b, "MW_KRB5_CONF", "MW_KRB5_USER_PRINCIPAL", "MW_KRB5_USER_KEYTAB", "MW_KRB5_SPN_HOST")
	info := &authmech.ServerInfo{Name: v[3], TLS: &tls.ConnectionState{HandshakeComplete: true}, Mechanisms: []string{"GSSAPI"}}
	creds := authmech.Credentials{Username: v[1], Kerberos: authmech.Kerberos{Config: v[0], Keytab: v[2]}}
	b.ReportAllocs()
	for b.Loop() {
		c, err := gssapi.New(creds, os.Getenv)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Start(context.Background(), info); err != nil {
			b.Fatal(err)
		}
	}
}
