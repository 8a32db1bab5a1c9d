package authmech

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
)

var tlsInfo = &ServerInfo{Name: "mail.example.com", TLS: &tls.ConnectionState{HandshakeComplete: true}}
var plainInfo = &ServerInfo{Name: "mail.example.com"}

func TestPLAINRFC4616(t *testing.T) {
	// RFC 4616 section 4, example 1: authcid "tim", password "tanstaaftanstaaf".
	c, err := NewRegistry().Client("PLAIN", Credentials{Username: "tim", Password: "tanstaaftanstaaf"})
	if err != nil {
		t.Fatal(err)
	}
	mech, ir, err := c.Start(context.Background(), tlsInfo)
	if err != nil || mech != "PLAIN" || string(ir) != "\x00tim\x00tanstaaftanstaaf" {
		t.Fatalf("Start = %q, %q, %v", mech, ir, err)
	}
	// Example 2: authzid "Ursel", authcid "Kurt", password "xipj3plmq".
	c, _ = NewRegistry().Client("plain", Credentials{Username: "Kurt", Password: "xipj3plmq", Authzid: "Ursel"})
	if _, ir, _ = c.Start(context.Background(), tlsInfo); string(ir) != "Ursel\x00Kurt\x00xipj3plmq" {
		t.Errorf("with authzid: %q", ir)
	}
	if _, err := c.Next(context.Background(), []byte("more?")); err == nil {
		t.Error("PLAIN answered a challenge")
	}
}

// TestPlaintextPolicy: no built-in mechanism starts on a connection
// without TLS unless AllowPlaintext, and the refusal names the mechanism
// and what it would expose: the password or token itself, or an exchange
// crackable offline (CRAM-MD5 and SCRAM after a STARTTLS strip).
func TestPlaintextPolicy(t *testing.T) {
	creds := Credentials{Username: "u", Password: "p", Token: StaticToken("tok")}
	reg := NewRegistry()
	for name, why := range map[string]string{"PLAIN": "password itself", "LOGIN": "password itself", "XOAUTH2": "bearer token",
		"OAUTHBEARER": "bearer token", "CRAM-MD5": "crack the password offline", "SCRAM-SHA-1": "crack the password offline",
		"SCRAM-SHA-256": "crack the password offline"} {
		c, err := reg.Client(name, creds)
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range []*ServerInfo{plainInfo, nil, {Name: "m", TLS: &tls.ConnectionState{HandshakeComplete: false}}} {
			mech, ir, err := c.Start(context.Background(), info)
			var pe *PlaintextError
			if !errors.Is(err, ErrPlaintextRefused) || !errors.As(err, &pe) || pe.Mechanism != name || ir != nil || mech != "" {
				t.Errorf("%s without TLS: %q %q %v, want a *PlaintextError", name, mech, ir, err)
				continue
			}
			if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), why) {
				t.Errorf("%s: %q does not say %q", name, err, why)
			}
		}
		allowed := &ServerInfo{Name: "m", AllowPlaintext: true}
		if _, _, err := c.Start(context.Background(), allowed); err != nil {
			t.Errorf("%s with AllowPlaintext: %v", name, err)
		}
		if _, _, err := c.Start(context.Background(), tlsInfo); err != nil {
			t.Errorf("%s with TLS: %v", name, err)
		}
	}
}

