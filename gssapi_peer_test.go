package mailwarden

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"mailwarden/internal/peers"
	"mailwarden/transport"
)

// TestGSSAPIAgainstDovecotAndMITKerberos authenticates with Kerberos to
// the real Dovecot submission server, with tickets from the real MIT KDC:
// with a password, a keytab, an existing credential cache (kinit), and
// through auto; a wrong password fails without leaking it.
func TestGSSAPIAgainstDovecotAndMITKerberos(t *testing.T) {
	v := peers.Need(t, "MW_DOVECOT_SUBMISSION", "MW_KRB5_CONF", "MW_KRB5_USER_PRINCIPAL", "MW_KRB5_USER_PASSWORD",
		"MW_KRB5_USER_KEYTAB", "MW_KRB5_SPN_HOST", "MW_TEST_CA", "MW_POSTFIX_MAILDIR")
	_, port, _ := strings.Cut(v[0], ":")
	server := v[5] + ":" + port + "-starttls" // the SPN is smtp/<this host>
	base := Profile{Name: "kerberos", Servers: []string{server}, CAFile: v[6]}
	env := map[string]string{"KRB5_PW": v[3], "KRB5_CONFIG": v[1]}
	getenv := func(k string) string { return env[k] }

	ccache, kinitOK := peers.TryKinit(t, v[1], v[4], v[2])
	cases := []struct {
		name string
		auth Auth
	}{
		{"password", Auth{Mechanism: "GSSAPI", Username: v[2], Password: "env:KRB5_PW", Krb5Conf: v[1]}},
		{"keytab", Auth{Mechanism: "KERBEROS", Username: v[2], Keytab: v[4], Krb5Conf: v[1]}},
		{"auto picks GSSAPI", Auth{Mechanism: "auto", Username: v[2], Keytab: v[4], Krb5Conf: v[1]}},
	}
	if kinitOK {
		cases = append(cases, struct {
			name string
			auth Auth
		}{"credential cache from kinit", Auth{Mechanism: "GSSAPI", CCache: ccache, Krb5Conf: v[1]}})
	} else if os.Getenv(peers.RequireEnv) == "1" {
		t.Error("kinit (krb5-user) is not installed")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := base
			p.Auth = c.auth
			tag, err := sendVia(t, p, getenv)
			if err != nil {
				t.Fatalf("%v", err)
			}
			got := findDelivered(t, v[7], tag)
			if !strings.Contains(string(got), tag) {
				t.Error("delivered message lacks its subject")
			}
			s, err := NewSender(context.Background(), p, &Options{Getenv: getenv})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			rep, err := s.Probe(context.Background())
			if err != nil || rep.Servers[0].Info.AuthMechanism != "GSSAPI" {
				t.Errorf("probe: %v, mechanism %q, want GSSAPI", err, rep.Servers[0].Info.AuthMechanism)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		const wrong = "Wrong-Kerberos-Passw0rd"
		p := base
		p.Auth = Auth{Mechanism: "GSSAPI", Username: v[2], Password: "env:KRB5_BAD", Krb5Conf: v[1]}
		env["KRB5_BAD"] = wrong
		_, err := sendVia(t, p, getenv)
		if err == nil {
			t.Fatal("a wrong Kerberos password was accepted")
		}
		if transport.Classify(err) != transport.ClassAuth {
			t.Errorf("class %v for %v, want an authentication failure", transport.Classify(err), err)
		}
		if s := fmt.Sprintf("%v %+v", err, err); strings.Contains(s, wrong) {
			t.Errorf("the password leaked: %s", s)
		}
		var te *transport.Error
		if !errors.As(err, &te) || te.Stage != transport.StageAuth {
			t.Errorf("want an AUTH-stage error, got %v", err)
		}
	})
}
