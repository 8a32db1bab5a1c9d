package mailwarden

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailwarden/authmech/system"
	"mailwarden/internal/peers"
	"mailwarden/transport"
)

// TestSystemAuthAgainstDovecotAndMITKerberos authenticates with mechanism
// system — the process's own Kerberos credentials, nothing in the profile —
// to the real Dovecot submission server with tickets from the real MIT
// KDC: from the credential cache KRB5CCNAME names, from the client keytab
// KRB5_CLIENT_KTNAME names when there is no ticket, and, with neither, it
// fails as an authentication error with a hint. The process environment
// is what the mechanism reads, so the test sets it (not in parallel).
func TestSystemAuthAgainstDovecotAndMITKerberos(t *testing.T) {
	v := peers.Need(t, "MW_DOVECOT_SUBMISSION", "MW_KRB5_CONF", "MW_KRB5_USER_PRINCIPAL",
		"MW_KRB5_USER_KEYTAB", "MW_KRB5_SPN_HOST", "MW_TEST_CA", "MW_POSTFIX_MAILDIR")
	_, port, _ := strings.Cut(v[0], ":")
	server := v[4] + ":" + port + "-starttls"
	base := Profile{Name: "system", Servers: []string{server}, CAFile: v[5]}
	t.Setenv("KRB5_CONFIG", v[1])
	dir := t.TempDir()
	ccache, kinitOK := peers.TryKinit(t, v[1], v[3], v[2])
	missing := "FILE:" + filepath.Join(dir, "no-such-ccache")

	cases := []struct {
		name, mech, ccname, ktname string
		needKinit                  bool
	}{
		{"credential cache (KRB5CCNAME)", "system", "FILE:" + ccache, "", true},
		{"client keytab (KRB5_CLIENT_KTNAME)", "Windows integrated", missing, v[3], false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.needKinit && !kinitOK {
				t.Skip("no kinit")
			}
			t.Setenv("KRB5CCNAME", c.ccname)
			t.Setenv("KRB5_CLIENT_KTNAME", c.ktname)
			p := base
			p.Auth = Auth{Mechanism: c.mech}
			in := sendAndProbe(t, p, v[6])
			if in.AuthMechanism != "GSSAPI" || !strings.HasPrefix(in.AuthUser, v[2]+" ") || !strings.Contains(in.AuthUser, "Kerberos") {
				t.Errorf("probe: mechanism %q as %q, want GSSAPI as %s with the package named", in.AuthMechanism, in.AuthUser, v[2])
			}
		})
	}
	t.Run("no ticket and no keytab", func(t *testing.T) {
		t.Setenv("KRB5CCNAME", missing)
		t.Setenv("KRB5_CLIENT_KTNAME", "")
		p := base
		p.Auth = Auth{Mechanism: "System"}
		_, err := sendVia(t, p, os.Getenv)
		if err == nil {
			t.Fatal("sent without credentials")
		}
		if !errors.Is(err, system.ErrNoCredentials) || Classify(err) != ClassAuth {
			t.Errorf("got %v (class %v), want ErrNoCredentials, an authentication failure", err, Classify(err))
		}
		if h := Hint(err); !strings.Contains(h, "kinit") || !strings.Contains(h, "KRB5_CLIENT_KTNAME") {
			t.Errorf("hint %q does not say how to get a ticket", h)
		}
		if !strings.Contains(err.Error(), strings.TrimPrefix(missing, "FILE:")) {
			t.Errorf("%v does not name the cache it looked at", err)
		}
	})
}

// TestSystemMechanismTakesNoSecret: a profile with mechanism system and a
// user or password is a configuration error naming the field; the admin
// names map to it.
func TestSystemMechanismTakesNoSecret(t *testing.T) {
	for _, a := range []Auth{
		{Mechanism: "system", Username: "svc"},
		{Mechanism: "Windows integrated", Password: "env:PW"},
	} {
		p := Profile{Name: "x", Servers: []string{"relay.example.com:587"}, Auth: a}
		_, err := NewSender(context.Background(), p, &Options{Getenv: func(string) string { return "pw" }})
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.HasPrefix(ce.Field, "auth.") || !strings.Contains(err.Error(), "system") {
			t.Errorf("%+v: got %v, want a ConfigError on the auth field", a, err)
		}
	}
	for _, name := range []string{"system", "System", "Windows integrated", "WINDOWS INTEGRATED"} {
		if canon, err := planMechanism(Auth{Mechanism: name}); err != nil || canon != system.Name {
			t.Errorf("%q: %q, %v; want %s", name, canon, err, system.Name)
		}
	}
}

// TestSystemAuthAgainstCyrusGSSAPI: mechanism system with the process's
// credential cache authenticates to the real Postfix with Cyrus SASL's
// GSSAPI plugin (MIT Kerberos acceptor, the KDC's service key), which
// offers NTLM too: system picks GSSAPI, the message is delivered, and the
// probe names the principal.
func TestSystemAuthAgainstCyrusGSSAPI(t *testing.T) {
	v := peers.Need(t, "MW_CYRUS_SUBMISSION", "MW_KRB5_CONF", "MW_KRB5_USER_PRINCIPAL",
		"MW_KRB5_USER_KEYTAB", "MW_KRB5_SPN_HOST", "MW_TEST_CA", "MW_POSTFIX_MAILDIR")
	ccache := peers.Kinit(t, v[1], v[3], v[2])
	t.Setenv("KRB5_CONFIG", v[1])
	t.Setenv("KRB5CCNAME", "FILE:"+ccache)
	t.Setenv("KRB5_CLIENT_KTNAME", "")
	_, port, _ := strings.Cut(v[0], ":")
	p := Profile{Name: "cyrus-system", Servers: []string{v[4] + ":" + port + "-starttls"}, CAFile: v[5], Auth: Auth{Mechanism: "system"}}
	in := sendAndProbe(t, p, v[6])
	if in.AuthMechanism != "GSSAPI" || !strings.HasPrefix(in.AuthUser, v[2]+" ") {
		t.Errorf("probe: mechanism %q as %q, want GSSAPI as %s", in.AuthMechanism, in.AuthUser, v[2])
	}
}

// sendAndProbe sends a test message through p (failing the test with the
// error's hint), waits for it in maildir, then probes p and returns the
// first server's report for the caller's checks of the authentication.
func sendAndProbe(t *testing.T, p Profile, maildir string) transport.ConnInfo {
	t.Helper()
	tag, err := sendVia(t, p, os.Getenv)
	if err != nil {
		t.Fatalf("%v (hint: %s)", err, Hint(err))
	}
	if got := findDelivered(t, maildir, tag); !strings.Contains(string(got), tag) {
		t.Error("delivered message lacks its subject")
	}
	s, err := NewSender(context.Background(), p, &Options{Getenv: os.Getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Probe(context.Background())
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	return rep.Servers[0].Info
}
