package gssapi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden/authmech"
	"mailwarden/authmech/gssapi"
	"mailwarden/internal/peers"
)

type saslAdapter struct {
	ctx  context.Context
	c    authmech.Client
	info *authmech.ServerInfo
}

func (a *saslAdapter) Start() (string, []byte, error) { return a.c.Start(a.ctx, a.info) }
func (a *saslAdapter) Next(ch []byte) ([]byte, error) { return a.c.Next(a.ctx, ch) }

func dovecot(t *testing.T) (*smtp.Client, *authmech.ServerInfo) {
	v := peers.Need(t, "MW_DOVECOT_SUBMISSION", "MW_TEST_CA", "MW_KRB5_SPN_HOST")
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
	return c, &authmech.ServerInfo{Name: v[2], TLS: &state, Mechanisms: strings.Fields(strings.ToUpper(params))}
}

func run(t *testing.T, name string, creds authmech.Credentials) (string, error) {
	t.Helper()
	reg := authmech.NewRegistry()
	if err := gssapi.Register(reg); err != nil {
		t.Fatal(err)
	}
	c, info := dovecot(t)
	cl, err := reg.Client(name, creds)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Auth(&saslAdapter{ctx, cl, info}); err != nil {
		return "", err
	}
	if err := cl.(authmech.Verifier).Verify(); err != nil {
		return "", err
	}
	mech := gssapi.Name
	if a, ok := cl.(*authmech.AutoClient); ok {
		mech = a.Chosen()
	}
	id := fmt.Sprintf("<gssapi-%d@mailwarden.test>", time.Now().UnixNano())
	if err := c.Mail("sender@mailwarden.test", nil); err != nil {
		return mech, err
	}
	if err := c.Rcpt("rcpt@example.org", nil); err != nil {
		return mech, err
	}
	w, err := c.Data()
	if err != nil {
		return mech, err
	}
	fmt.Fprintf(w, "Message-Id: %s\r\nSubject: gssapi\r\n\r\nbody\r\n", id)
	if err := w.Close(); err != nil {
		return mech, err
	}
	dir := peers.Get(t, "MW_POSTFIX_MAILDIR")
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for i := len(files) - 1; i >= 0 && i >= len(files)-200; i-- {
			if b, err := os.ReadFile(files[i]); err == nil && strings.Contains(string(b), id) {
				return mech, nil
			}
		}
	}
	return mech, fmt.Errorf("message %s did not arrive", id)
}

