package transport_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailwarden/authmech"
	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// TestHints has one row per entry of the hints table.
func TestHints(t *testing.T) {
	ec := func(a, b, c int) transport.EnhancedCode { return transport.EnhancedCode{a, b, c} }
	rows := []struct {
		name string
		err  *transport.Error
		want string // a phrase the hint must contain
		cls  transport.Class
	}{
		{"exchange-online-smtp-auth-disabled", &transport.Error{Stage: transport.StageAuth, Code: 535, Enhanced: ec(5, 7, 139), Message: "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information."}, "Set-CASMailbox", transport.ClassAuth},
		{"entra-security-defaults", &transport.Error{Stage: transport.StageAuth, Code: 535, Enhanced: ec(5, 7, 139), Message: "Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator."}, "security defaults", transport.ClassAuth},
		{"exchange-online-auth-5.7.139", &transport.Error{Stage: transport.StageAuth, Code: 535, Enhanced: ec(5, 7, 139), Message: "Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully."}, "5.7.139", transport.ClassAuth},
		{"starttls-first", &transport.Error{Stage: transport.StageMail, Code: 530, Enhanced: ec(5, 7, 0), Message: "Must issue a STARTTLS command first"}, "TLS mode explicit", transport.ClassAuth},
		{"client-not-authenticated", &transport.Error{Stage: transport.StageMail, Code: 530, Enhanced: ec(5, 7, 57), Message: "Client not authenticated to send mail. [SN4PR0601CA0005.namprd06.prod.outlook.com]"}, "requires authentication", transport.ClassAuth},
		{"send-as-denied-storedrv", &transport.Error{Stage: transport.StageData, Code: 554, Enhanced: ec(5, 2, 0), Message: "STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message."}, "Send As", transport.ClassRejected},
		{"send-as-denied", &transport.Error{Stage: transport.StageMail, Code: 550, Enhanced: ec(5, 7, 60), Message: "SMTP; Client does not have permissions to send as this sender"}, "Send As", transport.ClassRejected},
		{"relay-denied", &transport.Error{Stage: transport.StageRcpt, Code: 550, Enhanced: ec(5, 7, 1), Message: "Unable to relay"}, "relay", transport.ClassRejected},
		{"relay-denied-554", &transport.Error{Stage: transport.StageRcpt, Code: 554, Enhanced: ec(5, 7, 1), Message: "<r@example.net>: Recipient address rejected: Access denied"}, "authenticate", transport.ClassRejected},
		{"auth-failed", &transport.Error{Stage: transport.StageAuth, Code: 535, Enhanced: ec(5, 7, 8), Message: "Authentication credentials invalid"}, "credentials", transport.ClassAuth},
		{"service-closing", &transport.Error{Stage: transport.StageMail, Code: 421, Enhanced: ec(4, 3, 2), Message: "Service not available, closing transmission channel"}, "421", transport.ClassTemporary},
		{"unknown-authority", &transport.Error{Stage: transport.StageTLS, Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}, "--ca", transport.ClassConnection},
		{"expired-certificate", &transport.Error{Stage: transport.StageTLS, Err: x509.CertificateInvalidError{Reason: x509.Expired}}, "expired", transport.ClassConnection},
		{"wrong-host", &transport.Error{Stage: transport.StageTLS, Err: x509.HostnameError{Certificate: &x509.Certificate{}, Host: "mail.example.org"}}, "does not name the host", transport.ClassConnection},
		{"dns", &transport.Error{Stage: transport.StageDial, Err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "nx.example", IsNotFound: true}}}, "does not resolve", transport.ClassConnection},
		{"refused", &transport.Error{Stage: transport.StageDial, Err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}, "connection refused", transport.ClassConnection},
		{"timeout", &transport.Error{Stage: transport.StageGreeting, Err: context.DeadlineExceeded}, "did not answer in time", transport.ClassConnection},
		{"starttls-not-offered", &transport.Error{Stage: transport.StageSTARTTLS, Err: transport.ErrSTARTTLSNotOffered}, "does not offer STARTTLS", transport.ClassConnection},
		{"response-injection", &transport.Error{Stage: transport.StageSTARTTLS, Err: transport.ErrResponseInjection}, "response-injection", transport.ClassConnection},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			h := r.err.Hint()
			if !strings.Contains(h, r.want) {
				t.Errorf("hint %q lacks %q", h, r.want)
			}
			if c := transport.Classify(fmt.Errorf("wrapped: %w", r.err)); c != r.cls {
				t.Errorf("class %v, want %v", c, r.cls)
			}
		})
	}
	if h := (&transport.Error{Code: 250}).Hint(); h != "" {
		t.Errorf("unknown case has hint %q", h)
	}
}

