package transport_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"mailwarden/authmech"
	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// plainClient is a minimal PLAIN mechanism (RFC 4616) for the tests.
type plainClient struct{ user, pass string }

func (p *plainClient) Start(ctx context.Context, si *authmech.ServerInfo) (string, []byte, error) {
	if !si.Offers("PLAIN") {
		return "", nil, authmech.ErrNotOffered
	}
	if !si.Encrypted() && !si.AllowPlaintext {
		return "", nil, authmech.ErrPlaintextRefused
	}
	return "PLAIN", []byte("\x00" + p.user + "\x00" + p.pass), nil
}
func (p *plainClient) Next(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("unexpected challenge")
}
func (p *plainClient) User() string { return p.user }

// challengeClient answers one challenge with its secret.
type challengeClient struct{ secret string }

func (p *challengeClient) Start(context.Context, *authmech.ServerInfo) (string, []byte, error) {
	return "X-TEST", nil, nil
}
func (p *challengeClient) Next(_ context.Context, ch []byte) ([]byte, error) {
	if string(ch) != "secret-challenge" {
		return nil, errors.New("bad challenge")
	}
	return []byte(p.secret), nil
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestAuthPLAINOverSTARTTLS(t *testing.T) {
	checkGoroutines(t)
	s := smtptest.Start(t, smtptest.Options{TLS: serverTLS(t), User: "alice", Password: "s3cr3t-pw"})
	cfg := testConfig(t)
	cfg.Auth = &plainClient{"alice", "s3cr3t-pw"}
	tr := &syncBuf{}
	cfg.Transcript = tr
	logger, logs := newLogger()
	cfg.Logger = logger
	ctx := ctxT(t, 10*time.Second)
	c, err := transport.Dial(ctx, serverAddr(t, s, transport.TLSExplicit), cfg)
	if err != nil {
		t.Fatal(err)
	}
	info := c.Info()
	if info.AuthMechanism != "PLAIN" || info.AuthUser != "alice" {
		t.Errorf("info %+v", info)
	}
	if _, err := c.Send(ctx, transport.Envelope{From: "alice@example.org", To: []string{"b@example.net"}, MessageID: "<m1@example.org>"}, strings.NewReader(testBody)); err != nil {
		t.Fatal(err)
	}
	c.Quit(ctx)
	if m := s.Messages(); len(m) != 1 || m[0].AuthUser != "alice" {
		t.Fatalf("messages %+v", m)
	}
	secretB64 := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00s3cr3t-pw"))
	for name, out := range map[string]string{"transcript": tr.String(), "log": logs.String()} {
		if strings.Contains(out, "s3cr3t") || strings.Contains(out, secretB64) {
			t.Errorf("%s leaks the secret:\n%s", name, out)
		}
	}
	if !strings.Contains(tr.String(), "C: AUTH PLAIN [redacted]\n") || !strings.Contains(tr.String(), "S: 235 ") {
		t.Errorf("transcript:\n%s", tr.String())
	}
	for _, ev := range []string{`"msg":"smtp.connect"`, `"msg":"smtp.tls"`, `"msg":"smtp.auth"`, `"mech":"PLAIN"`, `"user":"alice"`, `"msg":"smtp.rcpt"`, `"msg":"smtp.send"`, `"mode":"starttls"`, `"message_id":"<m1@example.org>"`, `"rcpts":[{"addr":"b@example.net","code":250,"enhanced":"2.0.0"`} {
		if !strings.Contains(logs.String(), ev) {
			t.Errorf("log lacks %s:\n%s", ev, logs.String())
		}
	}
}

func TestAuthFailures(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{TLS: serverTLS(t), User: "alice", Password: "right", AllowInsecureAuth: true})
	ctx := ctxT(t, 10*time.Second)
	// Wrong password: 535, ClassAuth, hint.
	cfg := testConfig(t)
	cfg.Auth = &plainClient{"alice", "wrong"}
	_, err := transport.Dial(ctx, serverAddr(t, s, transport.TLSExplicit), cfg)
	var e *transport.Error
	if !errors.As(err, &e) || e.Code != 535 || e.Stage != transport.StageAuth || transport.Classify(err) != transport.ClassAuth || !errors.Is(err, transport.ErrAuthFailed) || e.Hint() == "" {
		t.Fatalf("err = %v", err)
	}
	// Plaintext: the mechanism refuses unless allowed.
	cfg = testConfig(t)
	cfg.Auth = &plainClient{"alice", "right"}
	_, err = transport.Dial(ctx, serverAddr(t, s, transport.TLSNone), cfg)
	if !errors.Is(err, authmech.ErrPlaintextRefused) || transport.Classify(err) != transport.ClassAuth {
		t.Fatalf("plaintext: err = %v", err)
	}
	cfg.Auth = &plainClient{"alice", "right"}
	cfg.AllowPlaintextAuth = true
	c, err := transport.Dial(ctx, serverAddr(t, s, transport.TLSNone), cfg)
	if err != nil {
		t.Fatalf("plaintext allowed: %v", err)
	}
	c.Close()
	// No AUTH offered.
	s2 := smtptest.Start(t, smtptest.Options{})
	cfg = testConfig(t)
	cfg.Auth = &plainClient{"alice", "right"}
	_, err = transport.Dial(ctx, serverAddr(t, s2, transport.TLSNone), cfg)
	if !errors.Is(err, transport.ErrAuthNotOffered) || transport.Classify(err) != transport.ClassAuth {
		t.Fatalf("not offered: err = %v", err)
	}
}

