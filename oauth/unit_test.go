package oauth

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"mailwarden/internal/testcert"
)

func TestClientAssertionContents(t *testing.T) {
	ca, err := testcert.NewCA("assertion CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(testcert.Options{CommonName: "app", Key: testcert.RSA2048, Purpose: testcert.Client})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1800000000, 0)
	c := &Config{ClientID: "11111111-2222-3333-4444-555555555555", ClientKey: leaf.Key, ClientCert: leaf.Cert, Now: func() time.Time { return now }}
	const aud = "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"
	a, err := c.clientAssertion(aud)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(a, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", a)
	}
	var head map[string]string
	var claims map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(hb, &head) != nil || json.Unmarshal(cb, &claims) != nil {
		t.Fatalf("undecodable header or claims: %s / %s", hb, cb)
	}
	s256 := sha256.Sum256(leaf.Cert.Raw)
	s1 := sha1.Sum(leaf.Cert.Raw)
	if head["alg"] != "RS256" || head["typ"] != "JWT" || head["x5t#S256"] != base64.RawURLEncoding.EncodeToString(s256[:]) ||
		head["x5t"] != base64.RawURLEncoding.EncodeToString(s1[:]) {
		t.Errorf("header %v", head)
	}
	if claims["aud"] != aud || claims["iss"] != c.ClientID || claims["sub"] != c.ClientID || claims["jti"] == "" ||
		claims["iat"] != float64(now.Unix()) || claims["exp"] != float64(now.Add(5*time.Minute).Unix()) {
		t.Errorf("claims %v", claims)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(leaf.Key.Public().(*rsa.PublicKey), crypto.SHA256, sum[:], sig); err != nil {
		t.Errorf("signature: %v", err)
	}
	b, _ := c.clientAssertion(aud)
	if b == a {
		t.Error("two assertions are identical: the jti must be fresh")
	}
}

// RFC 7636 appendix B.
func TestPKCEChallengeVector(t *testing.T) {
	if got := oauth2.S256ChallengeFromVerifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Errorf("challenge %q", got)
	}
	a, b := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	if a == b || len(a) < 43 || len(a) > 128 {
		t.Errorf("verifiers %q %q: must be fresh and 43-128 characters", a, b)
	}
}

func TestConfigValidation(t *testing.T) {
	ca, _ := testcert.NewCA("v CA")
	ec, _ := ca.Issue(testcert.Options{CommonName: "ec", Purpose: testcert.Client})
	base := func(f Flow) Config {
		return Config{Flow: f, ClientID: "id", ClientSecret: "s", TokenURL: "https://login.example/{tenant}/token", Tenant: "t",
			AuthURL: "https://login.example/authorize", DeviceAuthURL: "https://login.example/devicecode",
			CachePath: "/tmp/x", CacheKey: []byte("k")}
	}
	cases := []struct {
		name  string
		mod   func(*Config)
		field string
	}{
		{"ok client credentials", func(c *Config) {}, ""},
		{"ok auth code", func(c *Config) { c.Flow = AuthorizationCode }, ""},
		{"ok device", func(c *Config) { c.Flow = DeviceCode }, ""},
		{"no flow", func(c *Config) { c.Flow = "" }, "flow"},
		{"unknown flow", func(c *Config) { c.Flow = "implicit" }, "flow"},
		{"no client id", func(c *Config) { c.ClientID = "" }, "client_id"},
		{"no token url", func(c *Config) { c.TokenURL = "" }, "token_url"},
		{"tenant template without tenant", func(c *Config) { c.Tenant = "" }, "token_url"},
		{"not a url", func(c *Config) { c.TokenURL = "ftp://x/token" }, "token_url"},
		{"ok plain http to loopback", func(c *Config) { c.TokenURL = "http://127.0.0.1:8080/token" }, ""},
		{"ok plain http to localhost", func(c *Config) { c.Flow, c.AuthURL = AuthorizationCode, "http://localhost:1/authorize" }, ""},
		{"plain http token url sends the secret in clear", func(c *Config) { c.TokenURL = "http://login.example/token" }, "token_url"},
		{"plain http to a lookalike loopback name", func(c *Config) { c.TokenURL = "http://127.0.0.1.attacker.example/token" }, "token_url"},
		{"plain http auth url", func(c *Config) { c.Flow, c.AuthURL = AuthorizationCode, "http://login.example/authorize" }, "auth_url"},
		{"plain http device url", func(c *Config) { c.Flow, c.DeviceAuthURL = DeviceCode, "http://login.example/devicecode" }, "device_auth_url"},
		{"jwt key file names a plain http token_uri", func(c *Config) {
			c.Flow, c.TokenURL = JWTBearer, ""
			c.ServiceAccountJSON = []byte(`{"type":"service_account","client_email":"a@b","private_key":"k","token_uri":"http://oauth2.example/token"}`)
		}, "service_account_file"},
		{"no secret nor cert", func(c *Config) { c.ClientSecret = "" }, "client_secret"},
		{"secret and cert", func(c *Config) { c.ClientKey, c.ClientCert = ec.Key, ec.Cert }, "client_secret"},
		{"cert without key", func(c *Config) { c.ClientSecret, c.ClientCert = "", ec.Cert }, "client_cert"},
		{"ecdsa cert", func(c *Config) { c.ClientSecret, c.ClientKey, c.ClientCert = "", ec.Key, ec.Cert }, "client_key"},
		{"auth code without auth url", func(c *Config) { c.Flow, c.AuthURL = AuthorizationCode, "" }, "auth_url"},
		{"auth code without cache", func(c *Config) { c.Flow, c.CachePath = AuthorizationCode, "" }, "token_cache"},
		{"remote redirect", func(c *Config) { c.Flow, c.RedirectURI = AuthorizationCode, "https://app.example/cb" }, "redirect_uri"},
		{"device without url", func(c *Config) { c.Flow, c.DeviceAuthURL = DeviceCode, "" }, "device_auth_url"},
		{"cache without key", func(c *Config) { c.CacheKey = nil }, "token_cache_key"},
		{"jwt without key file", func(c *Config) { c.Flow = JWTBearer }, "service_account_file"},
		{"jwt with a bad key file", func(c *Config) { c.Flow, c.ServiceAccountJSON = JWTBearer, []byte(`{"type":"authorized_user"}`) }, "service_account_file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base(ClientCredentials)
			tc.mod(&c)
			err := c.validate()
			var ce *ConfigError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field):
				t.Fatalf("got %v, want a *ConfigError for %s", err, tc.field)
			}
		})
	}
}

