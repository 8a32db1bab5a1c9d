package authmech

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

func needPassword(c Credentials) error {
	if !c.hasPassword() {
		return fmt.Errorf("%w: a user name and a password are required", ErrMissingCredentials)
	}
	return nil
}

func checkOffered(mech string, info *ServerInfo) error {
	if info != nil && len(info.Mechanisms) > 0 && !info.Offers(mech) {
		return mechErr(mech, ErrNotOffered)
	}
	return nil
}

func checkEncrypted(mech string, info *ServerInfo) error {
	if !info.Encrypted() && (info == nil || !info.AllowPlaintext) {
		return mechErr(mech, ErrPlaintextRefused)
	}
	return nil
}

// plainClient implements PLAIN (RFC 4616).
type plainClient struct {
	redacted
	user, authzid string
	pass          Secret
	done          bool
}

func newPlain(c Credentials) (Client, error) {
	if err := needPassword(c); err != nil {
		return nil, err
	}
	for _, s := range []string{c.Username, c.Authzid, string(c.Password)} {
		if strings.IndexByte(s, 0) >= 0 {
			return nil, errors.New("authmech: user name, authzid or password contains NUL")
		}
	}
	return &plainClient{user: c.Username, authzid: c.Authzid, pass: c.Password}, nil
}

func (c *plainClient) Start(_ context.Context, info *ServerInfo) (string, []byte, error) {
	if err := checkOffered("PLAIN", info); err != nil {
		return "", nil, err
	}
	if err := checkEncrypted("PLAIN", info); err != nil {
		return "", nil, err
	}
	ir := make([]byte, 0, len(c.authzid)+len(c.user)+len(c.pass)+2)
	ir = append(ir, c.authzid...)
	ir = append(ir, 0)
	ir = append(ir, c.user...)
	ir = append(ir, 0)
	ir = append(ir, c.pass...)
	c.done = true
	return "PLAIN", ir, nil
}

func (c *plainClient) Next(context.Context, []byte) ([]byte, error) {
	return nil, mechErr("PLAIN", errUnexpectedChallenge)
}

var errUnexpectedChallenge = errors.New("authmech: unexpected server challenge")

// loginClient implements LOGIN (draft-murchison-sasl-login-00): the server
// prompts for the user name, then the password. The prompts' text is not
// relied upon; the first challenge gets the user name, the second the
// password.
type loginClient struct {
	redacted
	user string
	pass Secret
	step int
}

func newLogin(c Credentials) (Client, error) {
	if err := needPassword(c); err != nil {
		return nil, err
	}
	return &loginClient{user: c.Username, pass: c.Password}, nil
}

func (c *loginClient) Start(_ context.Context, info *ServerInfo) (string, []byte, error) {
	if err := checkOffered("LOGIN", info); err != nil {
		return "", nil, err
	}
	if err := checkEncrypted("LOGIN", info); err != nil {
		return "", nil, err
	}
	c.step = 0
	return "LOGIN", nil, nil
}

func (c *loginClient) Next(_ context.Context, _ []byte) ([]byte, error) {
	c.step++
	switch c.step {
	case 1:
		return []byte(c.user), nil
	case 2:
		return []byte(c.pass), nil
	}
	return nil, mechErr("LOGIN", errUnexpectedChallenge)
}

// cramClient implements CRAM-MD5 (RFC 2195). It sends no reusable secret,
// so it works without TLS; it does not authenticate the server.
type cramClient struct {
	redacted
	user string
	pass Secret
	step int
}

func newCRAMMD5(c Credentials) (Client, error) {
	if err := needPassword(c); err != nil {
		return nil, err
	}
	return &cramClient{user: c.Username, pass: c.Password}, nil
}

func (c *cramClient) Start(_ context.Context, info *ServerInfo) (string, []byte, error) {
	if err := checkOffered("CRAM-MD5", info); err != nil {
		return "", nil, err
	}
	c.step = 0
	return "CRAM-MD5", nil, nil
}

func (c *cramClient) Next(_ context.Context, challenge []byte) ([]byte, error) {
	c.step++
	if c.step != 1 {
		return nil, mechErr("CRAM-MD5", errUnexpectedChallenge)
	}
	if len(challenge) == 0 {
		return nil, mechErr("CRAM-MD5", errors.New("empty challenge"))
	}
	h := hmac.New(md5.New, []byte(c.pass))
	h.Write(challenge)
	var sum [md5.Size]byte
	resp := make([]byte, 0, len(c.user)+1+2*md5.Size)
	resp = append(resp, c.user...)
	resp = append(resp, ' ')
	return hex.AppendEncode(resp, h.Sum(sum[:0])), nil
}
