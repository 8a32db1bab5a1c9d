package ntlm_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden/authmech"
	"mailwarden/authmech/ntlm"
	"mailwarden/internal/peers"
)

type saslAdapter struct {
	ctx  context.Context
	c    authmech.Client
	info *authmech.ServerInfo
}

func (a *saslAdapter) Start() (string, []byte, error) { return a.c.Start(a.ctx, a.info) }
func (a *saslAdapter) Next(ch []byte) ([]byte, error) { return a.c.Next(a.ctx, ch) }

func cyrus(t *testing.T) (*smtp.Client, *authmech.ServerInfo) {
	v := peers.Need(t, "MW_CYRUS_SUBMISSION", "MW_TEST_CA")
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
	_, params := c.Extension("AUTH")
	state, _ := c.TLSConnectionState()
	return c, &authmech.ServerInfo{Name: "localhost", TLS: &state, Mechanisms: strings.Fields(strings.ToUpper(params))}
}

func auth(t *testing.T, name string, creds authmech.Credentials) (*smtp.Client, authmech.Client, error) {
	reg := authmech.NewRegistry()
	if err := ntlm.Register(reg); err != nil {
		t.Fatal(err)
	}
	c, info := cyrus(t)
	if !info.Offers("NTLM") {
		t.Fatalf("Cyrus does not offer NTLM: %v", info.Mechanisms)
	}
	cl, err := reg.Client(name, creds)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c, cl, c.Auth(&saslAdapter{ctx, cl, info})
}

// Cyrus SASL's ntlm plugin checks the NTLMv2 response against the sasldb
// password (it ignores the MIC and the channel binding, which Windows
// servers check; the unit tests verify both).
func TestCyrusNTLM(t *testing.T) {
	v := peers.Need(t, "MW_SASL_USER", "MW_SASL_PASSWORD", "MW_SASL_DOMAIN", "MW_POSTFIX_MAILDIR")
	for _, user := range []string{v[2] + `\` + v[0], v[0] + "@" + v[2]} {
		t.Run(user, func(t *testing.T) {
			c, _, err := auth(t, "NTLM", authmech.Credentials{Username: user, Password: authmech.Secret(v[1])})
			if err != nil {
				t.Fatalf("AUTH NTLM as %s: %v", user, err)
			}
			id := fmt.Sprintf("<ntlm-%d@mailwarden.test>", time.Now().UnixNano())
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
			fmt.Fprintf(w, "Message-Id: %s\r\nSubject: ntlm\r\n\r\nbody\r\n", id)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				files, _ := filepath.Glob(filepath.Join(v[3], "*"))
				for i := len(files) - 1; i >= 0 && i >= len(files)-200; i-- {
					if b, err := os.ReadFile(files[i]); err == nil && strings.Contains(string(b), id) {
						return
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("message %s did not arrive", id)
				}
			}
		})
	}
	t.Run("wrong-password", func(t *testing.T) {
		_, _, err := auth(t, "NTLM", authmech.Credentials{Username: v[0], Password: "wrong", Domain: v[2]})
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 535 {
			t.Fatalf("err = %v, want 535", err)
		}
	})
}
