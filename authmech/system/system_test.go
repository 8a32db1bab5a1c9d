//go:build !windows

package system

import (
	"context"
	"crypto/tls"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"mailwarden/authmech"
)

func tlsInfo(mechs ...string) *authmech.ServerInfo {
	return &authmech.ServerInfo{Name: "relay.example.com", TLS: &tls.ConnectionState{HandshakeComplete: true}, Mechanisms: mechs}
}

func TestRegisterAliases(t *testing.T) {
	reg := authmech.NewRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"system", "System", "Windows integrated", "windowsintegrated", " SSPI "} {
		if c, ok := reg.Canonical(n); !ok || c != Name {
			t.Errorf("%q: %q %v, want %s", n, c, ok, Name)
		}
	}
	if _, err := reg.Client("system", authmech.Credentials{Username: "svc", Password: "pw"}); !errors.Is(err, ErrSecretGiven) {
		t.Errorf("a password was taken: %v", err)
	}
}

func TestStartWithoutCredentials(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"KRB5CCNAME": "FILE:" + filepath.Join(dir, "none")}
	c, err := newClient(authmech.Credentials{}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Start(context.Background(), tlsInfo("GSSAPI"))
	var se *Error
	if !errors.As(err, &se) || !errors.Is(err, ErrNoCredentials) || se.Hint() == "" || !strings.Contains(err.Error(), "KRB5_CLIENT_KTNAME") {
		t.Fatalf("got %v, want ErrNoCredentials naming what was tried", err)
	}
	env["KRB5_CLIENT_KTNAME"] = filepath.Join(dir, "no.keytab")
	if _, _, err = c.Start(context.Background(), tlsInfo("GSSAPI")); !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "no.keytab") {
		t.Fatalf("got %v, want ErrNoCredentials naming the keytab", err)
	}
	env["KRB5CCNAME"] = "KEYRING:persistent:1000"
	if _, _, err = c.Start(context.Background(), tlsInfo("GSSAPI")); !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "KEYRING") {
		t.Fatalf("got %v, want the unsupported cache type named", err)
	}
	if c.User() != "" {
		t.Errorf("User %q before a successful Start", c.User())
	}
}

func TestStartRefusesWhatCannotWork(t *testing.T) {
	c, _ := newClient(authmech.Credentials{}, func(string) string { return "" })
	if _, _, err := c.Start(context.Background(), tlsInfo("PLAIN", "NTLM")); !errors.Is(err, authmech.ErrNotOffered) || !strings.Contains(err.Error(), "PLAIN NTLM") {
		t.Errorf("without GSSAPI offered: %v", err)
	}
	plain := &authmech.ServerInfo{Name: "relay.example.com", Mechanisms: []string{"GSSAPI"}}
	if _, _, err := c.Start(context.Background(), plain); !errors.Is(err, authmech.ErrPlaintextRefused) {
		t.Errorf("without TLS: %v", err)
	}
}