// TestSCRAMLowIterationCountRefused: a server (or a man in the middle)
// that asks for fewer than 4096 iterations (RFC 7677 section 4) to make a
// recorded proof cheap to crack gets ErrSCRAMIterations and no proof.
func TestSCRAMLowIterationCountRefused(t *testing.T) {
	for _, iter := range []string{"1", "4095", "0", "-1", "", "x", "1048577"} {
		c, _ := newSCRAM("SCRAM-SHA-256", sha256.New, Credentials{Username: "user", Password: "pencil"}, nil)
		c.nonce = "rOprNGfwEbeRWgbNEkqO"
		if _, _, err := c.Start(context.Background(), tlsInfo); err != nil {
			t.Fatal(err)
		}
		resp, err := c.Next(context.Background(), []byte("r=rOprNGfwEbeRWgbNEkqOserver,s=W22ZaJ0SNY7soEsUEjb6gQ==,i="+iter))
		if !errors.Is(err, ErrSCRAMIterations) || resp != nil {
			t.Errorf("i=%q: %q, %v; want ErrSCRAMIterations and no proof", iter, resp, err)
			continue
		}
		if !strings.Contains(err.Error(), "4096") {
			t.Errorf("i=%q: %v does not name the minimum", iter, err)
		}
	}
	c, _ := newSCRAM("SCRAM-SHA-256", sha256.New, Credentials{Username: "user", Password: "pencil"}, nil)
	c.nonce = "rOprNGfwEbeRWgbNEkqO"
	c.Start(context.Background(), tlsInfo)
	if resp, err := c.Next(context.Background(), []byte("r=rOprNGfwEbeRWgbNEkqOserver,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")); err != nil || !strings.Contains(string(resp), ",p=") {
		t.Errorf("i=4096: %q, %v", resp, err)
	}
}

