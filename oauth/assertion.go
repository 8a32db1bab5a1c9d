package oauth

import (
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"
)

// ClientAssertionType is the client_assertion_type of a certificate
// assertion (RFC 7523 section 2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime is how long a client assertion is valid.
const assertionLifetime = 5 * time.Minute

// clientAssertion returns the signed JWT that authenticates the client by
// its certificate, in the form Entra ID documents: RS256, the
// certificate's SHA-256 (x5t#S256) and SHA-1 (x5t) thumbprints in the
// header, aud the token endpoint, iss and sub the client ID, a random jti
// and a short expiry.
func (c *Config) clientAssertion(tokenURL string) (string, error) {
	der := c.ClientCert.Raw
	s256 := sha256.Sum256(der)
	s1 := sha1.Sum(der)
	header := map[string]string{
		"alg":      "RS256",
		"typ":      "JWT",
		"x5t#S256": base64.RawURLEncoding.EncodeToString(s256[:]),
		"x5t":      base64.RawURLEncoding.EncodeToString(s1[:]),
	}
	jti := make([]byte, 16)
	rand.Read(jti)
	now := c.now()
	claims := map[string]any{
		"aud": tokenURL,
		"iss": c.ClientID,
		"sub": c.ClientID,
		"jti": hex.EncodeToString(jti),
		"nbf": now.Unix(),
		"iat": now.Unix(),
		"exp": now.Add(assertionLifetime).Unix(),
	}
	return signJWT(c.ClientKey, header, claims)
}

func signJWT(key crypto.Signer, header map[string]string, claims map[string]any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	cl, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(cl)
	sum := sha256.Sum256([]byte(input))
	sig, err := key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// serviceAccount is the part of a Google service-account key file that
// the JWT bearer grant needs.
type serviceAccount struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`
}

func parseServiceAccount(b []byte) (*serviceAccount, error) {
	var sa serviceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		return nil, errors.New("not a service-account key file (JSON): " + err.Error())
	}
	if sa.Type != "service_account" {
		return nil, errors.New(`not a service-account key file: "type" is not "service_account"`)
	}
	if sa.ClientEmail == "" || sa.PrivateKey == "" {
		return nil, errors.New("the service-account key file lacks client_email or private_key")
	}
	return &sa, nil
}
