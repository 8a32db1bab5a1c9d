//go:build cgo

package mailwarden

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mailwarden/internal/oauthtest"
	"mailwarden/internal/peers"
	"mailwarden/keyref"
	"mailwarden/smime"
)

// These tests share the process-wide key pool, as a real process does.
// The login-counting test comes first: it loads the token's library
// through OpenSC's pkcs11-spy, which cannot initialise a library the
// process already initialised under its own name (PKCS#11 initialises a
// library once per process); its failed logins release the library again.

type tokenEnv struct{ module, pinFile, rsa, ec, spy string }

func needTokenEnv(t testing.TB) tokenEnv {
	t.Helper()
	v := peers.Need(t, "MW_PKCS11_MODULE", "MW_PKCS11_PIN_FILE", "MW_PKCS11_RSA", "MW_PKCS11_EC", "MW_PKCS11_SPY", "MW_SOFTHSM2_CONF")
	os.Setenv("SOFTHSM2_CONF", v[5])
	return tokenEnv{v[0], v[1], v[2], v[3], v[4]}
}

// TestWrongPINNotRetriedAcrossSenders: an outbox or a retry loop builds
// its Sender again; the PIN the token rejected is not presented again, so
// the card does not lock. pkcs11-spy logs every call; C_Login appears once.
func TestWrongPINNotRetriedAcrossSenders(t *testing.T) {
	h := needTokenEnv(t)
	log := filepath.Join(t.TempDir(), "spy.log")
	t.Setenv("PKCS11SPY", h.module)
	t.Setenv("PKCS11SPY_OUTPUT", log)
	wrong := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(wrong, []byte("not-the-pin\n"), 0o600)
	p := Profile{Name: "token", Servers: []string{"127.0.0.1:25"}, TLS: "none",
		PKCS11: PKCS11Config{Module: h.spy, PIN: SecretRef("file:" + wrong)},
		SMIME:  SMIMEConfig{SignKey: h.rsa}}
	for i := 0; i < 3; i++ {
		_, err := NewSender(context.Background(), p, nil)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "smime.sign_key" || !errors.Is(err, keyref.ErrPIN) {
			t.Fatalf("attempt %d: err = %v, want a ConfigError for smime.sign_key wrapping keyref.ErrPIN", i, err)
		}
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "C_Login\n"); n != 1 {
		t.Fatalf("C_Login logged %d times for three senders with one wrong PIN, want 1", n)
	}
}

