package authmech

import (
	"context"
	"errors"
	"strings"
)

// errUnexpectedChallenge is returned by mechanisms that expect no (more)
// challenges.
var errUnexpectedChallenge = errors.New("authmech: unexpected server challenge")

func checkNoCRLF(field, v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return errors.New("authmech: " + field + " contains a CR, LF or NUL")
	}
	return nil
}

// plainClient implements PLAIN (RFC 4616).
type plainClient struct{ c Credentials }

func newPlain(c Credentials) (Client, error) {
	if c.Username == "" || c.Password == "" {
		return nil, errors.New("authmech: PLAIN needs a user name and a password")
	}
	for f, v := range map[string]string{"user name": c.Username, "authorization identity": c.Authzid} {
		if err := checkNoCRLF(f, v); err != nil {
			return nil, err
		}
	}
	if strings.ContainsRune(c.Password.Reveal(), 0) {
		return nil, errors.New("authmech: PLAIN cannot carry a password containing NUL")
	}
	return &plainClient{c: c}, nil
}

func (p *plainClient) User() string { return p.c.Username }

func (p *plainClient) Start(_ context.Context, info *ServerInfo) (string, []byte, error) {
	if err := info.RefuseInClear("PLAIN", exposesPassword); err != nil {
		return "", nil, err
	}
	// message = [authzid] UTF8NUL authcid UTF8NUL passwd (RFC 4616 section 2)
	ir := []byte(p.c.Authzid + "\x00" + p.c.Username + "\x00" + p.c.Password.Reveal())
	return "PLAIN", ir, nil
}

func (p *plainClient) Next(context.Context, []byte) ([]byte, error) {
	return nil, errUnexpectedChallenge
}

// loginClient implements LOGIN (draft-murchison-sasl-login): the server
// asks for the user name, then the password. The prompts' text varies
// between servers ("Username:", "User Name", "VXNlcm5hbWU6" decoded), so
// the answer follows the order, not the prompt.
type loginClient struct {
	c    Credentials
	step int
}

func newLogin(c Credentials) (Client, error) {
	if c.Username == "" || c.Password == "" {
		return nil, errors.New("authmech: LOGIN needs a user name and a password")
	}
	if err := checkNoCRLF("user name", c.Username); err != nil {
		return nil, err
	}
	return &loginClient{c: c}, nil
}

func (l *loginClient) User() string { return l.c.Username }

func (l *loginClient) Start(_ context.Context, info *ServerInfo) (string, []byte, error) {
	if err := info.RefuseInClear("LOGIN", exposesPassword); err != nil {
		return "", nil, err
	}
	l.step = 0
	return "LOGIN", nil, nil
}

func (l *loginClient) Next(_ context.Context, challenge []byte) ([]byte, error) {
	l.step++
	switch l.step {
	case 1:
		return []byte(l.c.Username), nil
	case 2:
		return []byte(l.c.Password.Reveal()), nil
	}
	return nil, errUnexpectedChallenge
}
