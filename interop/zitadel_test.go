package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The clients registered with the provider. The service user "sid1" (secret
// "verysecret") is built into the example storage for client credentials.
const (
	nativeClientID  = "mailwarden-native" // public client: authorization code + PKCE, refresh
	tvClientID      = "mailwarden-tv"     // public client: device code, refresh
	deviceClientID  = "mailwarden-device" // confidential client: device code, refresh
	certClientID    = "mailwarden-cert"   // client credentials with a certificate assertion
	deviceSecret    = "device-secret-4711"
	serviceClientID = "sid1"
	serviceSecret   = "verysecret"
	// scopeSend is a custom scope the clients are allowed to request, as
	// an SMTP server's resource scope would be.
	scopeSend = "smtp.send"
	// The example storage's user and password.
	userPassword = "verysecure"
)

// provider is a running zitadel OpenID Provider.
type provider struct {
	issuer string
	disc   *oidc.DiscoveryConfiguration
	user   string // the login name of the example user
	rec    *recorder
}

// clientWrap adjusts an example client: JWT access tokens (so the test can
// check them against the JWKS), the custom scope, and extra grant types.
type clientWrap struct {
	op.Client
	grants []oidc.GrantType
}

func (c clientWrap) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c clientWrap) IsScopeAllowed(s string) bool {
	return s == scopeSend || c.Client.IsScopeAllowed(s)
}
func (c clientWrap) GrantTypes() []oidc.GrantType {
	if c.grants != nil {
		return c.grants
	}
	return c.Client.GrantTypes()
}

// opStorage is the example storage with its clients wrapped.
type opStorage struct {
	*storage.Storage
	grants map[string][]oidc.GrantType
}

func (s *opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return clientWrap{Client: c, grants: s.grants[id]}, nil
}

// GetPrivateClaimsFromScopes adds the scopes zitadel granted to JWT access
// tokens as the "scope" claim of RFC 9068, so the tests can check them.
func (s *opStorage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	claims, err := s.Storage.GetPrivateClaimsFromScopes(ctx, userID, clientID, scopes)
	if err != nil {
		return nil, err
	}
	if claims == nil {
		claims = map[string]any{}
	}
	claims["scope"] = strings.Join(scopes, " ")
	return claims, nil
}

func (s *opStorage) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	c, err := s.Storage.ClientCredentials(ctx, id, secret)
	if err != nil {
		return nil, err
	}
	return clientWrap{Client: c}, nil
}

// recorder keeps every token endpoint request form and reply body, so the
// tests can see which refresh token the client sent and which it received.
type recorder struct {
	path string
	mu   sync.Mutex
	ex   []exchange
}

type exchange struct {
	form  url.Values
	reply map[string]any
}

func (r *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != r.path || req.Method != http.MethodPost {
			next.ServeHTTP(w, req)
			return
		}
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		rw := httptest.NewRecorder()
		next.ServeHTTP(rw, req)
		var reply map[string]any
		json.Unmarshal(rw.Body.Bytes(), &reply)
		r.mu.Lock()
		r.ex = append(r.ex, exchange{form: form, reply: reply})
		r.mu.Unlock()
		for k, v := range rw.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rw.Code)
		w.Write(rw.Body.Bytes())
	})
}

// last returns the last exchange with the given grant_type.
func (r *recorder) last(t *testing.T, grant string) exchange {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.ex) - 1; i >= 0; i-- {
		if r.ex[i].form.Get("grant_type") == grant {
			return r.ex[i]
		}
	}
	t.Fatalf("the token endpoint saw no %s request", grant)
	return exchange{}
}

// nth returns the i-th exchange, counting from the end when i < 0.
func (r *recorder) nth(i int) exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i < 0 {
		i += len(r.ex)
	}
	return r.ex[i]
}

// count returns how many token requests of the given grant_type were made.
func (r *recorder) count(grant string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.ex {
		if e.form.Get("grant_type") == grant {
			n++
		}
	}
	return n
}

// startProvider runs zitadel's example OpenID Provider on 127.0.0.1 with
// an http issuer (op.WithAllowInsecure, which the example server sets).
// With server false the op.Provider handles requests itself; with server
// true they go through op.Server (op.NewLegacyServer), zitadel's newer
// request routing, whose client authentication differs in places.
func startProvider(t *testing.T, server bool) *provider {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String() + "/"
	clients := map[string]*storage.Client{
		nativeClientID: storage.NativeClient(nativeClientID, "http://127.0.0.1/"),
		tvClientID:     storage.NativeClient(tvClientID, "http://127.0.0.1/"),
		deviceClientID: storage.DeviceClient(deviceClientID, deviceSecret),
	}
	st := &opStorage{
		Storage: storage.NewStorageWithClients(storage.NewUserStore(issuer), clients),
		// The example device client may only use the device grant; ours
		// also refreshes, as the oauth package lives on the refresh token.
		grants: map[string][]oidc.GrantType{
			deviceClientID: {oidc.GrantTypeDeviceCode, oidc.GrantTypeRefreshToken},
			tvClientID:     {oidc.GrantTypeDeviceCode, oidc.GrantTypeRefreshToken},
		},
	}
	router := exampleop.SetupServer(issuer, st, nil, server)
	rec := &recorder{path: "/oauth/token"}
	srv.Config.Handler = rec.wrap(router)
	srv.Start()
	t.Cleanup(srv.Close)

	ctx := t.Context()
	disc, err := client.Discover(ctx, issuer, srv.Client())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if u, _ := url.Parse(disc.TokenEndpoint); u == nil || u.Path != rec.path {
		t.Fatalf("token endpoint %q, the recorder watches %q", disc.TokenEndpoint, rec.path)
	}
	iu, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	// NewUserStore names its user after the issuer's host.
	return &provider{issuer: disc.Issuer, disc: disc, rec: rec, user: "test-user@" + iu.Hostname()}
}

// verify checks an access token's signature against the provider's JWKS,
// its issuer and expiry, with zitadel's own access token verifier.
func (p *provider) verify(t *testing.T, token string) *oidc.AccessTokenClaims {
	t.Helper()
	ks := rp.NewRemoteKeySet(http.DefaultClient, p.disc.JwksURI)
	v := op.NewAccessTokenVerifier(p.issuer, ks)
	claims, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](t.Context(), token, v)
	if err != nil {
		t.Fatalf("the access token does not verify against the provider's JWKS: %v", err)
	}
	return claims
}

// browser is a user agent with cookies that follows redirects.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// keyStorage hands zitadel's JWT profile verifier the client's public key.
type keyStorage struct {
	clientID string
	key      *rsa.PublicKey
}

func (k keyStorage) GetKeyByIDAndClientID(_ context.Context, _, clientID string) (*jose.JSONWebKey, error) {
	if clientID != k.clientID {
		return nil, errors.New("unknown client")
	}
	return &jose.JSONWebKey{Key: k.key, Use: "sig", Algorithm: string(jose.RS256)}, nil
}

// clientCert returns an RSA key and a self-signed certificate for it, as
// a certificate assertion uses.
func clientCert(t *testing.T) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: certClientID},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}