// TestTranscriptExactBytes scripts the server's replies and compares the
// client's exact bytes, and the transcript, with a challenge-response AUTH
// whose payloads must not appear in the transcript.
func TestTranscriptExactBytes(t *testing.T) {
	raw := make(chan []byte, 1)
	p := plan{
		ehlo: "250-hostile.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 1000000\r\n250 AUTH X-TEST\r\n",
		auth: func(c *smtptest.Conn, line string) {
			c.Send("334 " + base64.StdEncoding.EncodeToString([]byte("secret-challenge")) + "\r\n")
			c.Line()
			c.Send("235 2.7.0 Authentication successful\r\n")
		},
	}
	hp := smtptest.Hostile(t, func(c *smtptest.Conn) {
		p.run(c)
		raw <- c.Raw()
	})
	tr := &syncBuf{}
	cfg := testConfig(t)
	cfg.Transcript = tr
	cfg.Auth = &challengeClient{secret: "hunter2-response"}
	cfg.AllowPlaintextAuth = true
	ctx := ctxT(t, 5*time.Second)
	c, err := transport.Dial(ctx, hostileAddr(t, hp, transport.TLSNone), cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}, Size: 60}, strings.NewReader("Subject: x\n\n.dot\nend"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if res.QueueID != "HOSTILE1" || !res.Pipelined {
		t.Errorf("result %+v", res)
	}
	want := "EHLO client.example.org\r\n" +
		"AUTH X-TEST\r\n" +
		base64.StdEncoding.EncodeToString([]byte("hunter2-response")) + "\r\n" +
		"MAIL FROM:<a@example.org> BODY=8BITMIME SIZE=60\r\n" +
		"RCPT TO:<b@example.net>\r\n" +
		"DATA\r\n" +
		"Subject: x\r\n\r\n..dot\r\nend\r\n.\r\n" +
		"QUIT\r\n"
	if got := string(<-raw); got != want {
		t.Errorf("client sent\n%q\nwant\n%q", got, want)
	}
	wantTr := "S: 220 hostile.example ESMTP\n" +
		"C: EHLO client.example.org\n" +
		"S: 250-hostile.example\nS: 250-PIPELINING\nS: 250-8BITMIME\nS: 250-SIZE 1000000\nS: 250 AUTH X-TEST\n" +
		"C: AUTH X-TEST\n" +
		"S: 334 [redacted]\n" +
		"C: [redacted]\n" +
		"S: 235 2.7.0 Authentication successful\n" +
		"C: MAIL FROM:<a@example.org> BODY=8BITMIME SIZE=60\n" +
		"C: RCPT TO:<b@example.net>\n" +
		"C: DATA\n" +
		"S: 250 2.1.0 Ok\nS: 250 2.1.5 Ok\nS: 354 End data with <CR><LF>.<CR><LF>\n" +
		"C: [26 bytes of message]\nC: .\n" +
		"S: 250 2.0.0 Ok: queued as HOSTILE1\n" +
		"C: QUIT\nS: 221 2.0.0 Bye\n"
	if tr.String() != wantTr {
		t.Errorf("transcript\n%s\nwant\n%s", tr.String(), wantTr)
	}
}

