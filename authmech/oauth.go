package authmech

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// An OAuthError is the JSON error a server sends in its challenge when an
// XOAUTH2 or OAUTHBEARER token is refused (RFC 7628 section 3.2.2), for
// example {"status":"invalid_token","scope":"https://mail.google.com/"}.
// The transport reports it, wrapped, with the server's final reply.
type OAuthError struct {
	Mechanism           string
	Status              string `json:"status"`
	Scope               string `json:"scope"`
	OpenIDConfiguration string `json:"openid-configuration"`
	Raw                 string `json:"-"`
}

func (e *OAuthError) Error() string {
	msg := fmt.Sprintf("authmech: %s: server refused the token", e.Mechanism)
	if e.Status != "" {
		msg += ": status " + e.Status
	}
	if e.Scope != "" {
		msg += ", scope needed " + e.Scope
	}
	return msg
}

// A Diagnoser is a Client that, after a failed exchange, can say why in
// more detail than the server's reply (the decoded OAuth error challenge).
// The transport wraps Diagnosis into its authentication error.
type Diagnoser interface {
	Diagnosis() error
}

// oauthClient implements XOAUTH2 (Google's and Microsoft's format) and
// OAUTHBEARER (RFC 7628).
type oauthClient struct {
	bearer bool // OAUTHBEARER
	c      Credentials
	failed error
	step   int
}

func newXOAUTH2(c Credentials) (Client, error)     { return newOAuth(false, c) }
func newOAUTHBEARER(c Credentials) (Client, error) { return newOAuth(true, c) }

func newOAuth(bearer bool, c Credentials) (Client, error) {
	name := "XOAUTH2"
	if bearer {
		name = "OAUTHBEARER"
	}
	if c.Token == nil || c.Username == "" {
		return nil, fmt.Errorf("authmech: %s needs a user name and a token source", name)
	}
	for f, v := range map[string]string{"user name": c.Username, "authorization identity": c.Authzid} {
		if err := checkNoCRLF(f, v); err != nil {
			return nil, err
		}
		if strings.ContainsRune(v, '\x01') {
			return nil, fmt.Errorf("authmech: %s: %s contains ^A", name, f)
		}
	}
	return &oauthClient{bearer: bearer, c: c}, nil
}

func (o *oauthClient) name() string {
	if o.bearer {
		return "OAUTHBEARER"
	}
	return "XOAUTH2"
}

func (o *oauthClient) User() string { return o.c.Username }

func (o *oauthClient) Start(ctx context.Context, info *ServerInfo) (string, []byte, error) {
	if err := info.RefuseInClear(o.name(), exposesBearer); err != nil {
		return "", nil, err
	}
	tok, err := o.c.Token.Token(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("authmech: %s: getting a token: %w", o.name(), err)
	}
	if tok == "" || strings.ContainsAny(tok, "\x01\r\n ") {
		return "", nil, fmt.Errorf("authmech: %s: the token source returned an empty or malformed token", o.name())
	}
	o.step, o.failed = 0, nil
	if o.bearer {
		// gs2-header "n,a=authzid," then kvpairs (RFC 7628 section 3.1).
		authz := o.c.Authzid
		if authz == "" {
			authz = o.c.Username
		}
		return "OAUTHBEARER", []byte("n,a=" + saslName(authz) + ",\x01auth=Bearer " + tok + "\x01\x01"), nil
	}
	return "XOAUTH2", []byte("user=" + o.c.Username + "\x01auth=Bearer " + tok + "\x01\x01"), nil
}

// Next answers the server's error challenge: the JSON is decoded into an
// OAuthError (kept for Diagnosis) and the exchange is finished as the
// mechanism requires, with %x01 for OAUTHBEARER (RFC 7628 section 3.2.3)
// and an empty response for XOAUTH2, so that the server sends its final
// failure reply.
func (o *oauthClient) Next(_ context.Context, challenge []byte) ([]byte, error) {
	o.step++
	if o.step > 1 {
		return nil, errUnexpectedChallenge
	}
	e := &OAuthError{Mechanism: o.name(), Raw: string(challenge)}
	if err := json.Unmarshal(challenge, e); err != nil {
		e.Status = "unparsable error challenge"
	}
	o.failed = e
	if o.bearer {
		return []byte{0x01}, nil
	}
	return []byte{}, nil
}

// Diagnosis returns the decoded error challenge, or nil.
func (o *oauthClient) Diagnosis() error { return o.failed }

var _ Diagnoser = (*oauthClient)(nil)

// errNoneSatisfiable is wrapped when auto finds nothing to use.
var errNoneSatisfiable = errors.New("no offered mechanism can be used with these credentials")
