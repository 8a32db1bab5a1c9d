package transport_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
	"mailwarden/transport"
)

func postfixConfig(t *testing.T) *transport.Config {
	caFile := peers.Get(t, "MW_TEST_CA")
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in MW_TEST_CA")
	}
	cfg := testConfig(t)
	cfg.TLSConfig = &tls.Config{RootCAs: pool}
	return cfg
}

// delivered waits for the file Postfix delivers for queue id qid and
// returns its content and envelope lines.
func delivered(t *testing.T, dir, qid string) ([]byte, []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(dir, "*."+qid))
		if len(m) == 1 {
			b, err := os.ReadFile(m[0])
			if err != nil {
				t.Fatal(err)
			}
			env, _ := os.ReadFile(filepath.Join(dir, "..", "envelope", filepath.Base(m[0])))
			return b, strings.Split(strings.TrimSuffix(string(env), "\n"), "\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no delivery for queue id %s in %s", qid, dir)
	return nil, nil
}

func token() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestPostfix sends through the real Postfix in every TLS mode, with BDAT
// and with DATA, and compares the delivered file byte for byte.
func TestPostfix(t *testing.T) {
	vals := peers.Need(t, "MW_POSTFIX_PLAIN", "MW_POSTFIX_STARTTLS", "MW_POSTFIX_TLS", "MW_POSTFIX_MAILDIR")
	dir := vals[3]
	for _, tc := range []struct {
		name, hp string
		mode     transport.TLSMode
		want     string
	}{
		{"plain", vals[0], transport.TLSNone, "none"},
		{"starttls", vals[1], transport.TLSExplicit, "starttls"},
		{"auto", vals[1], transport.TLSAuto, "starttls"},
		{"implicit", vals[2], transport.TLSImplicit, "implicit"},
	} {
		for _, chunking := range []bool{true, false} {
			name := tc.name + map[bool]string{true: "-bdat", false: "-data"}[chunking]
			t.Run(name, func(t *testing.T) {
				cfg := postfixConfig(t)
				cfg.DisableChunking = !chunking
				ctx := ctxT(t, 30*time.Second)
				c, err := transport.Dial(ctx, addrOf(t, tc.hp, tc.mode), cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if got := c.Info(); got.TLSModeUsed() != tc.want || !strings.Contains(got.Greeting.Text, "sink.mailwarden.test") {
					t.Fatalf("TLS %q greeting %q", got.TLSModeUsed(), got.Greeting.Text)
				}
				for i := 0; i < 2; i++ {
					id := token()
					body := "Message-ID: <" + id + "@mailwarden.test>\r\nSubject: " + name + "\r\n\r\n.leading dot\nbare LF\r\n" +
						strings.Repeat("0123456789", 300) + "\r\nüñí 8bit\r\n\r\n.\r\n"
					res, err := c.Send(ctx, transport.Envelope{From: "sender@mailwarden.test", To: []string{"r1@example.net", "r2@example.org"}, Size: int64(len(body))}, strings.NewReader(body))
					if err != nil {
						t.Fatal(err)
					}
					if res.QueueID == "" || res.UsedBDAT != chunking || !res.Pipelined {
						t.Fatalf("result %+v", res)
					}
					got, env := delivered(t, dir, res.QueueID)
					if want := normalised(body); !bytes.Equal(got, want) {
						t.Errorf("delivered %q\nwant %q", got, want)
					}
					if strings.Join(env, ",") != "sender@mailwarden.test,r1@example.net,r2@example.org" {
						t.Errorf("envelope %q", env)
					}
				}
				if err := c.Quit(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestPostfixSMTPSmuggling sends every smuggling pattern to the real
// Postfix: each arrives as one message, intact.
func TestPostfixSMTPSmuggling(t *testing.T) {
	vals := peers.Need(t, "MW_POSTFIX_PLAIN", "MW_POSTFIX_MAILDIR")
	start := time.Now()
	for _, chunking := range []bool{false, true} {
		cfg := postfixConfig(t)
		cfg.DisableChunking = !chunking
		ctx := ctxT(t, 60*time.Second)
		c, err := transport.Dial(ctx, addrOf(t, vals[0], transport.TLSNone), cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range smugglingPatterns {
			body := "Subject: smuggling " + token() + "\r\n\r\nfirst" + p + smuggled + "tail"
			res, err := c.Send(ctx, transport.Envelope{From: "a@mailwarden.test", To: []string{"b@example.net"}}, strings.NewReader(body))
			if err != nil {
				t.Fatalf("%q: %v", p, err)
			}
			got, env := delivered(t, vals[1], res.QueueID)
			if want := normalised(body); !bytes.Equal(got, want) {
				t.Errorf("%q: delivered %q, want %q", p, got, want)
			}
			if strings.Join(env, ",") != "a@mailwarden.test,b@example.net" {
				t.Errorf("envelope %v", env)
			}
		}
		c.Quit(ctx)
	}
	// No smuggled transaction was delivered (the sink is shared with other
	// tests, so look for the smuggled recipient rather than count files).
	time.Sleep(time.Second)
	envs, _ := filepath.Glob(filepath.Join(vals[1], "..", "envelope", "*"))
	for _, e := range envs {
		if fi, err := os.Stat(e); err != nil || fi.ModTime().Before(start.Add(-time.Second)) {
			continue
		}
		if b, _ := os.ReadFile(e); strings.Contains(string(b), "victim@example.net") {
			t.Errorf("smuggled message delivered: %s", e)
		}
	}
}

// TestDovecotSubmissionAuth authenticates with PLAIN to the real Dovecot
// submission server over STARTTLS and implicit TLS; the message is relayed
// to Postfix and delivered. A wrong password is a 535 of ClassAuth.
func TestDovecotSubmissionAuth(t *testing.T) {
	vals := peers.Need(t, "MW_DOVECOT_SUBMISSION", "MW_DOVECOT_SUBMISSIONS", "MW_SASL_USER", "MW_SASL_PASSWORD", "MW_POSTFIX_MAILDIR")
	for _, tc := range []struct {
		hp   string
		mode transport.TLSMode
	}{{vals[0], transport.TLSExplicit}, {vals[1], transport.TLSImplicit}} {
		cfg := postfixConfig(t)
		cfg.Auth = &plainClient{vals[2], vals[3]}
		logger, logs := newLogger()
		cfg.Logger = logger
		ctx := ctxT(t, 30*time.Second)
		c, err := transport.Dial(ctx, addrOf(t, tc.hp, tc.mode), cfg)
		if err != nil {
			t.Fatalf("%v: %v", tc.mode, err)
		}
		if info := c.Info(); info.AuthMechanism != "PLAIN" || info.TLS == nil {
			t.Errorf("info %+v", info)
		}
		body := "Subject: dovecot " + token() + "\r\n\r\nvia submission\r\n"
		res, err := c.Send(ctx, transport.Envelope{From: vals[2] + "@mailwarden.test", To: []string{"r@example.net"}}, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		c.Quit(ctx)
		if strings.Contains(logs.String(), vals[3]) {
			t.Error("password in the log")
		}
		// Dovecot names its own id; find the relayed copy by content.
		deadline := time.Now().Add(20 * time.Second)
		found := false
		for !found && time.Now().Before(deadline) {
			files, _ := filepath.Glob(filepath.Join(vals[4], "*"))
			for i := len(files) - 1; i >= 0 && i >= len(files)-50; i-- {
				if b, _ := os.ReadFile(files[i]); bytes.Contains(b, []byte(body[:len("Subject: dovecot ")+16])) {
					found = true
					if !bytes.HasSuffix(b, []byte("\r\n\r\nvia submission\r\n")) {
						t.Errorf("delivered %q", b)
					}
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !found {
			t.Errorf("%v: message not delivered (reply %v)", tc.mode, res.Reply)
		}
	}
	cfg := postfixConfig(t)
	cfg.Auth = &plainClient{vals[2], "wrong-password"}
	_, err := transport.Dial(ctxT(t, 30*time.Second), addrOf(t, vals[0], transport.TLSExplicit), cfg)
	var e *transport.Error
	if !errors.As(err, &e) || e.Code != 535 || transport.Classify(err) != transport.ClassAuth || e.Hint() == "" {
		t.Errorf("wrong password: %v", err)
	}
}

// TestCyrusSubmission uses the real Postfix+Cyrus listener, which requires
// STARTTLS and offers AUTH only after it: in plaintext the client has no
// AUTH to use and MAIL gets the real "530 5.7.0 Must issue a STARTTLS
// command first"; over STARTTLS, PLAIN works and mail is delivered;
// without AUTH the recipient is refused.
func TestCyrusSubmission(t *testing.T) {
	vals := peers.Need(t, "MW_CYRUS_SUBMISSION", "MW_SASL_USER", "MW_SASL_PASSWORD", "MW_POSTFIX_MAILDIR")
	ctx := ctxT(t, 30*time.Second)
	env := transport.Envelope{From: "mwuser@mailwarden.test", To: []string{"r@example.net"}}

	cfg := postfixConfig(t)
	cfg.Auth = &plainClient{vals[1], vals[2]}
	cfg.AllowPlaintextAuth = true
	_, err := transport.Dial(ctx, addrOf(t, vals[0], transport.TLSNone), cfg)
	if !errors.Is(err, transport.ErrAuthNotOffered) {
		t.Errorf("plaintext AUTH: %v", err)
	}

	c, err := transport.Dial(ctx, addrOf(t, vals[0], transport.TLSNone), postfixConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(ctx, env, strings.NewReader(testBody))
	var e *transport.Error
	if !errors.As(err, &e) || e.Code != 530 || !strings.Contains(e.Hint(), "TLS mode explicit") {
		t.Errorf("plaintext MAIL: %v (hint %q)", err, e.Hint())
	}
	c.Close()

	cfg = postfixConfig(t)
	cfg.Auth = &plainClient{vals[1], vals[2]}
	c, err = transport.Dial(ctx, addrOf(t, vals[0], transport.TLSExplicit), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if info := c.Info(); info.AuthMechanism != "PLAIN" || len(info.AuthMechanisms) < 3 {
		t.Errorf("info %+v", info)
	}
	res, err := c.Send(ctx, env, strings.NewReader(testBody))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := delivered(t, vals[3], res.QueueID)
	if !bytes.HasSuffix(got, []byte(testBody)) {
		t.Errorf("delivered %q", got)
	}
	c.Quit(ctx)

	c, err = transport.Dial(ctx, addrOf(t, vals[0], transport.TLSExplicit), postfixConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Send(ctx, env, strings.NewReader(testBody))
	if !errors.As(err, &e) || e.Code/100 != 5 || transport.Classify(err) != transport.ClassRejected || !strings.Contains(e.Hint(), "authenticate") {
		t.Errorf("unauthenticated: %v (hint %q)", err, e.Hint())
	}
}