// TestTokenKeySignsAndDecrypts: a profile signing with the token's RSA key
// and encrypting to itself writes a message that smime.Open decrypts with
// the same token key (RSA key transport through crypto.Decrypter) and
// whose signature verifies against the test CA.
func TestTokenKeySignsAndDecrypts(t *testing.T) {
	h := needTokenEnv(t)
	ca := peers.Get(t, "MW_TEST_CA")
	p11 := PKCS11Config{Module: h.module, PIN: SecretRef("file:" + h.pinFile)}
	c := SMIMEConfig{SignKey: h.rsa, EncryptCerts: []string{"testdata/certs/recipient-rsa.pem"}, EncryptToSelf: true}
	wrap, err := SMIMEWrapKeys(context.Background(), c, p11, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var msg bytes.Buffer
	msg.WriteString("From: alerts@example.com\r\nTo: a@example.org\r\nSubject: token\r\nMIME-Version: 1.0\r\n")
	wc, err := wrap(&msg)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(wc, "Content-Type: text/plain\r\n\r\nsealed by the token\r\n")
	if err := wc.Close(); err != nil {
		t.Fatal(err)
	}
	k, err := keyPool().Open(h.rsa, keyref.Options{Module: h.module, PIN: mustRead(t, h.pinFile)})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if err := appendCAFile(roots, ca); err != nil {
		t.Fatal(err)
	}
	got, err := smime.Open(&msg, smime.OpenOptions{Roots: roots, Identity: &smime.Identity{Cert: k.Cert, Key: k.Signer}})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Encrypted || len(got.Signers) != 1 || !got.Signers[0].Equal(k.Cert) || !bytes.Contains(got.Entity, []byte("sealed by the token")) {
		t.Fatalf("opened: encrypted %v, signers %d, entity %q", got.Encrypted, len(got.Signers), got.Entity)
	}
}

// TestOAuthAssertionSignedByTokenKey: the client certificate assertion
// (RS256) is signed by the RSA key on the token, the certificate (whose
// thumbprint the assertion names) read from the token; the identity
// provider, which knows only that certificate, issues a token.
func TestOAuthAssertionSignedByTokenKey(t *testing.T) {
	h := needTokenEnv(t)
	k, err := keyPool().Open(h.rsa, keyref.Options{Module: h.module, PIN: mustRead(t, h.pinFile)})
	if err != nil {
		t.Fatal(err)
	}
	srv := oauthtest.New(t, oauthtest.Options{ClientCert: k.Cert})
	p := Profile{Name: "app", Servers: []string{"127.0.0.1:1"},
		PKCS11: PKCS11Config{PIN: SecretRef("file:" + h.pinFile)},
		Auth: Auth{Mechanism: "XOAUTH2", Username: "alerts@example.com", OAuth: OAuth{Flow: "client_credentials", ClientID: srv.ClientID(),
			ClientKeyFile: h.rsa, TokenURL: srv.URL + "/tenant/token", Scopes: []string{"https://outlook.office365.com/.default"}}}}
	opts := &Options{Getenv: func(k string) string { return map[string]string{ModuleEnv: h.module}[k] }}
	tok, err := OAuthToken(context.Background(), p, opts, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if f := srv.LastForm(); f.Get("client_assertion") == "" || f.Get("client_secret") != "" {
		t.Fatalf("form %v: want a client assertion", f)
	}
	// The probe lists the assertion key with where it lives.
	s, err := NewSender(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var found bool
	for _, k := range s.keys {
		if k.use == "oauth-assertion" && k.loc.Kind == "pkcs11" && k.loc.Object == "smime-rsa" {
			found = k.probe().Err == nil
		}
	}
	if !found {
		t.Fatalf("no working oauth-assertion key among %+v", s.keys)
	}
}

func mustRead(t testing.TB, f string) string {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// BenchmarkSignTokenVsFile signs a 2 KB and a 10 MB message with the same
// RSA-2048 and P-256 keys from a PEM file and from the SoftHSM token. The
// body is hashed in the process; only the 32-byte digest of the signed
// attributes goes to the token, so the token's cost is per message, not
// per byte. Run: go test -run '^$' -bench SignTokenVsFile -benchtime 20x .
func BenchmarkSignTokenVsFile(b *testing.B) {
	h := needTokenEnv(b)
	pin := mustRead(b, h.pinFile)
	for _, kt := range []struct{ name, ref, file string }{
		{"rsa2048", h.rsa, "signer-rsa"},
		{"p256", h.ec, "signer-ecdsa"},
	} {
		fileID, err := smime.LoadPEMFiles("testdata/certs/"+kt.file+".pem", "testdata/certs/"+kt.file+".key")
		if err != nil {
			b.Fatal(err)
		}
		k, err := keyPool().Open(kt.ref, keyref.Options{Module: h.module, PIN: pin})
		if err != nil {
			b.Fatal(err)
		}
		tokenID := &smime.Identity{Cert: k.Cert, Key: k.Signer}
		for _, size := range []int{2 << 10, 10 << 20} {
			line := []byte("2026-12-06T02:00:00Z host=db1 disk=/var used=97% status=CRITICAL\r\n")
			body := bytes.Repeat(line, size/len(line)+1)[:size]
			for _, src := range []struct {
				name string
				id   *smime.Identity
			}{{"file", fileID}, {"token", tokenID}} {
				s, err := smime.NewSigner(smime.SignConfig{Identity: src.id})
				if err != nil {
					b.Fatal(err)
				}
				b.Run(kt.name+"/"+sizeName(size)+"/"+src.name, func(b *testing.B) {
					b.SetBytes(int64(size))
					for b.Loop() {
						wc, err := s.Wrap(io.Discard)
						if err != nil {
							b.Fatal(err)
						}
						io.WriteString(wc, "Content-Type: text/plain\r\n\r\n")
						wc.Write(body)
						if err := wc.Close(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return strconv.Itoa(n>>20) + "MB"
	}
	return strconv.Itoa(n>>10) + "KB"
}