func TestLOGIN(t *testing.T) {
	c, _ := NewRegistry().Client("AuthLoginMethod", Credentials{Username: "alice", Password: "s3cret"})
	mech, ir, err := c.Start(context.Background(), tlsInfo)
	if mech != "LOGIN" || ir != nil || err != nil {
		t.Fatalf("Start = %q %q %v", mech, ir, err)
	}
	for _, want := range []string{"alice", "s3cret"} {
		got, err := c.Next(context.Background(), []byte("whatever the prompt says"))
		if err != nil || string(got) != want {
			t.Errorf("Next = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := c.Next(context.Background(), nil); err == nil {
		t.Error("a third challenge was answered")
	}
}

func TestCRAMMD5RFC2195(t *testing.T) {
	// RFC 2195 section 2.
	c, _ := NewRegistry().Client("CramMD5Method", Credentials{Username: "tim", Password: "tanstaaftanstaaf"})
	if mech, ir, err := c.Start(context.Background(), tlsInfo); mech != "CRAM-MD5" || ir != nil || err != nil {
		t.Fatalf("Start = %q %q %v", mech, ir, err)
	}
	got, err := c.Next(context.Background(), []byte("<1896.697170952@postoffice.reston.mci.net>"))
	if err != nil || string(got) != "tim b913a602c7eda7a495b4e6e7334d3890" {
		t.Errorf("response = %q, %v", got, err)
	}
}

func TestSCRAMVectors(t *testing.T) {
	tests := []struct {
		rfc, name                       string
		newHash                         func() *scramClient
		nonce, serverFirst, clientFinal string
		serverFinal                     string
	}{
		{
			rfc: "RFC 5802 section 5", name: "SCRAM-SHA-1",
			newHash: func() *scramClient {
				c, _ := newSCRAM("SCRAM-SHA-1", sha1.New, Credentials{Username: "user", Password: "pencil"}, nil)
				return c
			},
			nonce:       "fyko+d2lbbFgONRv9qkxdawL",
			serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			rfc: "RFC 7677 section 3", name: "SCRAM-SHA-256",
			newHash: func() *scramClient {
				c, _ := newSCRAM("SCRAM-SHA-256", sha256.New, Credentials{Username: "user", Password: "pencil"}, nil)
				return c
			},
			nonce:       "rOprNGfwEbeRWgbNEkqO",
			serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.rfc, func(t *testing.T) {
			c := tt.newHash()
			c.nonce = tt.nonce
			mech, ir, err := c.Start(context.Background(), tlsInfo)
			if err != nil || mech != tt.name || string(ir) != "n,,n=user,r="+tt.nonce {
				t.Fatalf("Start = %q %q %v", mech, ir, err)
			}
			got, err := c.Next(context.Background(), []byte(tt.serverFirst))
			if err != nil || string(got) != tt.clientFinal {
				t.Fatalf("client-final = %q, %v\nwant %q", got, err, tt.clientFinal)
			}
			if err := c.Verify(); !errors.Is(err, ErrServerSignature) {
				t.Errorf("Verify before server-final = %v", err)
			}
			if got, err := c.Next(context.Background(), []byte(tt.serverFinal)); err != nil || len(got) != 0 {
				t.Fatalf("after server-final: %q, %v", got, err)
			}
			if err := c.Verify(); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestSCRAMRefusesAServerThatCannotProveThePassword(t *testing.T) {
	c, _ := newSCRAM("SCRAM-SHA-1", sha1.New, Credentials{Username: "user", Password: "pencil"}, nil)
	c.nonce = "fyko+d2lbbFgONRv9qkxdawL"
	c.Start(context.Background(), tlsInfo)
	if _, err := c.Next(context.Background(), []byte("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Next(context.Background(), []byte("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=")); !errors.Is(err, ErrServerSignature) {
		t.Errorf("forged server signature: %v", err)
	}
	if err := c.Verify(); !errors.Is(err, ErrServerSignature) {
		t.Errorf("Verify = %v", err)
	}
	bad := []string{
		"r=someoneelse,s=QSXCR+Q6sek8bf92,i=4096",              // nonce not extended
		"r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096", // nonce not extended at all
		"r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=0",
		"r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=99999999",
		"r=fyko+d2lbbFgONRv9qkxdawLx,s=!!,i=4096",
		"m=ext,r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=4096",
	}
	for _, sf := range bad {
		c, _ := newSCRAM("SCRAM-SHA-1", sha1.New, Credentials{Username: "user", Password: "pencil"}, nil)
		c.nonce = "fyko+d2lbbFgONRv9qkxdawL"
		c.Start(context.Background(), tlsInfo)
		if _, err := c.Next(context.Background(), []byte(sf)); err == nil {
			t.Errorf("server-first %q accepted", sf)
		}
	}
}

func TestOAuthInitialResponsesAndErrorChallenge(t *testing.T) {
	reg := NewRegistry()
	creds := Credentials{Username: "someuser@example.com", Token: StaticToken("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")}
	x, _ := reg.Client("XOAUTH2", creds)
	_, ir, err := x.Start(context.Background(), tlsInfo)
	if err != nil || string(ir) != "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01" {
		t.Fatalf("XOAUTH2 ir = %q, %v", ir, err)
	}
	// RFC 7628 section 4.1 (authzid = user).
	o, _ := reg.Client("OAUTHBEARER", Credentials{Username: "user@example.com", Token: StaticToken("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==")})
	_, ir, err = o.Start(context.Background(), tlsInfo)
	if err != nil || string(ir) != "n,a=user@example.com,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01" {
		t.Fatalf("OAUTHBEARER ir = %q, %v", ir, err)
	}
	// RFC 7628 section 4.3: the error challenge, answered with %x01.
	resp, err := o.Next(context.Background(), []byte(`{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}`))
	if err != nil || string(resp) != "\x01" {
		t.Fatalf("OAUTHBEARER error response = %q, %v", resp, err)
	}
	var oe *OAuthError
	if d := o.(Diagnoser).Diagnosis(); !errors.As(d, &oe) || oe.Status != "invalid_token" || oe.Scope != "example_scope" {
		t.Errorf("Diagnosis = %v", d)
	}
	resp, err = x.Next(context.Background(), []byte(`{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`))
	if err != nil || len(resp) != 0 || resp == nil {
		t.Fatalf("XOAUTH2 error response = %q, %v; want an empty response", resp, err)
	}
	if !strings.Contains(x.(Diagnoser).Diagnosis().Error(), "https://mail.google.com/") {
		t.Errorf("XOAUTH2 diagnosis = %v", x.(Diagnoser).Diagnosis())
	}
}

func TestRegistryNamesAndAliases(t *testing.T) {
	reg := NewRegistry()
	for alias, want := range map[string]string{
		"USER_PASSWORD": "LOGIN", "authloginmethod": "LOGIN", "SASLPLAIN": "PLAIN", "LoginPlainMethod": "PLAIN",
		"CRAMMD5": "CRAM-MD5", "CramMD5Method": "CRAM-MD5", "scram-sha-256": "SCRAM-SHA-256",
		"NoLoginMethod": None, "anonymous": None, "none": None, "": None, "Auto": Auto, "AUTO": Auto,
	} {
		if got, ok := reg.Canonical(alias); !ok || got != want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", alias, got, ok, want)
		}
	}
	if _, ok := reg.Canonical("KERBEROS"); ok {
		t.Error("KERBEROS resolves although GSSAPI is not registered")
	}
	if c, err := reg.Client("NoLoginMethod", Credentials{}); c != nil || err != nil {
		t.Errorf("none = %v, %v", c, err)
	}
	if _, err := reg.Client("DIGEST-MD5", Credentials{}); !errors.Is(err, ErrUnknownMechanism) {
		t.Errorf("unknown: %v", err)
	}
	if err := reg.Register(Mechanism{Name: "AUTO", New: newPlain}); err == nil {
		t.Error("reserved name registered")
	}
	if err := reg.Register(Mechanism{Name: "bad name", New: newPlain}); err == nil {
		t.Error("name with a space registered")
	}
}

func TestAutoPicksTheStrongestUsable(t *testing.T) {
	reg := NewRegistry()
	pw := Credentials{Username: "u", Password: "p"}
	tok := Credentials{Username: "u", Token: StaticToken("t")}
	tests := []struct {
		offered []string
		tls     bool
		creds   Credentials
		want    string
	}{
		{[]string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"}, true, pw, "SCRAM-SHA-256"},
		{[]string{"PLAIN", "LOGIN", "CRAM-MD5"}, true, pw, "CRAM-MD5"},
		{[]string{"PLAIN", "LOGIN"}, true, pw, "PLAIN"},
		{[]string{"LOGIN"}, true, pw, "LOGIN"},
		{[]string{"PLAIN", "XOAUTH2", "OAUTHBEARER"}, true, tok, "OAUTHBEARER"},
		{[]string{"PLAIN", "XOAUTH2"}, true, tok, "XOAUTH2"},
		{[]string{"PLAIN", "CRAM-MD5"}, false, pw, ""}, // CRAM-MD5 is crackable offline
		{[]string{"SCRAM-SHA-256", "SCRAM-SHA-1"}, false, pw, ""},
		{[]string{"OAUTHBEARER", "XOAUTH2"}, false, tok, ""},
		{[]string{"PLAIN", "LOGIN"}, false, pw, ""},                         // never in clear
		{[]string{"XOAUTH2"}, true, pw, ""},                                 // no token
		{[]string{"PLAIN-CLIENTTOKEN", "SCRAM-SHA-256-PLUS"}, true, pw, ""}, // exact tokens only
	}
	for _, tt := range tests {
		info := &ServerInfo{Name: "m", Mechanisms: tt.offered}
		if tt.tls {
			info.TLS = &tls.ConnectionState{HandshakeComplete: true}
		}
		c, err := reg.Client("auto", tt.creds)
		if err != nil {
			t.Fatal(err)
		}
		mech, _, err := c.Start(context.Background(), info)
		if tt.want == "" {
			if !errors.Is(err, ErrNotOffered) || errors.Is(err, ErrPlaintextRefused) == tt.tls {
				t.Errorf("%v tls=%v: %q, %v; want ErrNotOffered (and ErrPlaintextRefused without TLS)", tt.offered, tt.tls, mech, err)
			}
			continue
		}
		if err != nil || mech != tt.want || c.(*AutoClient).Chosen() != tt.want {
			t.Errorf("%v tls=%v: picked %q (%v), want %q", tt.offered, tt.tls, mech, err, tt.want)
		}
	}
}
