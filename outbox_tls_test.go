package mailwarden_test

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden"
	"mailwarden/internal/smtptest"
	"mailwarden/internal/testcert"
	"mailwarden/outbox"
)

// TestOutboxTLSFailureIsDeferred: the relay's certificate does not verify
// (expired, or issued for another name). That is a fault of the path to the
// relay, which its operator fixes, not of the message: the entry is
// deferred and retried until its maximum age, with the TLS error kept, as
// for a refused connection. It was dead-lettered at the first attempt.
func TestOutboxTLSFailureIsDeferred(t *testing.T) {
	lb, err := testcert.NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, lb.CA.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		leaf *testcert.Leaf
	}{{"expired", lb.Expired}, {"wrong-host", lb.WrongHost}} {
		t.Run(c.name, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{c.leaf.TLS()}}})
			s, err := mailwarden.NewSender(context.Background(), mailwarden.Profile{Servers: []string{srv.Addr}, TLS: "explicit",
				CAFile: caFile, Timeout: 5 * time.Second}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ob, err := s.OpenOutbox(outbox.Config{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer ob.Close()
			if _, err := ob.Enqueue(context.Background(), alert(t, "tls "+c.name)); err != nil {
				t.Fatal(err)
			}
			st, err := ob.RunOnce(context.Background())
			if err != nil || st.Deferred != 1 || st.Dead != 0 {
				t.Fatalf("%+v %v", st, err)
			}
			l, _ := ob.List(context.Background())
			if len(l) != 1 || l[0].State != outbox.StateDeferred || !strings.Contains(l[0].LastError, "tls") {
				t.Fatalf("%+v", l)
			}
			if srv.Count() != 0 {
				t.Fatal("sent over a connection that failed verification")
			}
		})
	}
}