func TestDovecotGSSAPI(t *testing.T) {
	v := peers.Need(t, "MW_KRB5_CONF", "MW_KRB5_USER_PRINCIPAL", "MW_KRB5_USER_PASSWORD", "MW_KRB5_USER_KEYTAB")
	conf, princ, pass, kt := v[0], v[1], v[2], v[3]
	t.Run("password", func(t *testing.T) {
		if _, err := run(t, "KERBEROS", authmech.Credentials{Username: princ, Password: authmech.Secret(pass), Kerberos: authmech.Kerberos{Config: conf}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("keytab", func(t *testing.T) {
		if _, err := run(t, "GSSAPI", authmech.Credentials{Username: princ, Kerberos: authmech.Kerberos{Config: conf, Keytab: kt}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("auto", func(t *testing.T) {
		mech, err := run(t, "auto", authmech.Credentials{Username: princ, Kerberos: authmech.Kerberos{Config: conf, Keytab: kt}})
		if err != nil || mech != "GSSAPI" {
			t.Fatalf("auto chose %q: %v", mech, err)
		}
	})
	t.Run("ccache", func(t *testing.T) {
		kinit, err := exec.LookPath("kinit")
		if err != nil {
			t.Skip("kinit not installed")
		}
		cc := filepath.Join(t.TempDir(), "ccache")
		cmd := exec.Command(kinit, "-k", "-t", kt, "-c", "FILE:"+cc, princ)
		cmd.Env = append(os.Environ(), "KRB5_CONFIG="+conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kinit: %v: %s", err, out)
		}
		t.Setenv("KRB5CCNAME", "FILE:"+cc)
		if _, err := run(t, "gssapi", authmech.Credentials{Kerberos: authmech.Kerberos{Config: conf}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong-password", func(t *testing.T) {
		_, err := run(t, "GSSAPI", authmech.Credentials{Username: princ, Password: "wrong-" + authmech.Secret(pass), Kerberos: authmech.Kerberos{Config: conf}})
		var me *authmech.MechanismError
		if !errors.As(err, &me) || me.Mech != "GSSAPI" {
			t.Fatalf("err = %v, want a GSSAPI MechanismError from the KDC", err)
		}
		if strings.Contains(err.Error(), pass) {
			t.Fatal("error reveals the password")
		}
		t.Logf("wrong password: %v", err)
	})
	t.Run("wrong-spn", func(t *testing.T) {
		_, err := run(t, "GSSAPI", authmech.Credentials{Username: princ, Password: authmech.Secret(pass),
			Kerberos: authmech.Kerberos{Config: conf, SPN: "smtp/nosuchhost.mailwarden.test"}})
		if err == nil {
			t.Fatal("unknown service principal accepted")
		}
		t.Logf("wrong spn: %v", err)
	})
}

func TestNoCredentials(t *testing.T) {
	t.Setenv("KRB5CCNAME", filepath.Join(t.TempDir(), "none"))
	if _, err := gssapi.New(authmech.Credentials{}); !errors.Is(err, authmech.ErrMissingCredentials) {
		t.Fatalf("err = %v", err)
	}
}

func TestVerifyBeforeExchange(t *testing.T) {
	const pw = "S3cr3t-Pa55word-xyzzy"
	c, err := gssapi.New(authmech.Credentials{Username: "u@R", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.(authmech.Verifier).Verify(); !errors.Is(err, gssapi.ErrMutualAuth) {
		t.Fatalf("Verify = %v", err)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, pw) || !strings.Contains(s, "REDACTED") {
		t.Fatalf("printed: %s", s)
	}
}

// A server (or a man in the middle) that cannot produce a valid AP-REP is
// refused, and Verify fails.
func TestForgedAPRep(t *testing.T) {
	v := peers.Need(t, "MW_KRB5_CONF", "MW_KRB5_USER_PRINCIPAL", "MW_KRB5_USER_KEYTAB", "MW_KRB5_SPN_HOST")
	c, err := gssapi.New(authmech.Credentials{Username: v[1], Kerberos: authmech.Kerberos{Config: v[0], Keytab: v[2]}})
	if err != nil {
		t.Fatal(err)
	}
	_, ir, err := c.Start(context.Background(), &authmech.ServerInfo{Name: v[3]})
	if err != nil {
		t.Fatal(err)
	}
	// Reflect the client's own AP-REQ, then garbage: neither is an AP-REP.
	for _, forged := range [][]byte{ir, []byte("\x60\x03\x06\x01\x00")} {
		c2, _ := gssapi.New(authmech.Credentials{Username: v[1], Kerberos: authmech.Kerberos{Config: v[0], Keytab: v[2]}})
		c2.Start(context.Background(), &authmech.ServerInfo{Name: v[3]})
		if _, err := c2.Next(context.Background(), forged); !errors.Is(err, gssapi.ErrMutualAuth) {
			t.Errorf("forged AP-REP: err = %v, want ErrMutualAuth", err)
		}
		if err := c2.(authmech.Verifier).Verify(); !errors.Is(err, gssapi.ErrMutualAuth) {
			t.Errorf("Verify = %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.Start(ctx, &authmech.ServerInfo{Name: v[3]}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled ctx: %v", err)
	}
}

// BenchmarkGSSAPIStart measures Start against the real KDC: AS and TGS
// exchanges on loopback plus building the AP-REQ.
func BenchmarkGSSAPIStart(b *testing.B) {
	v := peers.Need(b, "MW_KRB5_CONF", "MW_KRB5_USER_PRINCIPAL", "MW_KRB5_USER_KEYTAB", "MW_KRB5_SPN_HOST")
	info := &authmech.ServerInfo{Name: v[3]}
	b.ReportAllocs()
	for b.Loop() {
		c, err := gssapi.New(authmech.Credentials{Username: v[1], Kerberos: authmech.Kerberos{Config: v[0], Keytab: v[2]}})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Start(context.Background(), info); err != nil {
			b.Fatal(err)
		}
	}
}
