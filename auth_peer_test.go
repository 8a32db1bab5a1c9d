package mailwarden

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"mailwarden/authmech"
	"mailwarden/internal/peers"
	"mailwarden/transport"
)

// mintJWT makes the HS256 token the test Dovecot's oauth2 passdb accepts
// (testenv/README.md): kid mailwarden-test, sub and email the user.
func mintJWT(t *testing.T, keyFile, user string, ttl time.Duration) string {
	t.Helper()
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now()
	iat := now
	if ttl < 0 {
		iat = now.Add(2 * ttl)
	}
	head := enc(map[string]string{"alg": "HS256", "typ": "JWT", "kid": "mailwarden-test"})
	claims := enc(map[string]any{"sub": user, "email": user, "iat": iat.Unix(), "exp": now.Add(ttl).Unix()})
	m := hmac.New(sha256.New, key)
	m.Write([]byte(head + "." + claims))
	return head + "." + claims + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func uniqueTag(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	return strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + "-" + hex.EncodeToString(b)
}

// findDelivered waits for a delivered file containing tag.
func findDelivered(t *testing.T, maildir, tag string) []byte {
	t.Helper()
	_, b := peers.Delivered(t, maildir, tag)
	return b
}

func sendVia(t *testing.T, p Profile, getenv func(string) string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := NewSender(ctx, p, &Options{Getenv: getenv})
	if err != nil {
		return "", err
	}
	defer s.Close()
	tag := uniqueTag(t)
	msg := "From: a@example.com\r\nTo: b@example.com\r\nSubject: " + tag + "\r\n\r\nauthenticated with " + p.Auth.Mechanism + "\r\n"
	_, err = s.SendRaw(ctx, "a@example.com", []string{"b@example.com"}, strings.NewReader(msg))
	return tag, err
}

func TestAuthMechanismsAgainstRealServers(t *testing.T) {
	v := peers.Need(t, "MW_DOVECOT_SUBMISSION", "MW_DOVECOT_SUBMISSIONS", "MW_CYRUS_SUBMISSION", "MW_SASL_USER", "MW_SASL_PASSWORD", "MW_TEST_CA", "MW_POSTFIX_MAILDIR")
	dovecot, dovecotTLS, cyrus, user, ca, maildir := v[0]+"-starttls", v[1]+"-ssl", v[2]+"-starttls", v[3], v[5], v[6]
	getenv := os.Getenv
	servers := []struct {
		name, addr string
		mechs      []string
	}{
		{"dovecot", dovecot, []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "auto"}},
		{"dovecot-implicit-tls", dovecotTLS, []string{"SCRAM-SHA-256", "PLAIN"}},
		{"cyrus", cyrus, []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "NTLM", "auto"}},
	}
	for _, srv := range servers {
		for _, mech := range srv.mechs {
			t.Run(srv.name+"/"+mech, func(t *testing.T) {
				p := Profile{Name: "peer", Servers: []string{srv.addr}, CAFile: ca,
					Auth: Auth{Mechanism: mech, Username: user, Password: "env:MW_SASL_PASSWORD"}}
				if mech == "NTLM" {
					p.Auth.Username = os.Getenv("MW_SASL_DOMAIN") + `\` + user
				}
				tag, err := sendVia(t, p, getenv)
				if err != nil {
					t.Fatalf("right password: %v", err)
				}
				got := findDelivered(t, maildir, tag)
				if !strings.Contains(string(got), "authenticated with "+mech) {
					t.Errorf("delivered message lacks its body: %q", got)
				}

				const wrong = "Wr0ng-pa55word-for-the-test"
				wrongEnv := func(k string) string {
					if k == "MW_SASL_PASSWORD" {
						return wrong
					}
					return os.Getenv(k)
				}
				_, err = sendVia(t, p, wrongEnv)
				if transport.Classify(err) != transport.ClassAuth {
					t.Fatalf("wrong password: %v (class %v), want an authentication failure", err, transport.Classify(err))
				}
				var te *transport.Error
				if !errors.As(err, &te) || te.Code != 535 {
					t.Errorf("wrong password: want the server's 535, got %v", err)
				}
				if strings.Contains(fmt.Sprintf("%v %+v", err, err), wrong) {
					t.Errorf("the error reveals the password: %v", err)
				}
			})
		}
	}
}

func TestOAuthAgainstDovecot(t *testing.T) {
	v := peers.Need(t, "MW_DOVECOT_SUBMISSION", "MW_OAUTH_JWT_KEY_FILE", "MW_OAUTH_USER", "MW_TEST_CA", "MW_POSTFIX_MAILDIR")
	for _, mech := range []string{"XOAUTH2", "OAUTHBEARER"} {
		t.Run(mech, func(t *testing.T) {
			good := mintJWT(t, v[1], v[2], 10*time.Minute)
			expired := mintJWT(t, v[1], v[2], -10*time.Minute)
			env := map[string]string{"TOKEN": good}
			getenv := func(k string) string { return env[k] }
			p := Profile{Name: "oauth", Servers: []string{v[0] + "-starttls"}, CAFile: v[3],
				Auth: Auth{Mechanism: mech, Username: v[2], OAuthToken: "env:TOKEN"}}
			tag, err := sendVia(t, p, getenv)
			if err != nil {
				t.Fatalf("valid token: %v", err)
			}
			findDelivered(t, v[4], tag)

			env["TOKEN"] = expired
			_, err = sendVia(t, p, getenv)
			if transport.Classify(err) != transport.ClassAuth {
				t.Fatalf("expired token: %v (class %v)", err, transport.Classify(err))
			}
			if strings.Contains(err.Error(), expired) || strings.Contains(err.Error(), expired[len(expired)-20:]) {
				t.Errorf("the error reveals the token: %v", err)
			}
			var oe *authmech.OAuthError
			if !errors.As(err, &oe) || oe.Mechanism != mech {
				t.Errorf("the decoded OAuth error challenge is not attached: %v", err)
			}
		})
	}
}
