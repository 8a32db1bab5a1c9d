package mailwarden_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden"
	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/smtptest"
	"mailwarden/outbox"
)

// manualClock is a clock the test moves.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *manualClock) Sleep(ctx context.Context, d time.Duration) error {
	c.Advance(d)
	return ctx.Err()
}

func alert(t *testing.T, subject string) *envelope.Message {
	t.Helper()
	from, err := headers.ParseAddress("Alerts <alerts@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	to, err := headers.ParseAddressList("ops@example.org")
	if err != nil {
		t.Fatal(err)
	}
	return &envelope.Message{From: from, To: to, Subject: subject, Text: "disk full on " + subject + "\r\n"}
}

// auditRecords reads the JSON records of an audit file.
func auditRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestOutboxAgainstServerCues delivers through a real SMTP session to a
// server told what to answer: 451, then 421, then success; and 550 for
// another message, which is dead-lettered. The audit file records every
// state change.
func TestOutboxAgainstServerCues(t *testing.T) {
	var mu sync.Mutex
	cues := map[string][]int{} // subject -> reply codes to give, in order
	srv := smtptest.Start(t, smtptest.Options{Data: func(b []byte) error {
		mu.Lock()
		defer mu.Unlock()
		for subj, list := range cues {
			if bytes.Contains(b, []byte("Subject: "+subj+"\r\n")) && len(list) > 0 {
				code := list[0]
				cues[subj] = list[1:]
				if code != 250 {
					return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: "cue " + subj}
				}
			}
		}
		return nil
	}})
	auditFile := filepath.Join(t.TempDir(), "audit.log")
	s, err := mailwarden.NewSender(context.Background(), mailwarden.Profile{Name: "alerts", Servers: []string{srv.Addr}, TLS: "none",
		Audit: mailwarden.AuditConfig{File: auditFile}}, &mailwarden.Options{MaxIdle: -1})
	if err != nil {
		t.Fatal(err)
	}
	clk := &manualClock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	ob, err := s.OpenOutbox(outbox.Config{Dir: t.TempDir(), Now: clk.Now, Sleep: clk.Sleep, Rand: func() float64 { return 0 },
		MinBackoff: time.Minute, MaxBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	// Every attempt runs on a fresh session (MaxIdle -1): a 421 on a
	// reused one would be retried at once on a fresh one, and whether the
	// session is reused depends on the order of the entries.
	cues["retried"] = []int{451, 421, 250}
	cues["refused"] = []int{550}
	mu.Unlock()
	ctx := context.Background()
	retried, refused := alert(t, "retried"), alert(t, "refused")
	eRetried, err := ob.Enqueue(ctx, retried)
	if err != nil {
		t.Fatal(err)
	}
	if retried.MessageID == "" || eRetried.Envelope.MessageID != retried.MessageID {
		t.Fatalf("Message-ID not set: %q / %q", retried.MessageID, eRetried.Envelope.MessageID)
	}
	eRefused, err := ob.Enqueue(ctx, refused)
	if err != nil {
		t.Fatal(err)
	}

	st, err := ob.RunOnce(ctx)
	if err != nil || st.Deferred != 1 || st.Dead != 1 {
		t.Fatalf("first pass %+v %v", st, err)
	}
	list, _ := ob.List(ctx)
	byID := map[string]outbox.Entry{}
	for _, e := range list {
		byID[e.ID] = e
	}
	if e := byID[eRefused.ID]; e.State != outbox.StateDead || e.Reason != "permanent" || !strings.Contains(e.LastError, "550") {
		t.Fatalf("refused entry %+v", e)
	}
	if e := byID[eRetried.ID]; e.State != outbox.StateDeferred || !strings.Contains(e.LastError, "451") || e.NextAttempt.Sub(clk.Now()) != 30*time.Second {
		t.Fatalf("retried entry %+v (now %v)", e, clk.Now())
	}
	clk.Advance(30 * time.Second)
	if st, _ := ob.RunOnce(ctx); st.Deferred != 1 {
		t.Fatalf("second pass %+v", st)
	}
	list, _ = ob.List(ctx)
	for _, e := range list {
		if e.ID == eRetried.ID && (!strings.Contains(e.LastError, "421") || e.NextAttempt.Sub(clk.Now()) != time.Minute) {
			t.Fatalf("after 421: %+v", e)
		}
	}
	clk.Advance(time.Minute)
	if st, _ := ob.RunOnce(ctx); st.Delivered != 1 {
		t.Fatalf("third pass %+v", st)
	}
	if n := srv.Count(); n != 1 {
		t.Fatalf("server kept %d messages", n)
	}
	if got := srv.Messages()[0].Data; !bytes.Contains(got, []byte("Message-ID: <"+retried.MessageID+">")) {
		t.Fatalf("delivered message lacks its Message-ID:\n%s", got)
	}
	ob.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var seq []string
	var delivered map[string]any
	for _, r := range auditRecords(t, auditFile) {
		msg, _ := r["msg"].(string)
		if strings.HasPrefix(msg, "outbox.") && r["message_id"] == retried.MessageID {
			seq = append(seq, msg)
			if msg == "outbox.delivered" {
				delivered = r
			}
		}
	}
	want := "outbox.queued outbox.attempt outbox.deferred outbox.attempt outbox.deferred outbox.attempt outbox.delivered"
	if strings.Join(seq, " ") != want {
		t.Fatalf("audit trail has %v, want %s", seq, want)
	}
	if g, _ := delivered["outbox"].(map[string]any); g["spool_id"] != eRetried.ID || g["attempt"] != float64(3) || delivered["profile"] != "alerts" {
		t.Fatalf("delivered record %v", delivered)
	}
}

// TestOutboxEnqueueBuildsLikeSend: a profile with S/MIME encryption
// spools the encrypted message, never the plaintext.
func TestOutboxEnqueueBuildsLikeSend(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	p := mailwarden.Profile{Servers: []string{srv.Addr}, TLS: "none",
		SMIME: mailwarden.SMIMEConfig{EncryptCerts: []string{"testdata/certs/recipient-rsa.pem"}}}
	s, err := mailwarden.NewSender(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	ob, err := s.OpenOutbox(outbox.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	m := alert(t, "secret")
	e, err := ob.Enqueue(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	spooled, err := os.ReadFile(filepath.Join(dir, e.ID+".msg"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(spooled, []byte("disk full on secret")) || !bytes.Contains(spooled, []byte("application/pkcs7-mime")) {
		t.Fatalf("the spool holds the plaintext or no S/MIME:\n%.400s", spooled)
	}
	if st, err := ob.RunOnce(context.Background()); err != nil || st.Delivered != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	if got := srv.Messages()[0].Data; !bytes.Contains(got, []byte("application/pkcs7-mime")) || !bytes.Contains(got, []byte(m.MessageID)) {
		t.Fatalf("delivered:\n%.400s", got)
	}
	// A message that cannot be built is not queued.
	bad := alert(t, "bad")
	bad.To = nil
	if _, err := ob.Enqueue(context.Background(), bad); err == nil {
		t.Fatal("a message without recipients was queued")
	}
	if l, _ := ob.List(context.Background()); len(l) != 0 {
		t.Fatalf("%+v", l)
	}
}

// TestOutboxConnectionRefusedIsDeferred: the relay is down (nothing
// listens): a temporary failure, retried later, not dead-lettered.
func TestOutboxConnectionRefusedIsDeferred(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, err := mailwarden.NewSender(context.Background(), mailwarden.Profile{Servers: []string{addr}, TLS: "none", Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ob, err := s.OpenOutbox(outbox.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ob.Enqueue(context.Background(), alert(t, "down")); err != nil {
		t.Fatal(err)
	}
	st, err := ob.RunOnce(context.Background())
	if err != nil || st.Deferred != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	l, _ := ob.List(context.Background())
	if len(l) != 1 || l[0].State != outbox.StateDeferred || !strings.Contains(l[0].LastError, "dial") {
		t.Fatalf("%+v", l)
	}
	if errors.Is(err, outbox.ErrFull) {
		t.Fatal("unreachable")
	}
}