// TestBDATExactBytes: with CHUNKING the body goes without dot-stuffing, in
// BDAT chunks of Config.ChunkSize, pipelined with MAIL and RCPT.
func TestBDATExactBytes(t *testing.T) {
	for _, tc := range []struct {
		chunk int
		want  string
	}{
		{0, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 28 LAST\r\nSubject: x\r\n\r\n.dot\r\n.\r\nend\r\n"},
		{10, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 10\r\nSubject: x" +
			"BDAT 10\r\n\r\n\r\n.dot\r\n" + "BDAT 8 LAST\r\n.\r\nend\r\n"},
	} {
		raw := make(chan []byte, 1)
		p := plan{ehlo: "250-hostile.example\r\n250-PIPELINING\r\n250 CHUNKING\r\n"}
		hp := smtptest.Hostile(t, func(c *smtptest.Conn) {
			p.run(c)
			raw <- c.Raw()
		})
		cfg := testConfig(t)
		cfg.ChunkSize = tc.chunk
		ctx := ctxT(t, 5*time.Second)
		c, err := transport.Dial(ctx, hostileAddr(t, hp, transport.TLSNone), cfg)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader("Subject: x\n\n.dot\r\n.\nend"))
		if err != nil {
			t.Fatal(err)
		}
		c.Quit(ctx)
		if !res.UsedBDAT || res.QueueID != "HOSTILE1" || res.Size != 28 {
			t.Errorf("result %+v", res)
		}
		got := strings.TrimPrefix(string(<-raw), "EHLO client.example.org\r\n")
		if want := tc.want + "QUIT\r\n"; got != want {
			t.Errorf("chunk %d: client sent\n%q\nwant\n%q", tc.chunk, got, want)
		}
	}
}

// TestBDATChunksExactBytes: messages that need no encoding, or need it
// only from the middle on, or end without a CRLF or inside one, go out in
// chunks of exactly the normalised message, twice on one connection (the
// reused chunk buffer carries nothing over).
func TestBDATChunksExactBytes(t *testing.T) {
	const head = "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
	for _, tc := range []struct {
		name, msg, want string
		chunk           int
	}{
		{"clean", "Subject: x\r\n\r\nbody\r\n", "BDAT 10\r\nSubject: x" + "BDAT 10\r\n\r\n\r\nbody\r\n" + "BDAT 0 LAST\r\n", 10},
		{"clean, one chunk", "Subject: x\r\n\r\nbody\r\n", "BDAT 20 LAST\r\nSubject: x\r\n\r\nbody\r\n", 0},
		{"clean without a final CRLF", "Subject: x\r\n\r\nbody", "BDAT 10\r\nSubject: x" + "BDAT 10 LAST\r\n\r\n\r\nbody\r\n", 10},
		{"clean, then a bare LF", "Subject: x\r\n\r\nbad\nline\r\n", "BDAT 10\r\nSubject: x" + "BDAT 10\r\n\r\n\r\nbad\r\nl" + "BDAT 5 LAST\r\nine\r\n", 10},
		{"ends with a CR", "Subject: x\r\n\r\nbody\r", "BDAT 10\r\nSubject: x" + "BDAT 10 LAST\r\n\r\n\r\nbody\r\n", 10},
		// A short end (up to a sixteenth of a chunk) goes with the chunk
		// before it; a longer one is a chunk of its own.
		{"short end rides with the chunk", strings.Repeat("abcdefg\r\n", 18), "BDAT 162 LAST\r\n" + strings.Repeat("abcdefg\r\n", 18), 160},
		{"longer end, a chunk of its own", strings.Repeat("abcdefg\r\n", 19), "BDAT 160\r\n" + strings.Repeat("abcdefg\r\n", 19)[:160] + "BDAT 11 LAST\r\n" + strings.Repeat("abcdefg\r\n", 19)[160:], 160},
	} {
		raw := make(chan []byte, 1)
		p := plan{ehlo: "250-hostile.example\r\n250-PIPELINING\r\n250 CHUNKING\r\n"}
		hp := smtptest.Hostile(t, func(c *smtptest.Conn) {
			p.run(c)
			raw <- c.Raw()
		})
		cfg := testConfig(t)
		cfg.ChunkSize = tc.chunk
		ctx := ctxT(t, 5*time.Second)
		c, err := transport.Dial(ctx, hostileAddr(t, hp, transport.TLSNone), cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Two sends on one connection: the reused chunk buffer must not
		// carry anything over.
		for range 2 {
			if _, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(tc.msg)); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		c.Quit(ctx)
		got := strings.TrimPrefix(string(<-raw), "EHLO client.example.org\r\n")
		if want := head + tc.want + head + tc.want + "QUIT\r\n"; got != want {
			t.Errorf("%s: client sent\n%q\nwant\n%q", tc.name, got, want)
		}
	}
}
