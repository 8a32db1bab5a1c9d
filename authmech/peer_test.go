package authmech_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden/authmech"
	"mailwarden/internal/peers"
)

// saslAdapter drives an authmech.Client through go-smtp's client, whose
// sasl.Client has no context and no server info.
type saslAdapter struct {
	ctx  context.Context
	c    authmech.Client
	info *authmech.ServerInfo
	mech string
}

func (a *saslAdapter) Start() (string, []byte, error) {
	m, ir, err := a.c.Start(a.ctx, a.info)
	a.mech = m
	return m, ir, err
}

func (a *saslAdapter) Next(ch []byte) ([]byte, error) { return a.c.Next(a.ctx, ch) }

// peerSession dials a real submission server, does STARTTLS with the test
// CA, and returns the client and the ServerInfo learned after TLS.
func peerSession(t *testing.T, addrVar string) (*smtp.Client, *authmech.ServerInfo) {
	t.Helper()
	v := peers.Need(t, addrVar, "MW_TEST_CA")
	pem, err := os.ReadFile(v[1])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := smtp.DialStartTLS(v[0], &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ok, params := c.Extension("AUTH")
	if !ok {
		t.Fatalf("%s offers no AUTH after STARTTLS", addrVar)
	}
	state, _ := c.TLSConnectionState()
	return c, &authmech.ServerInfo{Name: "localhost", TLS: &state, Mechanisms: strings.Fields(strings.ToUpper(params))}
}

// authenticate runs one AUTH and returns the mechanism used and the error
// (the server's reply, joined with the Client's own report).
func authenticate(t *testing.T, c *smtp.Client, info *authmech.ServerInfo, cl authmech.Client) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := &saslAdapter{ctx: ctx, c: cl, info: info}
	err := c.Auth(a)
	if err == nil {
		if v, ok := cl.(authmech.Verifier); ok {
			err = v.Verify()
		}
	} else if d, ok := cl.(authmech.Diagnoser); ok && d.Diagnosis() != nil {
		err = errors.Join(err, d.Diagnosis())
	}
	return a.mech, err
}

// sendAndFind relays a message and waits for it in MW_POSTFIX_MAILDIR.
func sendAndFind(t *testing.T, c *smtp.Client, tag string) {
	t.Helper()
	dir := peers.Get(t, "MW_POSTFIX_MAILDIR")
	var rnd [8]byte
	rand.Read(rnd[:])
	id := fmt.Sprintf("<authmech-%s-%x@mailwarden.test>", tag, rnd)
	if err := c.Mail("sender@mailwarden.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("rcpt@example.org", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "Message-Id: %s\r\nSubject: authmech %s\r\n\r\nbody\r\n", id, tag)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for i := len(files) - 1; i >= 0 && i >= len(files)-200; i-- {
			b, err := os.ReadFile(files[i])
			if err == nil && strings.Contains(string(b), id) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("message %s did not arrive in MW_POSTFIX_MAILDIR", id)
}

func wantAuthFailure(t *testing.T, err error) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 535 {
		t.Fatalf("wrong secret: err = %v, want a 535 reply", err)
	}
}

func testPasswordMechs(t *testing.T, addrVar, user string, mechs []string) {
	v := peers.Need(t, "MW_SASL_USER", "MW_SASL_PASSWORD")
	if user == "" {
		user = v[0]
	}
	reg := authmech.NewRegistry()
	for _, mech := range mechs {
		t.Run(mech, func(t *testing.T) {
			c, info := peerSession(t, addrVar)
			if !info.Offers(mech) && mech != "auto" {
				t.Fatalf("%s does not offer %s: %v", addrVar, mech, info.Mechanisms)
			}
			cl, err := reg.Client(mech, authmech.Credentials{Username: user, Password: authmech.Secret(v[1])})
			if err != nil {
				t.Fatal(err)
			}
			used, err := authenticate(t, c, info, cl)
			if err != nil {
				t.Fatalf("AUTH %s: %v", used, err)
			}
			t.Logf("%s: AUTH %s accepted", addrVar, used)
			sendAndFind(t, c, strings.ToLower(used))

			c2, info2 := peerSession(t, addrVar)
			cl2, _ := reg.Client(mech, authmech.Credentials{Username: user, Password: "wrong-" + authmech.Secret(v[1])})
			_, err = authenticate(t, c2, info2, cl2)
			wantAuthFailure(t, err)
		})
	}
}

var passwordMechs = []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "auto"}

func TestDovecotPasswordMechanisms(t *testing.T) {
	testPasswordMechs(t, "MW_DOVECOT_SUBMISSION", "", passwordMechs)
}

func TestCyrusPasswordMechanisms(t *testing.T) {
	testPasswordMechs(t, "MW_CYRUS_SUBMISSION", "", passwordMechs)
}

// mintJWT makes a token the test Dovecot's oauth2 passdb accepts (HS256
// with the key in MW_OAUTH_JWT_KEY_FILE, an email claim naming the user).
func mintJWT(t *testing.T, user string, ttl time.Duration) string {
	key, err := os.ReadFile(peers.Get(t, "MW_OAUTH_JWT_KEY_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	hdr, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT", "kid": "mailwarden-test"})
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{"sub": user, "email": user, "iat": now - 60, "exp": now + int64(ttl/time.Second)})
	s := enc.EncodeToString(hdr) + "." + enc.EncodeToString(claims)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return s + "." + enc.EncodeToString(m.Sum(nil))
}

func TestDovecotOAuth(t *testing.T) {
	user := peers.Get(t, "MW_OAUTH_USER")
	reg := authmech.NewRegistry()
	for _, mech := range []string{"XOAUTH2", "OAUTHBEARER"} {
		t.Run(mech, func(t *testing.T) {
			c, info := peerSession(t, "MW_DOVECOT_SUBMISSION")
			tok := tokenFunc(func(context.Context) (string, error) { return mintJWT(t, user, time.Hour), nil })
			cl, err := reg.Client(mech, authmech.Credentials{Username: user, Token: tok})
			if err != nil {
				t.Fatal(err)
			}
			if used, err := authenticate(t, c, info, cl); err != nil {
				t.Fatalf("AUTH %s: %v", used, err)
			}
			sendAndFind(t, c, strings.ToLower(mech))

			c2, info2 := peerSession(t, "MW_DOVECOT_SUBMISSION")
			expired := authmech.StaticToken(mintJWT(t, user, -time.Hour))
			cl2, _ := reg.Client(mech, authmech.Credentials{Username: user, Token: expired})
			_, err = authenticate(t, c2, info2, cl2)
			wantAuthFailure(t, err)
			var oe *authmech.OAuthError
			// Dovecot 2.3 answers XOAUTH2 with status "401" and
			// OAUTHBEARER with "invalid_token".
			if !errors.As(err, &oe) || oe.Status != map[string]string{"XOAUTH2": "401", "OAUTHBEARER": "invalid_token"}[mech] {
				t.Fatalf("expired token: err = %v, want an OAuthError with the server's status", err)
			}
			t.Logf("expired token: %v", err)
		})
	}
}

type tokenFunc func(context.Context) (string, error)

func (f tokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }
