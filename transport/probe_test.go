package transport_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

func TestProbe(t *testing.T) {
	checkGoroutines(t)
	s := smtptest.Start(t, smtptest.Options{TLS: serverTLS(t), User: "u", Password: "p"})
	cfg := testConfig(t)
	logger, logs := newLogger()
	cfg.Logger = logger
	info, err := transport.Probe(ctxT(t, 5*time.Second), serverAddr(t, s, transport.TLSExplicit), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, st := range info.Steps {
		names = append(names, st.Name)
		if st.Detail == "" {
			t.Errorf("step %s has no detail", st.Name)
		}
	}
	if got := strings.Join(names, ","); got != "dial,greeting,ehlo,starttls,tls,ehlo,quit" {
		t.Errorf("steps %s", got)
	}
	if info.TLS == nil || info.TLS.Version < tls.VersionTLS12 || len(info.TLS.PeerCertificates) == 0 || !info.StartTLS || info.TLSModeUsed() != "starttls" {
		t.Errorf("TLS info %+v", info)
	}
	if ok, _ := info.Extension("pipelining"); !ok {
		t.Error("no PIPELINING")
	}
	if ok, _ := info.Extension("STARTTLS"); ok {
		t.Error("plaintext capability kept after TLS")
	}
	if strings.Join(info.AuthMechanisms, ",") != "PLAIN" || info.AuthMechanism != "" {
		t.Errorf("auth %v %q", info.AuthMechanisms, info.AuthMechanism)
	}
	if !strings.Contains(logs.String(), `"msg":"smtp.probe"`) || !strings.Contains(logs.String(), `"capabilities":["PIPELINING"`) || strings.Contains(logs.String(), `"msg":"smtp.auth"`) {
		t.Errorf("log %s", logs.String())
	}
	// With credentials the probe proves them too ("Test connection").
	cfg = testConfig(t)
	cfg.Auth = &plainClient{"u", "p"}
	info, err = transport.Probe(ctxT(t, 5*time.Second), serverAddr(t, s, transport.TLSExplicit), cfg)
	if err != nil || info.AuthMechanism != "PLAIN" || info.AuthUser != "u" {
		t.Errorf("probe with AUTH: %v, mechanism %q user %q", err, info.AuthMechanism, info.AuthUser)
	}
	cfg = testConfig(t)
	cfg.Auth = &plainClient{"u", "wrong"}
	_, err = transport.Probe(ctxT(t, 5*time.Second), serverAddr(t, s, transport.TLSExplicit), cfg)
	if transport.Classify(err) != transport.ClassAuth {
		t.Errorf("probe with a wrong password: %v", err)
	}
	// A failed probe returns what it learned and the error.
	info, err = transport.Probe(ctxT(t, 5*time.Second), serverAddr(t, smtptest.Start(t, smtptest.Options{}), transport.TLSExplicit), testConfig(t))
	if !errors.Is(err, transport.ErrSTARTTLSNotOffered) || info.Addr == "" || len(info.Steps) < 3 || info.Greeting.Code != 220 {
		t.Errorf("failed probe: %v %+v", err, info)
	}
}

func TestNewClientOverConn(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 5*time.Second)
	c, err := transport.NewClient(ctx, conn, serverAddr(t, s, transport.TLSNone), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, transport.Envelope{To: []string{"b@example.net"}}, strings.NewReader(testBody)); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if m := s.Messages(); len(m) != 1 || m[0].From != "" {
		t.Errorf("null reverse path: %+v", m)
	}
}

func ExampleParseAddress() {
	for _, s := range []string{"mail.example.com", "smtp.example.com:465", "mail.example.com:587-starttls", "[::1]:25-nossl"} {
		a, _ := transport.ParseAddress(s)
		fmt.Println(a.HostPort(transport.TLSDefault), a.Mode(transport.TLSDefault))
	}
	// Output:
	// mail.example.com:25 explicit
	// smtp.example.com:465 implicit
	// mail.example.com:587 explicit
	// [::1]:25 none
}

func ExampleClassify() {
	err := fmt.Errorf("sending: %w", &transport.Error{Stage: transport.StageAuth, Code: 535, Enhanced: transport.EnhancedCode{5, 7, 139},
		Message: "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox."})
	fmt.Println(transport.Classify(err))
	// Output:
	// auth
}
