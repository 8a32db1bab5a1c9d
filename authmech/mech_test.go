package authmech

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"testing"
)

var tlsInfo = &ServerInfo{
	Name:       "mail.example.com",
	TLS:        &tls.ConnectionState{HandshakeComplete: true},
	Mechanisms: []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER"},
}

func newClient(t testing.TB, name string, c Credentials) Client {
	t.Helper()
	cl, err := NewRegistry().Client(name, c)
	if err != nil {
		t.Fatalf("Client(%q): %v", name, err)
	}
	return cl
}

// RFC 4616 section 4 examples.
func TestPLAIN_RFC4616(t *testing.T) {
	for _, tc := range []struct {
		c    Credentials
		want string
	}{
		{Credentials{Username: "tim", Password: "tanstaaftanstaaf"}, "\x00tim\x00tanstaaftanstaaf"},
		{Credentials{Authzid: "Ursel", Username: "Kurt", Password: "xipj3plmq"}, "Ursel\x00Kurt\x00xipj3plmq"},
	} {
		mech, ir, err := newClient(t, "plain", tc.c).Start(context.Background(), tlsInfo)
		if err != nil || mech != "PLAIN" || string(ir) != tc.want {
			t.Errorf("Start = %q, %q, %v; want PLAIN, %q", mech, ir, err, tc.want)
		}
	}
}

// RFC 2195 section 2 example.
func TestCRAMMD5_RFC2195(t *testing.T) {
	c := newClient(t, "CramMD5Method", Credentials{Username: "tim", Password: "tanstaaftanstaaf"})
	if mech, ir, err := c.Start(context.Background(), tlsInfo); err != nil || mech != "CRAM-MD5" || ir != nil {
		t.Fatalf("Start = %q, %q, %v", mech, ir, err)
	}
	resp, err := c.Next(context.Background(), []byte("<1896.697170952@postoffice.reston.mci.net>"))
	if want := "tim b913a602c7eda7a495b4e6e7334d3890"; err != nil || string(resp) != want {
		t.Fatalf("Next = %q, %v; want %q", resp, err, want)
	}
	// RFC 2195 also gives the base64 form of the response.
	if got := base64.StdEncoding.EncodeToString(resp); got != "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw" {
		t.Errorf("base64 = %s", got)
	}
}

func TestLOGIN(t *testing.T) {
	c := newClient(t, "USER_PASSWORD", Credentials{Username: "tim", Password: "pw"})
	mech, ir, err := c.Start(context.Background(), tlsInfo)
	if err != nil || mech != "LOGIN" || ir != nil {
		t.Fatalf("Start = %q, %q, %v", mech, ir, err)
	}
	for _, want := range []string{"tim", "pw"} {
		r, err := c.Next(context.Background(), []byte("ignored prompt"))
		if err != nil || string(r) != want {
			t.Fatalf("Next = %q, %v; want %q", r, err, want)
		}
	}
	if _, err := c.Next(context.Background(), nil); err == nil {
		t.Fatal("third challenge accepted")
	}
}

func TestPlaintextRefused(t *testing.T) {
	plain := &ServerInfo{Name: "h", Mechanisms: tlsInfo.Mechanisms}
	tok := StaticToken("tok")
	for _, m := range []string{"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"} {
		c := newClient(t, m, Credentials{Username: "u", Password: "p", TokenSource: tok})
		if _, _, err := c.Start(context.Background(), plain); !errors.Is(err, ErrPlaintextRefused) {
			t.Errorf("%s without TLS: err = %v, want ErrPlaintextRefused", m, err)
		}
		allowed := *plain
		allowed.AllowPlaintext = true
		c = newClient(t, m, Credentials{Username: "u", Password: "p", TokenSource: tok})
		if _, _, err := c.Start(context.Background(), &allowed); err != nil {
			t.Errorf("%s with AllowPlaintext: %v", m, err)
		}
	}
	// CRAM-MD5 and SCRAM send no reusable secret.
	for _, m := range []string{"CRAM-MD5", "SCRAM-SHA-256"} {
		c := newClient(t, m, Credentials{Username: "u", Password: "p"})
		if _, _, err := c.Start(context.Background(), plain); err != nil {
			t.Errorf("%s without TLS: %v", m, err)
		}
	}
}

func TestNotOffered(t *testing.T) {
	info := &ServerInfo{TLS: tlsInfo.TLS, Mechanisms: []string{"PLAIN-CLIENTTOKEN", "LOGIN"}}
	c := newClient(t, "PLAIN", Credentials{Username: "u", Password: "p"})
	if _, _, err := c.Start(context.Background(), info); !errors.Is(err, ErrNotOffered) {
		t.Fatalf("err = %v, want ErrNotOffered", err)
	}
}

