package authmech

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
)

// cramClient implements CRAM-MD5 (RFC 2195). The password never crosses
// the wire, but a recorded exchange can be attacked offline (one HMAC-MD5
// per guess), so it refuses a connection without TLS like PLAIN does.
type cramClient struct {
	c    Credentials
	done bool
}

func newCRAMMD5(c Credentials) (Client, error) {
	if c.Username == "" || c.Password == "" {
		return nil, errors.New("authmech: CRAM-MD5 needs a user name and a password")
	}
	if err := checkNoCRLF("user name", c.Username); err != nil {
		return nil, err
	}
	return &cramClient{c: c}, nil
}

func (m *cramClient) User() string { return m.c.Username }

func (m *cramClient) Start(_ context.Context, info *ServerInfo) (string, []byte, error) {
	if err := info.RefuseInClear("CRAM-MD5", exposesOffline); err != nil {
		return "", nil, err
	}
	m.done = false
	return "CRAM-MD5", nil, nil
}

func (m *cramClient) Next(_ context.Context, challenge []byte) ([]byte, error) {
	if m.done {
		return nil, errUnexpectedChallenge
	}
	m.done = true
	h := hmac.New(md5.New, []byte(m.c.Password.Reveal()))
	h.Write(challenge)
	return []byte(m.c.Username + " " + hex.EncodeToString(h.Sum(nil))), nil
}
