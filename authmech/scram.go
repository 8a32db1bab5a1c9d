package authmech

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
)

// MinSCRAMIterations and MaxSCRAMIterations bound the iteration count a
// server may ask for. The minimum is RFC 7677's (section 4: at least 4096):
// a server, or a man in the middle, that asks for 1 would make a recorded
// proof cheap to crack. The maximum stops a hostile server from making the
// client spin for minutes.
const (
	MinSCRAMIterations = 4096
	MaxSCRAMIterations = 1 << 20
)

// ErrSCRAMIterations is wrapped when a SCRAM server asks for an iteration
// count outside MinSCRAMIterations to MaxSCRAMIterations. The client then
// stops before it computes or sends a proof.
var ErrSCRAMIterations = errors.New("authmech: SCRAM iteration count out of range")

// ErrServerSignature is returned by Verify when a SCRAM server did not prove
// that it knows the password (RFC 5802 section 3: the client MUST verify
// the server signature).
var ErrServerSignature = errors.New("authmech: SCRAM server signature missing or wrong: the server did not prove it knows the password")

// scramClient implements SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677)
// without channel binding (gs2 flag "n").
type scramClient struct {
	name  string
	h     func() hash.Hash
	c     Credentials
	rand  io.Reader
	nonce string // client nonce

	step            int
	clientFirstBare string
	serverSignature []byte
	verified        bool
}

func newSCRAMSHA1(c Credentials) (Client, error) { return newSCRAM("SCRAM-SHA-1", sha1.New, c, nil) }
func newSCRAMSHA256(c Credentials) (Client, error) {
	return newSCRAM("SCRAM-SHA-256", sha256.New, c, nil)
}

func newSCRAM(name string, h func() hash.Hash, c Credentials, rnd io.Reader) (*scramClient, error) {
	if c.Username == "" || c.Password == "" {
		return nil, fmt.Errorf("authmech: %s needs a user name and a password", name)
	}
	for f, v := range map[string]string{"user name": c.Username, "authorization identity": c.Authzid} {
		if err := checkNoCRLF(f, v); err != nil {
			return nil, err
		}
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	return &scramClient{name: name, h: h, c: c, rand: rnd}, nil
}

func (s *scramClient) User() string { return s.c.Username }

// saslName escapes ',' and '=' (RFC 5802 section 5.1).
func saslName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func (s *scramClient) gs2Header() string {
	if s.c.Authzid != "" {
		return "n,a=" + saslName(s.c.Authzid) + ","
	}
	return "n,,"
}

func (s *scramClient) Start(_ context.Context, info *ServerInfo) (string, []byte, error) {
	// Without channel binding (this client sends gs2 flag "n") a man in the
	// middle who stripped STARTTLS records the proof, with an iteration
	// count of its choosing, and cracks the password offline.
	if err := info.RefuseInClear(s.name, exposesOffline); err != nil {
		return "", nil, err
	}
	if s.nonce == "" {
		b := make([]byte, 24)
		if _, err := io.ReadFull(s.rand, b); err != nil {
			return "", nil, fmt.Errorf("authmech: %s nonce: %w", s.name, err)
		}
		s.nonce = base64.RawStdEncoding.EncodeToString(b)
	}
	s.step, s.verified, s.serverSignature = 0, false, nil
	s.clientFirstBare = "n=" + saslName(s.c.Username) + ",r=" + s.nonce
	return s.name, []byte(s.gs2Header() + s.clientFirstBare), nil
}

// scramAttrs parses "k=v,k=v"; values may contain '='.
func scramAttrs(msg string) map[byte]string {
	out := map[byte]string{}
	for _, part := range strings.Split(msg, ",") {
		if len(part) >= 2 && part[1] == '=' {
			if _, dup := out[part[0]]; !dup {
				out[part[0]] = part[2:]
			}
		}
	}
	return out
}

func (s *scramClient) hmac(key, msg []byte) []byte {
	m := hmac.New(s.h, key)
	m.Write(msg)
	return m.Sum(nil)
}

func (s *scramClient) Next(_ context.Context, challenge []byte) ([]byte, error) {
	s.step++
	switch s.step {
	case 1:
		return s.clientFinal(string(challenge))
	case 2:
		a := scramAttrs(string(challenge))
		if e, ok := a['e']; ok {
			return nil, fmt.Errorf("authmech: %s: server reported %q", s.name, e)
		}
		v, err := base64.StdEncoding.DecodeString(a['v'])
		if err != nil || len(v) == 0 || !hmac.Equal(v, s.serverSignature) {
			return nil, ErrServerSignature
		}
		s.verified = true
		return []byte{}, nil
	}
	return nil, errUnexpectedChallenge
}

func (s *scramClient) clientFinal(serverFirst string) ([]byte, error) {
	a := scramAttrs(serverFirst)
	if _, ok := a['m']; ok {
		return nil, fmt.Errorf("authmech: %s: server requires an unsupported extension", s.name)
	}
	nonce, saltB64, iterStr := a['r'], a['s'], a['i']
	if !strings.HasPrefix(nonce, s.nonce) || len(nonce) == len(s.nonce) {
		return nil, fmt.Errorf("authmech: %s: server nonce does not extend the client nonce", s.name)
	}
	salt, err := base64.StdEncoding.DecodeString(saltB64)
	if err != nil || len(salt) == 0 {
		return nil, fmt.Errorf("authmech: %s: bad salt from server", s.name)
	}
	iter, err := strconv.Atoi(iterStr)
	if err != nil || iter < MinSCRAMIterations || iter > MaxSCRAMIterations {
		return nil, fmt.Errorf("%w: %s server asked for %q, want %d (RFC 7677) to %d; a low count makes the proof cheap to crack offline",
			ErrSCRAMIterations, s.name, iterStr, MinSCRAMIterations, MaxSCRAMIterations)
	}
	salted, err := pbkdf2.Key(s.h, s.c.Password.Reveal(), salt, iter, s.h().Size())
	if err != nil {
		return nil, fmt.Errorf("authmech: %s: %w", s.name, err)
	}
	clientKey := s.hmac(salted, []byte("Client Key"))
	sum := s.h()
	sum.Write(clientKey)
	storedKey := sum.Sum(nil)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(s.gs2Header())) + ",r=" + nonce
	authMessage := []byte(s.clientFirstBare + "," + serverFirst + "," + withoutProof)
	clientSig := s.hmac(storedKey, authMessage)
	proof := make([]byte, len(clientKey))
	for i := range clientKey {
		proof[i] = clientKey[i] ^ clientSig[i]
	}
	serverKey := s.hmac(salted, []byte("Server Key"))
	s.serverSignature = s.hmac(serverKey, authMessage)
	var out bytes.Buffer
	out.WriteString(withoutProof)
	out.WriteString(",p=")
	out.WriteString(base64.StdEncoding.EncodeToString(proof))
	return out.Bytes(), nil
}

// Verify reports ErrServerSignature unless the server proved it knows the
// password. In SMTP the server-final message arrives as a 334 challenge
// before the 235 (RFC 4954 section 4 has no success-with-data).
func (s *scramClient) Verify() error {
	if !s.verified {
		return ErrServerSignature
	}
	return nil
}