func scramRun(t *testing.T, mech, nonce, serverFirst, wantFinal, serverFinal string) {
	t.Helper()
	c := newClient(t, mech, Credentials{Username: "user", Password: "pencil"}).(*scramClient)
	c.nonce = nonce
	m, ir, err := c.Start(context.Background(), tlsInfo)
	if want := "n,,n=user,r=" + nonce; err != nil || m != mech || string(ir) != want {
		t.Fatalf("Start = %q, %q, %v; want %q", m, ir, err, want)
	}
	resp, err := c.Next(context.Background(), []byte(serverFirst))
	if err != nil || string(resp) != wantFinal {
		t.Fatalf("client-final = %q, %v\nwant %q", resp, err, wantFinal)
	}
	if err := c.Verify(); !errors.Is(err, ErrServerSignature) {
		t.Fatalf("Verify before server-final = %v, want ErrServerSignature", err)
	}
	resp, err = c.Next(context.Background(), []byte(serverFinal))
	if err != nil || len(resp) != 0 {
		t.Fatalf("server-final: %q, %v", resp, err)
	}
	if err := c.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// RFC 5802 section 5 example.
func TestSCRAMSHA1_RFC5802(t *testing.T) {
	scramRun(t, "SCRAM-SHA-1", "fyko+d2lbbFgONRv9qkxdawL",
		"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
		"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
}

// RFC 7677 section 3 example.
func TestSCRAMSHA256_RFC7677(t *testing.T) {
	scramRun(t, "SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO",
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
}

// A server that does not know the password cannot produce the signature.
func TestSCRAM_ImpostorServer(t *testing.T) {
	for _, final := range []string{"v=rmF9pqV8S7suAoZWja4dJRkFsKA=", "", "x=1", "v=!!!", "e=other-error"} {
		c := newClient(t, "SCRAM-SHA-1", Credentials{Username: "user", Password: "pencil"}).(*scramClient)
		c.nonce = "fyko+d2lbbFgONRv9qkxdawL"
		c.Start(context.Background(), tlsInfo)
		if _, err := c.Next(context.Background(), []byte("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Next(context.Background(), []byte(final)); err == nil {
			t.Errorf("server-final %q accepted", final)
		}
		if err := c.Verify(); !errors.Is(err, ErrServerSignature) {
			t.Errorf("server-final %q: Verify = %v", final, err)
		}
	}
	for _, first := range []string{
		"r=someoneelse,s=QSXCR+Q6sek8bf92,i=4096",                     // nonce not extended
		"r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096",        // nonce not extended
		"r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=99999999",   // iteration bomb
		"r=fyko+d2lbbFgONRv9qkxdawLx,s=,i=4096",                       // no salt
		"m=ext,r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=4096", // mandatory extension
	} {
		c := newClient(t, "SCRAM-SHA-1", Credentials{Username: "user", Password: "pencil"}).(*scramClient)
		c.nonce = "fyko+d2lbbFgONRv9qkxdawL"
		c.Start(context.Background(), tlsInfo)
		if _, err := c.Next(context.Background(), []byte(first)); err == nil {
			t.Errorf("server-first %q accepted", first)
		}
	}
}

// RFC 7628 section 4.1 (layout of the initial response) and 4.3 (the
// error challenge and the client's dummy response).
func TestOAUTHBEARER_RFC7628(t *testing.T) {
	c := newClient(t, "OAUTHBEARER", Credentials{Username: "user@example.com",
		TokenSource: StaticToken("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==")})
	info := *tlsInfo
	info.Name = "server.example.com"
	_, ir, err := c.Start(context.Background(), &info)
	want := "n,a=user@example.com,\x01host=server.example.com\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
	if err != nil || string(ir) != want {
		t.Fatalf("ir = %q, %v\nwant %q", ir, err, want)
	}
	ch, _ := base64.StdEncoding.DecodeString("eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=")
	resp, err := c.Next(context.Background(), ch)
	if err != nil || !bytes.Equal(resp, []byte{1}) {
		t.Fatalf("Next = %q, %v; want the dummy ^A", resp, err)
	}
	var oe *OAuthError
	if !errors.As(c.(ErrorReporter).Err(), &oe) || oe.Status != "invalid_token" || oe.Scope != "example_scope" ||
		oe.OpenIDConfiguration != "https://example.com/.well-known/openid-configuration" {
		t.Fatalf("Err = %#v", c.(ErrorReporter).Err())
	}
}

func TestXOAUTH2(t *testing.T) {
	c := newClient(t, "xoauth2", Credentials{Username: "someuser@example.com", TokenSource: StaticToken("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")})
	_, ir, err := c.Start(context.Background(), tlsInfo)
	// Google's XOAUTH2 protocol documentation example.
	if want := "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="; err != nil || base64.StdEncoding.EncodeToString(ir) != want {
		t.Fatalf("ir = %s, %v", base64.StdEncoding.EncodeToString(ir), err)
	}
	resp, err := c.Next(context.Background(), []byte(`{"status":"401","schemes":"bearer","scope":"mail"}`))
	if err != nil || len(resp) != 0 || resp == nil {
		t.Fatalf("Next = %q, %v; want empty response", resp, err)
	}
	var oe *OAuthError
	if !errors.As(c.(ErrorReporter).Err(), &oe) || oe.Status != "401" || oe.Scope != "mail" || oe.Schemes != "bearer" {
		t.Fatalf("Err = %v", c.(ErrorReporter).Err())
	}
}
