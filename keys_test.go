package mailwarden

import (
	"context"
	"errors"
	"strings"
	"testing"

	"mailwarden/keyref"
)

func TestPINSourceRef(t *testing.T) {
	for in, want := range map[string]SecretRef{
		"/etc/mailwarden/pin":        "file:/etc/mailwarden/pin",
		"./pin":                      "file:./pin",
		"file:/etc/mailwarden/pin":   "file:/etc/mailwarden/pin",
		"file:///etc/mailwarden/pin": "file:/etc/mailwarden/pin",
		"env:TOKEN_PIN":              "env:TOKEN_PIN",
		"vault:hsm/pin":              "vault:hsm/pin",
	} {
		if got := pinSourceRef(in); got != want {
			t.Errorf("pinSourceRef(%q) = %q, want %q", in, got, want)
		}
	}
}

// The profile's module wins over MAILWARDEN_PKCS11_MODULE, which wins over
// the URI's module-path; the profile's PIN over the URI's pin-source.
func TestKeyOptionsPrecedence(t *testing.T) {
	env := map[string]string{ModuleEnv: "/env/lib.so", "P1": "1111", "P2": "2222"}
	getenv := func(k string) string { return env[k] }
	ref := "pkcs11:token=t;object=k?module-path=/uri/lib.so&pin-source=env:P2"
	for _, tc := range []struct {
		p11              PKCS11Config
		env              bool
		wantMod, wantPIN string
	}{
		{PKCS11Config{Module: "/profile/lib.so", PIN: "env:P1"}, true, "/profile/lib.so", "1111"},
		{PKCS11Config{}, true, "/env/lib.so", "2222"},
		{PKCS11Config{}, false, "", "2222"}, // keyref falls back to module-path
	} {
		ge := getenv
		if !tc.env {
			ge = func(k string) string {
				if k == ModuleEnv {
					return ""
				}
				return env[k]
			}
		}
		opt, err := keyOptions(context.Background(), Profile{PKCS11: tc.p11}, ge, nil, "smime.sign_key", ref)
		if err != nil || opt.Module != tc.wantMod || opt.PIN != tc.wantPIN {
			t.Errorf("%+v: module %q PIN %q err %v; want %q %q", tc.p11, opt.Module, opt.PIN, err, tc.wantMod, tc.wantPIN)
		}
	}
}

func TestClientKeyOnTokenNeedsNoCertFile(t *testing.T) {
	p := Profile{Name: "t", Servers: []string{"127.0.0.1:25"}, ClientKeyFile: "pkcs11:token=t;object=k"}
	if _, err := resolvePlan(p); err != nil {
		t.Fatalf("a token client key without a certificate file: %v", err)
	}
	// A certificate on the token with the key in a file is refused.
	p = Profile{Name: "t", Servers: []string{"127.0.0.1:25"}, SMIME: SMIMEConfig{SignCert: "pkcs11:token=t;object=k;type=cert", SignKey: "testdata/certs/signer-rsa.key"}}
	_, err := NewSender(context.Background(), p, nil)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "smime.sign_cert" {
		t.Fatalf("err = %v, want a ConfigError for smime.sign_cert", err)
	}
	// A pin-value in the reference is refused without echoing the PIN.
	p = Profile{Name: "t", Servers: []string{"127.0.0.1:25"}, SMIME: SMIMEConfig{SignKey: "pkcs11:token=t;object=k?pin-value=98765"}}
	_, err = NewSender(context.Background(), p, nil)
	if !errors.Is(err, keyref.ErrSyntax) || !errors.As(err, &ce) || ce.Field != "smime.sign_key" {
		t.Fatalf("pin-value: err = %v, want keyref.ErrSyntax in a ConfigError for smime.sign_key", err)
	}
	if strings.Contains(err.Error(), "98765") {
		t.Fatalf("the error repeats the PIN: %v", err)
	}
}
