package keyref

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The examples of RFC 7512 section 3.3 that name keys and tokens.
func TestParsePKCS11URIRFC7512Examples(t *testing.T) {
	tests := []struct {
		in   string
		want PKCS11URI
	}{
		{"pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=",
			PKCS11URI{Token: "The Software PKCS#11 Softtoken", Manufacturer: "Snake Oil, Inc.", Model: "1.0", Object: "my-certificate", Type: "cert",
				ID: []byte{0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91}, SlotID: -1}},
		{"pkcs11:object=my-sign-key;type=private;token=Sun%20Metaslot?module-name=mypkcs11&pin-source=file:/etc/token_pin",
			PKCS11URI{Token: "Sun Metaslot", Object: "my-sign-key", Type: "private", SlotID: -1, ModuleName: "mypkcs11", PINSource: "file:/etc/token_pin"}},
		{"pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.;object=my-key?module-path=/mnt/libmypkcs11.so.1",
			PKCS11URI{Token: "Software PKCS#11 softtoken", Manufacturer: "Snake Oil, Inc.", Object: "my-key", SlotID: -1, ModulePath: "/mnt/libmypkcs11.so.1"}},
		{"pkcs11:slot-id=2;id=%01", PKCS11URI{SlotID: 2, ID: []byte{1}}},
		{"PKCS11:serial=DECC0401648;object=x;x-vendor=1", PKCS11URI{Serial: "DECC0401648", Object: "x", SlotID: -1}},
	}
	for _, tc := range tests {
		got, err := ParsePKCS11URI(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got.Token != tc.want.Token || got.Manufacturer != tc.want.Manufacturer || got.Model != tc.want.Model ||
			got.Object != tc.want.Object || got.Type != tc.want.Type || !bytes.Equal(got.ID, tc.want.ID) ||
			got.SlotID != tc.want.SlotID || got.Serial != tc.want.Serial || got.PINSource != tc.want.PINSource ||
			got.ModulePath != tc.want.ModulePath || got.ModuleName != tc.want.ModuleName {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.in, *got, tc.want)
		}
		if !IsRef(tc.in) {
			t.Errorf("IsRef(%q) = false", tc.in)
		}
	}
}

func TestParsePKCS11URIRejects(t *testing.T) {
	for _, in := range []string{
		"pkcs11:object=k",                   // no token
		"pkcs11:token=t",                    // no object
		"pkcs11:token=t;objekt=k",           // typo
		"pkcs11:token=t;object=k;object=j",  // twice
		"pkcs11:token=t;object=%zz",         // bad escape
		"pkcs11:token=t;object=k;type=key",  // bad type
		"pkcs11:token=t;slot-id=x;object=k", // bad slot
		"pkcs11:token=t;object=k?colour=red",
		"pkcs11:token=t;object=k;pin-source=/x", // query attribute in the path
		"pkcs11:token=t;object=k\r\nX: y",
		"/etc/key.pem",
	} {
		_, err := ParsePKCS11URI(in)
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: err = %v, want ErrSyntax", in, err)
		}
	}
}

// A PIN written into the reference is refused, and the error does not
// repeat it (it would reach logs and audit records).
func TestPKCS11URIPinValueRefusedNotEchoed(t *testing.T) {
	_, err := ParsePKCS11URI("pkcs11:token=t;object=k?pin-value=s3cret-1234")
	if !errors.Is(err, ErrSyntax) {
		t.Fatalf("err = %v, want ErrSyntax", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error repeats the PIN: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Hint, "pin-source") {
		t.Fatalf("no hint naming pin-source: %v", err)
	}
}

func TestPKCS11URIStringRoundTrip(t *testing.T) {
	u := &PKCS11URI{Token: "my token;1", Object: "a/b?c", ID: []byte{0, 0xff}, SlotID: 3}
	back, err := ParsePKCS11URI(u.String())
	if err != nil {
		t.Fatal(err)
	}
	if back.Token != u.Token || back.Object != u.Object || !bytes.Equal(back.ID, u.ID) || back.SlotID != 3 {
		t.Fatalf("round trip of %s: %+v", u, back)
	}
}

func TestParseCertStoreRef(t *testing.T) {
	r, err := ParseCertStoreRef("certstore:CurrentUser/My?thumbprint=3A:1F:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:01:02")
	if err != nil {
		t.Fatal(err)
	}
	if r.Location != CurrentUser || len(r.Thumbprint) != 20 || r.Thumbprint[0] != 0x3a {
		t.Fatalf("%+v", r)
	}
	r, err = ParseCertStoreRef("certstore:localmachine?subject=alerts@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if r.Location != LocalMachine || r.Store != "My" || r.Subject != "alerts@example.com" {
		t.Fatalf("%+v", r)
	}
	for _, in := range []string{
		"certstore:Somewhere/My?subject=x",
		"certstore:CurrentUser/Root?subject=x",
		"certstore:CurrentUser/My",
		"certstore:CurrentUser/My?thumbprint=12",
		"certstore:CurrentUser/My?subject=x&thumbprint=3a1f00112233445566778899aabbccddeeff0102",
		"certstore:CurrentUser/My?colour=x",
	} {
		if _, err := ParseCertStoreRef(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: err = %v, want ErrSyntax", in, err)
		}
	}
}

func TestLocationString(t *testing.T) {
	slot := uint(1)
	for _, tc := range []struct {
		l    Location
		want string
	}{
		{Location{Kind: "file", Path: "/k.pem"}, "file /k.pem"},
		{Location{Kind: "pkcs11", Token: "mw", Slot: &slot, Object: "smime-rsa", ID: "01"}, `pkcs11 token "mw" slot 1 object "smime-rsa" id 01`},
		{Location{Kind: "certstore", Store: "CurrentUser/My", Subject: "CN=x"}, `windows store CurrentUser/My "CN=x"`},
	} {
		if got := tc.l.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
