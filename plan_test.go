package mailwarden

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mailwarden/authmech"
	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// TestPort465WithoutTLSModeIsImplicit: port 465 is the implicit-TLS port
// (RFC 8314). A profile that names no TLS mode (or the CLI's default auto)
// waited there for a plaintext greeting and timed out; an explicit mode
// stays what the administrator asked for.
func TestPort465WithoutTLSModeIsImplicit(t *testing.T) {
	for _, c := range []struct {
		tls, server string
		want        transport.TLSMode
	}{
		{"", "smtp.example.com:465", transport.TLSImplicit},
		{"auto", "smtp.example.com:465", transport.TLSImplicit},
		{"", "smtp.example.com:587", transport.TLSAuto},
		{"explicit", "smtp.example.com:465", transport.TLSExplicit},
		{"none", "smtp.example.com:465", transport.TLSNone},
		{"", "smtp.example.com:465-nossl", transport.TLSNone},
	} {
		pl, err := resolvePlan(Profile{Servers: []string{c.server}, TLS: c.tls})
		if err != nil {
			t.Fatal(err)
		}
		if got := pl.servers[0].Mode(pl.tls); got != c.want {
			t.Errorf("tls %q, server %s: mode %v, want %v", c.tls, c.server, got, c.want)
		}
	}
	// The same for settings imported from XML.
	imp, err := ImportSMTPXML(strings.NewReader(`<SMTP><Host>mail.example.com</Host><HostPort>465</HostPort></SMTP>`), "x")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := resolvePlan(imp.Profile)
	if err != nil {
		t.Fatal(err)
	}
	if got := pl.servers[0].Mode(pl.tls); got != transport.TLSImplicit {
		t.Errorf("import-xml HostPort 465: mode %v, want implicit", got)
	}
}

// TestCredentialsWithoutMechanismAuthenticate: a user name (or a token, or
// an OAuth flow) without a mechanism means auto. The credentials were
// silently ignored: a probe with a wrong password said ok without logging
// in, and a send failed later with 530.
func TestCredentialsWithoutMechanismAuthenticate(t *testing.T) {
	pl, err := resolvePlan(Profile{Servers: []string{"m.example.com"}, Auth: Auth{Username: "alice", Password: "env:PW"}})
	if err != nil || pl.mechanism != authmech.Auto {
		t.Fatalf("mechanism %q, %v; want auto", pl.mechanism, err)
	}
	if pl, _ := resolvePlan(Profile{Servers: []string{"m.example.com"}}); pl.mechanism != authmech.None {
		t.Errorf("no credentials: mechanism %q, want none", pl.mechanism)
	}

	srv := smtptest.Start(t, smtptest.Options{User: "alice", Password: "right", AllowInsecureAuth: true})
	getenv := func(k string) string { return map[string]string{"PW": "wrong"}[k] }
	p := Profile{Servers: []string{srv.Addr}, TLS: "none", Timeout: 5 * time.Second,
		Auth: Auth{Username: "alice", Password: "env:PW", AllowPlaintext: true}}
	s, err := NewSender(context.Background(), p, &Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Probe(context.Background())
	if err == nil || Classify(err) != ClassAuth {
		t.Fatalf("probe with a wrong password: %v (class %v), want an authentication failure", err, Classify(err))
	}
	if rep.Servers[0].Err == nil {
		t.Error("the report says the server passed")
	}
}

// TestProxyFieldFormWithSecretReference: a proxy in field form whose
// password is a secret reference was refused ("user name without a
// password") although the reference resolves.
func TestProxyFieldFormWithSecretReference(t *testing.T) {
	p := Profile{Name: "px", Servers: []string{"m.example.com"},
		Proxy: Proxy{Type: "socks5", Host: "127.0.0.1", Port: 1081, User: "relay", Password: "env:PROXY_PW"}}
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	s, err := NewSender(context.Background(), p, &Options{Getenv: func(k string) string { return map[string]string{"PROXY_PW": "s3cret"}[k] }})
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	defer s.Close()
	if proxy, _ := s.Proxy(); !strings.Contains(proxy, "127.0.0.1:1081") || strings.Contains(proxy, "s3cret") {
		t.Errorf("proxy %q", proxy)
	}
	// Without a password at all it is still refused.
	p.Proxy.Password = ""
	var ce *ConfigError
	if err := p.Validate(); !errors.As(err, &ce) || ce.Field != "proxy" {
		t.Errorf("no password: %v", err)
	}
}

// TestOneFieldNameForValidateAndNewSender: Validate and NewSender name the
// same field the same way (they said "servers[1]" and "servers").
func TestOneFieldNameForValidateAndNewSender(t *testing.T) {
	for _, p := range []Profile{
		{Servers: []string{"m.example.com", "m:x-ssl"}},
		{Servers: []string{"m.example.com"}, Proxy: Proxy{URL: "ftp://p:21"}},
		{Servers: []string{"m.example.com"}, Proxy: Proxy{Type: "pigeon", Host: "p"}},
		{Servers: []string{"m.example.com"}, HeloName: "two words"},
	} {
		var v, n *ConfigError
		errV := p.Validate()
		_, errN := NewSender(context.Background(), p, &Options{Getenv: func(string) string { return "" }})
		if !errors.As(errV, &v) || !errors.As(errN, &n) || v.Field != n.Field {
			t.Errorf("%+v: Validate %v, NewSender %v", p, errV, errN)
		}
	}
}