func TestRedirectURI(t *testing.T) {
	cases := []struct {
		uri          string
		port         int
		wantListen   string
		wantRedirect string
	}{
		{"", 0, "127.0.0.1:0", "http://localhost/"},
		{"http://localhost:8400", 0, "127.0.0.1:8400", "http://localhost:8400/"},
		{"http://localhost:8400/cb", 9000, "127.0.0.1:9000", "http://localhost:8400/cb"},
		{"http://[::1]/", 0, "[::1]:0", "http://[::1]/"},
	}
	for _, tc := range cases {
		c := &Config{RedirectURI: tc.uri}
		u, listen, err := c.redirect(tc.port)
		if err != nil || listen != tc.wantListen || u.String() != tc.wantRedirect {
			t.Errorf("%q port %d: %v %q %v", tc.uri, tc.port, u, listen, err)
		}
	}
}

func TestTokenPrintsWithoutTheToken(t *testing.T) {
	tok := Token{AccessToken: "eyJ-secret-access-token", Expiry: time.Unix(1800000000, 0), Scopes: []string{"a"}, Refreshable: true}
	for _, s := range []string{tok.String(), tok.GoString(), tok.LogValue().String()} {
		if strings.Contains(s, "secret-access") {
			t.Errorf("prints the token: %s", s)
		}
	}
}

func TestConfigPrintsWithoutSecrets(t *testing.T) {
	ca, _ := testcert.NewCA("p CA")
	cc, _ := ca.Issue(testcert.Options{CommonName: "client", Key: testcert.RSA2048, Purpose: testcert.Client})
	c := Config{Flow: ClientCredentials, ClientID: "app-id", ClientSecret: "s3cret-client-value", TokenURL: "https://login.example/token",
		CachePath: "/var/cache/t", CacheKey: []byte("cache-key-value"), ClientKey: cc.Key, ClientCert: cc.Cert,
		ServiceAccountJSON: []byte(`{"private_key":"-----BEGIN PRIVATE KEY-----sa-key-value"}`)}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("cfg", "config", c, "ptr", &c)
	var jsonLogged strings.Builder
	slog.New(slog.NewJSONHandler(&jsonLogged, nil)).Info("cfg", "config", c)
	outs := []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%+v", &c), fmt.Sprintf("%#v", &c),
		logged.String(), jsonLogged.String()}
	d := cc.Key.(*rsa.PrivateKey).D.String()
	cacheKey64 := base64.StdEncoding.EncodeToString(c.CacheKey)
	for _, s := range outs {
		for _, secret := range []string{"s3cret-client-value", "cache-key-value", "sa-key-value", d[:20], cacheKey64[:12]} {
			if strings.Contains(s, secret) {
				t.Errorf("printed a secret (%.12s...): %s", secret, s)
			}
		}
		if !strings.Contains(s, "app-id") {
			t.Errorf("the description lost the client ID: %s", s)
		}
	}
}
