package authmech

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// An OAuthError is the error a server reported in the JSON challenge of a
// failed XOAUTH2 or OAUTHBEARER exchange (RFC 7628 section 3.2.2). It is
// returned by the client's Err method after the exchange.
type OAuthError struct {
	Mech   string `json:"-"`
	Status string `json:"status"` // e.g. "invalid_token" or an HTTP status such as "401"
	Scope  string `json:"scope,omitempty"`
	// Schemes lists the authentication schemes the server accepts, e.g. "bearer".
	Schemes string `json:"schemes,omitempty"`
	// OpenIDConfiguration is the URL of the OpenID discovery document the
	// server named, if any.
	OpenIDConfiguration string `json:"openid-configuration,omitempty"`
}

func (e *OAuthError) Error() string {
	s := "authmech: " + e.Mech + ": server rejected the token: status " + e.Status
	if e.Scope != "" {
		s += ", scope " + e.Scope
	}
	return s
}

// oauthClient implements XOAUTH2 and OAUTHBEARER (RFC 7628). The token is
// fetched from the TokenSource in Start, so every authentication uses a
// current one. Both are bearer tokens: without TLS they are refused unless
// ServerInfo.AllowPlaintext.
type oauthClient struct {
	redacted
	mech    string
	user    string
	authzid string
	ts      TokenSource
	step    int
	err     error
}

func newXOAUTH2(c Credentials) (Client, error)     { return newOAuth("XOAUTH2", c) }
func newOAUTHBEARER(c Credentials) (Client, error) { return newOAuth("OAUTHBEARER", c) }

func newOAuth(mech string, c Credentials) (Client, error) {
	if c.TokenSource == nil {
		return nil, fmt.Errorf("%w: a TokenSource is required", ErrMissingCredentials)
	}
	if mech == "XOAUTH2" && c.Username == "" {
		return nil, fmt.Errorf("%w: a user name is required", ErrMissingCredentials)
	}
	if strings.ContainsAny(c.Username+c.Authzid, "\x00\x01") {
		return nil, errors.New("authmech: user name or authzid contains a control character")
	}
	return &oauthClient{mech: mech, user: c.Username, authzid: c.Authzid, ts: c.TokenSource}, nil
}

func (c *oauthClient) Start(ctx context.Context, info *ServerInfo) (string, []byte, error) {
	if err := checkOffered(c.mech, info); err != nil {
		return "", nil, err
	}
	if err := checkEncrypted(c.mech, info); err != nil {
		return "", nil, err
	}
	tok, err := c.ts.Token(ctx)
	if err != nil {
		return "", nil, mechErr(c.mech, fmt.Errorf("token source: %w", err))
	}
	if tok == "" || strings.ContainsAny(tok, "\x00\x01\r\n ") {
		return "", nil, mechErr(c.mech, errors.New("token source returned an empty or malformed token"))
	}
	c.step, c.err = 0, nil
	var ir []byte
	if c.mech == "XOAUTH2" {
		ir = make([]byte, 0, 30+len(c.user)+len(tok))
		ir = append(ir, "user="...)
		ir = append(ir, c.user...)
		ir = append(ir, "\x01auth=Bearer "...)
		ir = append(ir, tok...)
		ir = append(ir, "\x01\x01"...)
		return c.mech, ir, nil
	}
	// RFC 7628 section 3.1: gs2-header, then key=value pairs separated by ^A.
	ir = append(ir, "n,"...)
	if a := c.authzid; a != "" || c.user != "" {
		if a == "" {
			a = c.user
		}
		ir = append(ir, "a="...)
		ir = append(ir, scramName(a)...)
	}
	ir = append(ir, ',', 1)
	if info != nil && info.Name != "" {
		ir = append(ir, "host="...)
		ir = append(ir, info.Name...)
		ir = append(ir, 1)
	}
	ir = append(ir, "auth=Bearer "...)
	ir = append(ir, tok...)
	ir = append(ir, 1, 1)
	return c.mech, ir, nil
}

// Next answers the server's error challenge: it decodes the JSON into an
// *OAuthError (reported by Err) and returns the dummy response that lets
// the server finish with its failure reply (RFC 7628 section 3.2.3: ^A for
// OAUTHBEARER; an empty response for XOAUTH2).
func (c *oauthClient) Next(_ context.Context, challenge []byte) ([]byte, error) {
	c.step++
	if c.step > 1 {
		return nil, mechErr(c.mech, errUnexpectedChallenge)
	}
	oe := &OAuthError{Mech: c.mech}
	if err := json.Unmarshal(challenge, oe); err != nil || oe.Status == "" {
		oe.Status = "unknown"
	}
	c.err = oe
	if c.mech == "OAUTHBEARER" {
		return []byte{1}, nil
	}
	return []byte{}, nil
}

// Err returns the *OAuthError from the server's error challenge, or nil.
func (c *oauthClient) Err() error { return c.err }
