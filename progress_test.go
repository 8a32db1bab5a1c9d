package mailwarden_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailwarden"
	"mailwarden/internal/smtptest"
	"mailwarden/internal/testcert"
	"mailwarden/outbox"
)

// phases returns the distinct phases of evs in order, a run of the same
// phase counted once.
func phases(evs []mailwarden.ProgressEvent) []string {
	var out []string
	for _, e := range evs {
		if len(out) == 0 || out[len(out)-1] != e.Phase.String() {
			out = append(out, e.Phase.String())
		}
	}
	return out
}

// TestProgressPhasesOfASignedEncryptedSend: a Sender with Options.Progress
// reports building, signing, encrypting, spooling, connecting,
// transferring and done, in that order, the spooled size equal to the
// bytes transferred; an Outbox enqueue stops at spooling.
func TestProgressPhasesOfASignedEncryptedSend(t *testing.T) {
	ca, err := testcert.NewCA("S/MIME CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	signer, err := ca.Issue(testcert.Options{CommonName: "Alerts", Emails: []string{"alerts@example.com"}, Purpose: testcert.SMIME})
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := ca.Issue(testcert.Options{CommonName: "Ops", Emails: []string{"ops@example.org"}, Purpose: testcert.SMIME})
	if err != nil {
		t.Fatal(err)
	}
	srv := smtptest.Start(t, smtptest.Options{})
	var mu sync.Mutex
	var evs []mailwarden.ProgressEvent
	p := mailwarden.Profile{Name: "alerts", Servers: []string{srv.Addr}, TLS: "none", Timeout: 5 * time.Second,
		SMIME: mailwarden.SMIMEConfig{SignCert: write("s.pem", signer.CertPEM), SignKey: write("s.key", signer.KeyPEM), EncryptCerts: []string{write("r.pem", rcpt.CertPEM)}}}
	s, err := mailwarden.NewSender(context.Background(), p, &mailwarden.Options{Progress: func(e mailwarden.ProgressEvent) {
		mu.Lock()
		evs = append(evs, e)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := alert(t, "db1")
	m.Text = strings.Repeat("a line of the report\r\n", 20000)
	res, err := s.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(phases(evs), ",")
	if want := "building,signing,encrypting,spooling,connecting,transferring,done"; got != want {
		t.Fatalf("phases %s, want %s", got, want)
	}
	var spooled int64
	for _, e := range evs {
		if e.MessageID != m.MessageID {
			t.Errorf("event %+v: message id, want %q", e, m.MessageID)
		}
		if e.Phase == mailwarden.PhaseSpooling {
			spooled = e.Total
		}
	}
	last := evs[len(evs)-1]
	if spooled == 0 || last.Written != spooled || last.Total != spooled || res.Size != spooled {
		t.Errorf("spooled %d, last event %+v, result size %d", spooled, last, res.Size)
	}

	evs = nil
	o, err := s.OpenOutbox(outbox.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := o.Enqueue(context.Background(), alert(t, "db2")); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(phases(evs), ","), "building,signing,encrypting,spooling"; got != want {
		t.Errorf("enqueue phases %s, want %s", got, want)
	}
}