// TestTLSCertificateFailures runs real handshakes against servers with an
// unknown CA, an expired and a wrong-host certificate.
func TestTLSCertificateFailures(t *testing.T) {
	checkGoroutines(t)
	lb := loopback(t)
	for _, tc := range []struct {
		name string
		cert tls.Certificate
		root *x509.CertPool
		want string
	}{
		{"unknown-authority", lb.Server.TLS(), x509.NewCertPool(), "--ca"},
		{"expired", lb.Expired.TLS(), lb.CA.Pool(), "expired"},
		{"wrong-host", lb.WrongHost.TLS(), lb.CA.Pool(), "does not name the host"},
	} {
		for _, implicit := range []bool{false, true} {
			s := smtptest.Start(t, smtptest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{tc.cert}}, Implicit: implicit})
			mode := transport.TLSExplicit
			if implicit {
				mode = transport.TLSImplicit
			}
			cfg := testConfig(t)
			cfg.TLSConfig = &tls.Config{RootCAs: tc.root}
			_, err := transport.Dial(ctxT(t, 5*time.Second), serverAddr(t, s, mode), cfg)
			var e *transport.Error
			if !errors.As(err, &e) || e.Stage != transport.StageTLS || !strings.Contains(e.Hint(), tc.want) || transport.Classify(err) != transport.ClassConnection {
				t.Errorf("%s implicit=%v: err = %v, hint %q", tc.name, implicit, err, e.Hint())
			}
			// InsecureSkipVerify connects and says so.
			logger, logs := newLogger()
			cfg.InsecureSkipVerify, cfg.Logger = true, logger
			c, err := transport.Dial(ctxT(t, 5*time.Second), serverAddr(t, s, mode), cfg)
			if err != nil {
				t.Fatalf("%s insecure: %v", tc.name, err)
			}
			if !c.Info().InsecureSkipVerify || !strings.Contains(logs.String(), `"level":"WARN","msg":"smtp.tls"`) || !strings.Contains(logs.String(), `"insecure_skip_verify":true`) {
				t.Errorf("insecure use not reported: %s", logs.String())
			}
			c.Close()
		}
	}
}

