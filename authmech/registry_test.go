package authmech

import (
	"context"
	"errors"
	"testing"
)

func TestAliases(t *testing.T) {
	r := NewRegistry()
	for name, want := range map[string]string{
		"USER_PASSWORD": "LOGIN", "AuthLoginMethod": "LOGIN", "login": "LOGIN",
		"SASLPLAIN": "PLAIN", "LoginPlainMethod": "PLAIN", "Plain": "PLAIN",
		"CRAMMD5": "CRAM-MD5", "CramMD5Method": "CRAM-MD5", "cram-md5": "CRAM-MD5",
		"scram-sha-256": "SCRAM-SHA-256", "SCRAM-SHA-1": "SCRAM-SHA-1",
		"xoauth2": "XOAUTH2", "OAuthBearer": "OAUTHBEARER",
		"NoLoginMethod": None, "anonymous": None, "none": None, "Auto": Auto, "AUTO": Auto,
	} {
		if got, ok := r.Canonical(name); !ok || got != want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	// KERBEROS names GSSAPI, which only authmech/gssapi registers.
	if got, ok := r.Canonical("kerberos"); ok || got != "GSSAPI" {
		t.Errorf("Canonical(kerberos) = %q, %v; want GSSAPI, false", got, ok)
	}
	if _, err := r.Client("KERBEROS", Credentials{}); !errors.Is(err, ErrUnknownMechanism) {
		t.Errorf("KERBEROS without gssapi.Register: %v", err)
	}
	if c, err := r.Client("NoLoginMethod", Credentials{}); c != nil || err != nil {
		t.Errorf("none = %v, %v; want nil, nil", c, err)
	}
	if _, err := r.Client("DIGEST-MD5", Credentials{}); !errors.Is(err, ErrUnknownMechanism) {
		t.Errorf("DIGEST-MD5: %v", err)
	}
	if _, err := r.Client("PLAIN", Credentials{Username: "u"}); !errors.Is(err, ErrMissingCredentials) {
		t.Errorf("PLAIN without password: %v", err)
	}
	if _, err := r.Client("XOAUTH2", Credentials{Username: "u", Password: "p"}); !errors.Is(err, ErrMissingCredentials) {
		t.Errorf("XOAUTH2 without token: %v", err)
	}
	for _, bad := range []string{"PLAIN", "sasLPLAIN", "auto", "none", "", "A B"} {
		if err := r.Register(bad, newPlain); err == nil {
			t.Errorf("Register(%q) succeeded", bad)
		}
	}
	if err := r.Alias("PLAIN", "login"); err == nil {
		t.Error("alias shadowing a mechanism accepted")
	}
	if a, b := NewRegistry(), NewRegistry(); a.Register("X-TEST", newPlain) != nil || len(b.Mechanisms()) == len(a.Mechanisms()) {
		t.Error("registries share state")
	}
}

func TestAuto(t *testing.T) {
	r := NewRegistry()
	creds := Credentials{Username: "u", Password: "p"}
	enc := tlsInfo.TLS
	for _, tc := range []struct {
		offered []string
		tls     bool
		allow   bool
		want    string
	}{
		{[]string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"}, true, false, "SCRAM-SHA-256"},
		{[]string{"PLAIN", "SCRAM-SHA-1", "CRAM-MD5"}, true, false, "SCRAM-SHA-1"},
		{[]string{"LOGIN", "PLAIN", "CRAM-MD5"}, false, false, "CRAM-MD5"},
		{[]string{"LOGIN", "PLAIN"}, true, false, "PLAIN"},
		{[]string{"LOGIN"}, true, false, "LOGIN"},
		{[]string{"LOGIN", "PLAIN"}, false, true, "PLAIN"},
		{[]string{"LOGIN", "PLAIN"}, false, false, ""},              // refused: plaintext
		{[]string{"GSSAPI", "XOAUTH2", "PLAIN-X"}, true, false, ""}, // nothing usable
	} {
		info := &ServerInfo{Mechanisms: tc.offered, AllowPlaintext: tc.allow}
		if tc.tls {
			info.TLS = enc
		}
		c, err := r.Client("auto", creds)
		if err != nil {
			t.Fatal(err)
		}
		mech, _, err := c.Start(context.Background(), info)
		if tc.want == "" {
			if !errors.Is(err, ErrNotOffered) {
				t.Errorf("%v tls=%v: err = %v, want ErrNotOffered", tc.offered, tc.tls, err)
			}
			if !tc.tls && !errors.Is(err, ErrPlaintextRefused) {
				t.Errorf("%v: err = %v does not say plaintext was refused", tc.offered, err)
			}
			continue
		}
		if err != nil || mech != tc.want || c.(*AutoClient).Chosen() != tc.want {
			t.Errorf("%v tls=%v: Start = %q, %v; want %q", tc.offered, tc.tls, mech, err, tc.want)
		}
	}
}
