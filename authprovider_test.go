package mailwarden

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"mailwarden/authmech"
	"mailwarden/authmech/system"
)

// TestPlanProviderSSPI: auth.provider "sspi" is checked once, in the plan:
// Windows-only, NTLM, GSSAPI or auto only, a user and a password required,
// the built-in GSSAPI's files refused; each error names its field.
func TestPlanProviderSSPI(t *testing.T) {
	ok := Auth{Provider: "sspi", Username: `CORP\svc`, Password: "env:PW"}
	with := func(f func(*Auth)) Auth { a := ok; f(&a); return a }
	for _, c := range []struct {
		name      string
		a         Auth
		mech      string
		goos      string
		wantField string
		wantErr   string
	}{
		{"ntlm", ok, "NTLM", "windows", "", ""},
		{"gssapi", ok, "GSSAPI", "windows", "", ""},
		{"auto", ok, authmech.Auto, "windows", "", ""},
		{"builtin", Auth{Provider: "builtin"}, "PLAIN", "linux", "", ""},
		{"empty", Auth{}, "NTLM", "linux", "", ""},
		{"not windows", ok, "NTLM", "linux", "provider", "Windows-only"},
		{"unknown provider", with(func(a *Auth) { a.Provider = "gss" }), "NTLM", "windows", "provider", "unknown provider"},
		{"plain", ok, "PLAIN", "windows", "provider", "not PLAIN"},
		{"system", ok, system.Name, "windows", "provider", "already uses SSPI"},
		{"no user", with(func(a *Auth) { a.Username = "" }), "NTLM", "windows", "username", "needs a user"},
		{"no password", with(func(a *Auth) { a.Password = "" }), "GSSAPI", "windows", "password", "needs a password"},
		{"keytab", with(func(a *Auth) { a.Keytab = "/etc/krb5.keytab" }), "GSSAPI", "windows", "provider", "keytab"},
		{"oauth", with(func(a *Auth) { a.OAuthToken = "env:TOK" }), authmech.Auto, "windows", "provider", "OAuth"},
	} {
		t.Run(c.name, func(t *testing.T) {
			field, err := planProvider(c.a, c.mech, c.goos)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || field != c.wantField || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("got field %q, %v; want field %q and %q", field, err, c.wantField, c.wantErr)
			}
			if c.goos != "windows" && !errors.Is(err, system.ErrSSPIWindowsOnly) {
				t.Errorf("%v does not wrap ErrSSPIWindowsOnly", err)
			}
		})
	}
}

// TestProviderSSPIOutsideWindows: on this system (not Windows) a profile
// with provider sspi is a configuration error on auth.provider from
// Validate and NewSender, and the password is not in the message.
func TestProviderSSPIOutsideWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SSPI exists here")
	}
	const pw = "sspi-secret-never-shown"
	p := Profile{Name: "sspi", Servers: []string{"relay.example.com:587"},
		Auth: Auth{Mechanism: "NTLM", Provider: "SSPI", Username: `CORP\svc`, Password: "env:PW"}}
	getenv := func(string) string { return pw }
	for name, err := range map[string]error{
		"Validate":  p.Validate(),
		"NewSender": func() error { _, err := NewSender(context.Background(), p, &Options{Getenv: getenv}); return err }(),
	} {
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "auth.provider" || !errors.Is(err, system.ErrSSPIWindowsOnly) {
			t.Errorf("%s: got %v, want a ConfigError on auth.provider wrapping ErrSSPIWindowsOnly", name, err)
		}
		if err != nil && strings.Contains(err.Error(), pw) {
			t.Errorf("%s: the error shows the password", name)
		}
	}
}
