package system

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"mailwarden/authmech"
)

func TestSplitAccount(t *testing.T) {
	for _, c := range []struct{ in, domain, user string }{
		{`CORP\svc`, "CORP", "svc"},
		{"svc@corp.example", "corp.example", "svc"},
		{"svc@x@corp.example", "corp.example", "svc@x"},
		{"svc", "", "svc"},
		{"@corp", "", "@corp"},
	} {
		if d, u := splitAccount(c.in); d != c.domain || u != c.user {
			t.Errorf("%q: %q %q, want %q %q", c.in, d, u, c.domain, c.user)
		}
	}
}

// TestNewSSPIRefuses: the mechanisms, the credentials and the platform
// NewSSPI refuses, each with its error and without the password.
func TestNewSSPIRefuses(t *testing.T) {
	creds := authmech.Credentials{Username: `CORP\svc`, Password: "never-shown"}
	for _, c := range []struct {
		name string
		c    authmech.Credentials
		mech string
		want error
	}{
		{"plain", creds, "PLAIN", ErrSSPIMechanism},
		{"system", creds, Name, ErrSSPIMechanism},
		{"no user", authmech.Credentials{Password: "never-shown"}, "NTLM", ErrSSPICredentials},
		{"no password", authmech.Credentials{Username: "svc"}, "GSSAPI", ErrSSPICredentials},
	} {
		_, err := NewSSPI(c.c, c.mech)
		if !errors.Is(err, c.want) || strings.Contains(err.Error(), "never-shown") {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	withKeytab := creds
	withKeytab.Kerberos.Keytab = "/etc/krb5.keytab"
	if _, err := NewSSPI(withKeytab, "GSSAPI"); err == nil {
		t.Error("a keytab was accepted")
	}
	_, err := NewSSPI(creds, authmech.Auto)
	if runtime.GOOS != "windows" && !errors.Is(err, ErrSSPIWindowsOnly) {
		t.Errorf("got %v, want ErrSSPIWindowsOnly", err)
	}
	if runtime.GOOS == "windows" && err != nil {
		t.Errorf("got %v, want a client", err)
	}
}

func TestExplicitHint(t *testing.T) {
	e := &Error{Op: "context", Package: "NTLM", Explicit: true, Msg: "NTLM challenge", Err: errors.New("winapi error")}
	if h := e.Hint(); !strings.Contains(h, "user name") || !strings.Contains(h, "password") {
		t.Errorf("hint %q does not point at the user and password", h)
	}
	e = &Error{Op: "offer", Explicit: true, Err: authmech.ErrNotOffered}
	if h := e.Hint(); !strings.Contains(h, "neither GSSAPI nor NTLM") {
		t.Errorf("offer hint %q", h)
	}
}
