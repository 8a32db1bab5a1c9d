package authmech

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// ErrServerSignature is returned by a SCRAM client's Next or Verify when the
// server did not prove that it knows the password: its final message lacks
// the signature, carries a wrong one, or the server answered 235 before
// sending it.
var ErrServerSignature = errors.New("authmech: server did not prove knowledge of the password")

// scramMaxIterations bounds the PBKDF2 work a hostile server can demand.
const scramMaxIterations = 1 << 20

// scramClient implements SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677)
// without channel binding (gs2 flag "n").
type scramClient struct {
	redacted
	mech      string
	h         func() hash.Hash
	user      string
	authzid   string
	pass      Secret
	nonce     string // client nonce; set by tests, else random
	step      int
	gs2       string
	first     string // client-first-message-bare
	serverSig []byte
	verified  bool
}

func newSCRAMSHA1(c Credentials) (Client, error)   { return newSCRAM("SCRAM-SHA-1", sha1.New, c) }
func newSCRAMSHA256(c Credentials) (Client, error) { return newSCRAM("SCRAM-SHA-256", sha256.New, c) }

func newSCRAM(mech string, h func() hash.Hash, c Credentials) (Client, error) {
	if err := needPassword(c); err != nil {
		return nil, err
	}
	return &scramClient{mech: mech, h: h, user: c.Username, authzid: c.Authzid, pass: c.Password}, nil
}

// scramName escapes a user name for a SCRAM attribute (RFC 5802 5.1).
func scramName(s string) string {
	if !strings.ContainsAny(s, "=,") {
		return s
	}
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func (c *scramClient) Start(_ context.Context, info *ServerInfo) (string, []byte, error) {
	if err := checkOffered(c.mech, info); err != nil {
		return "", nil, err
	}
	if c.nonce == "" {
		var b [24]byte
		rand.Read(b[:])
		c.nonce = base64.RawStdEncoding.EncodeToString(b[:])
	}
	c.step, c.verified, c.serverSig = 0, false, nil
	c.gs2 = "n,"
	if c.authzid != "" {
		c.gs2 += "a=" + scramName(c.authzid)
	}
	c.gs2 += ","
	c.first = "n=" + scramName(c.user) + ",r=" + c.nonce
	return c.mech, []byte(c.gs2 + c.first), nil
}

func (c *scramClient) fail(format string, a ...any) error {
	return mechErr(c.mech, fmt.Errorf(format, a...))
}

func (c *scramClient) Next(_ context.Context, challenge []byte) ([]byte, error) {
	c.step++
	switch c.step {
	case 1:
		return c.final(challenge)
	case 2:
		// server-final-message: v=signature or e=error.
		msg := string(challenge)
		if e, ok := strings.CutPrefix(msg, "e="); ok {
			return nil, c.fail("server error %q", truncate(e, 64))
		}
		v, ok := strings.CutPrefix(msg, "v=")
		if !ok {
			return nil, mechErr(c.mech, ErrServerSignature)
		}
		if i := strings.IndexByte(v, ','); i >= 0 {
			v = v[:i]
		}
		got, err := base64.StdEncoding.DecodeString(v)
		if err != nil || subtle.ConstantTimeCompare(got, c.serverSig) != 1 {
			return nil, mechErr(c.mech, ErrServerSignature)
		}
		c.verified = true
		return []byte{}, nil
	}
	return nil, mechErr(c.mech, errUnexpectedChallenge)
}

func (c *scramClient) final(challenge []byte) ([]byte, error) {
	var nonce, salt64, iters string
	for _, kv := range strings.Split(string(challenge), ",") {
		switch {
		case strings.HasPrefix(kv, "r="):
			nonce = kv[2:]
		case strings.HasPrefix(kv, "s="):
			salt64 = kv[2:]
		case strings.HasPrefix(kv, "i="):
			iters = kv[2:]
		case strings.HasPrefix(kv, "m="):
			return nil, c.fail("server requires an unsupported extension")
		case strings.HasPrefix(kv, "e="):
			return nil, c.fail("server error %q", truncate(kv[2:], 64))
		}
	}
	if !strings.HasPrefix(nonce, c.nonce) || len(nonce) == len(c.nonce) {
		return nil, c.fail("server nonce does not extend the client nonce")
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil || len(salt) == 0 {
		return nil, c.fail("bad salt in server-first-message")
	}
	n, err := strconv.Atoi(iters)
	if err != nil || n < 1 || n > scramMaxIterations {
		return nil, c.fail("bad iteration count %q", truncate(iters, 16))
	}
	salted, err := pbkdf2.Key(c.h, string(c.pass), salt, n, c.h().Size())
	if err != nil {
		return nil, c.fail("pbkdf2 failed")
	}
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(c.gs2)) + ",r=" + nonce
	authMsg := c.first + "," + string(challenge) + "," + withoutProof

	clientKey := c.hmac(salted, "Client Key")
	hs := c.h()
	hs.Write(clientKey)
	storedKey := hs.Sum(nil)
	clientSig := c.hmac(storedKey, authMsg)
	for i := range clientKey {
		clientKey[i] ^= clientSig[i]
	}
	c.serverSig = c.hmac(c.hmac(salted, "Server Key"), authMsg)

	var b bytes.Buffer
	b.WriteString(withoutProof)
	b.WriteString(",p=")
	b.WriteString(base64.StdEncoding.EncodeToString(clientKey))
	return b.Bytes(), nil
}

func (c *scramClient) hmac(key []byte, msg string) []byte {
	m := hmac.New(c.h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Verify reports ErrServerSignature unless the server's final message
// carried the right signature. Some servers (Dovecot among them) put it in
// the 235 reply's additional data, which SMTP cannot carry, and send it as
// a last 334 challenge instead; either way Next has checked it.
func (c *scramClient) Verify() error {
	if !c.verified {
		return mechErr(c.mech, ErrServerSignature)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}