func TestDialErrors(t *testing.T) {
	// Connection refused: a port that was just free.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hp := ln.Addr().String()
	ln.Close()
	_, err = transport.Dial(ctxT(t, 5*time.Second), addrOf(t, hp, transport.TLSNone), testConfig(t))
	var e *transport.Error
	if !errors.As(err, &e) || e.Stage != transport.StageDial || !strings.Contains(e.Hint(), "connection refused") || transport.Classify(err) != transport.ClassConnection {
		t.Fatalf("refused: %v", err)
	}
	// A dialer error (as a proxy's would be) is a dial-stage connection error.
	cfg := testConfig(t)
	cfg.Dialer = failingDialer{}
	logger, logs := newLogger()
	cfg.Logger = logger
	_, err = transport.Dial(ctxT(t, 5*time.Second), addrOf(t, "mail.example.org", transport.TLSNone), cfg)
	if !errors.As(err, &e) || e.Stage != transport.StageDial || transport.Classify(err) != transport.ClassConnection || !strings.Contains(err.Error(), "socks5://127.0.0.1:1080") {
		t.Fatalf("proxy: %v", err)
	}
	if !strings.Contains(logs.String(), `"proxy":"socks5://127.0.0.1:1080"`) || !strings.Contains(logs.String(), `"stage":"dial"`) {
		t.Errorf("log: %s", logs.String())
	}
	// Usage errors.
	for _, c := range []*transport.Config{{HeloName: "bad name"}, {HeloName: "x\r\nMAIL"}, {TLS: transport.TLSMode(42)}} {
		_, err := transport.Dial(ctxT(t, time.Second), addrOf(t, "127.0.0.1:1", transport.TLSNone), c)
		if !errors.Is(err, transport.ErrBadConfig) || transport.Classify(err) != transport.ClassUsage {
			t.Errorf("config %+v: %v", c, err)
		}
	}
	if transport.Classify(authmech.ErrNotOffered) != transport.ClassAuth || transport.Classify(nil) != transport.ClassNone {
		t.Error("Classify of plain errors")
	}
}

type failingDialer struct{}

func (failingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil, errors.New("firewall: socks5 127.0.0.1:1080: general failure")
}
func (failingDialer) Proxy() string { return "socks5://127.0.0.1:1080" }

func TestQueueIDParsing(t *testing.T) {
	for text, want := range map[string]string{
		"Ok: queued as 4Xyz1234AB": "4Xyz1234AB",
		"<DM6PR01MB1234.namprd01.prod.outlook.com> [InternalId=1234567, Hostname=DM6PR01MB1234] Queued mail for delivery": "DM6PR01MB1234.namprd01.prod.outlook.com",
		"OK id=1r5XyZ-000ABC-12":                                        "1r5XyZ-000ABC-12",
		"xA1B2c3D4567 Message accepted for delivery":                    "xA1B2c3D4567",
		"ok 1700000000 qp 12345":                                        "12345",
		"OK  1700000000 d75a77b69052e-42a8b9c0a1si123456qtx.12 - gsmtp": "d75a77b69052e-42a8b9c0a1si123456qtx.12",
		"OK: queued":           "",
		"Message accepted":     "",
		"queued as \x01evil\r": "",
	} {
		if got := transport.ParseQueueID(text); got != want {
			t.Errorf("ParseQueueID(%q) = %q, want %q", text, got, want)
		}
	}
}

// TestClientCertificate: a server that requires a client certificate
// accepts the one in Config.TLSConfig and refuses a client without one.
func TestClientCertificate(t *testing.T) {
	lb := loopback(t)
	srv := &tls.Config{Certificates: []tls.Certificate{lb.Server.TLS()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: lb.CA.Pool()}
	s := smtptest.Start(t, smtptest.Options{TLS: srv, Implicit: true})
	cfg := testConfig(t)
	cfg.TLSConfig = &tls.Config{RootCAs: lb.CA.Pool(), Certificates: []tls.Certificate{lb.Client.TLS()}}
	ctx := ctxT(t, 5*time.Second)
	c, err := transport.Dial(ctx, serverAddr(t, s, transport.TLSImplicit), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(testBody)); err != nil {
		t.Fatal(err)
	}
	c.Quit(ctx)
	// The caller's tls.Config was not modified.
	if cfg.TLSConfig.ServerName != "" || cfg.TLSConfig.MinVersion != 0 {
		t.Errorf("caller's tls.Config modified: %q %x", cfg.TLSConfig.ServerName, cfg.TLSConfig.MinVersion)
	}
	_, err = transport.Dial(ctx, serverAddr(t, s, transport.TLSImplicit), testConfig(t))
	if transport.Classify(err) != transport.ClassConnection {
		t.Errorf("without certificate: %v", err)
	}
}
