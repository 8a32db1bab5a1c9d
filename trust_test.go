package mailwarden

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/peers"
	"mailwarden/internal/smtptest"
	"mailwarden/internal/testcert"
)

// startHTTPSProxy runs an HTTP CONNECT proxy that speaks TLS with cert.
func startHTTPSProxy(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil || req.Method != http.MethodConnect {
					return
				}
				up, err := net.Dial("tcp", req.Host)
				if err != nil {
					io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
					return
				}
				defer up.Close()
				io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestCAFileTrustedForHTTPSProxy: the CA given as ca_file (--ca) was not
// trusted for an https:// proxy, and the hint then said to add it with
// --ca. It is trusted there as for the relay.
func TestCAFileTrustedForHTTPSProxy(t *testing.T) {
	lb, err := testcert.NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, lb.CA.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	proxy := startHTTPSProxy(t, lb.Server.TLS())
	srv := smtptest.Start(t, smtptest.Options{})
	p := Profile{Servers: []string{srv.Addr}, TLS: "none", Timeout: 5 * time.Second, Proxy: Proxy{URL: "https://" + proxy}}
	// Without the CA: a TLS failure at the proxy, whose hint names --ca.
	s, err := NewSender(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Probe(context.Background())
	s.Close()
	if Classify(err) != ClassTLS || !strings.Contains(Hint(err), "--ca") || !strings.Contains(Hint(err), "proxy") {
		t.Fatalf("without ca_file: %v (class %v, hint %q)", err, Classify(err), Hint(err))
	}
	p.CAFile = caFile
	s, err = NewSender(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Probe(context.Background()); err != nil {
		t.Fatalf("with ca_file: %v", err)
	}
}

// TestCAFileTrustedForSyslogTLS: the same for a tcp+tls:// syslog audit
// sink (the real rsyslog peer, whose certificate the test CA issued).
func TestCAFileTrustedForSyslogTLS(t *testing.T) {
	v := peers.Need(t, "MW_SYSLOG_TLS", "MW_TEST_CA")
	p := Profile{Servers: []string{"127.0.0.1:1"}, Audit: AuditConfig{Syslog: "tcp+tls://" + v[0]}}
	if _, err := NewSender(context.Background(), p, nil); err == nil || !strings.Contains(Hint(err), "--ca") {
		t.Fatalf("without ca_file: %v, hint %q", err, Hint(err))
	}
	p.CAFile = v[1]
	s, err := NewSender(context.Background(), p, nil)
	if err != nil {
		t.Fatalf("with ca_file: %v", err)
	}
	s.Close()
}

// TestAuditFailOpenWhenSyslogDownAtStart: --audit-fail-open did not help
// when the syslog server was down as the sender started (exit 2, nothing
// sent). Fail-open sends without it, says so, and the sinks that did open
// record the gap.
func TestAuditFailOpenWhenSyslogDownAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nothing listens there now
	srv := smtptest.Start(t, smtptest.Options{})
	file := filepath.Join(t.TempDir(), "audit.log")
	p := Profile{Servers: []string{srv.Addr}, TLS: "none", Timeout: 5 * time.Second,
		Audit: AuditConfig{File: file, Syslog: "tcp://" + down}}
	_, err = NewSender(context.Background(), p, nil)
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(Hint(err), "--audit-fail-open") {
		t.Fatalf("fail-closed: %v, hint %q", err, Hint(err))
	}
	p.Audit.FailOpen = true
	s, err := NewSender(context.Background(), p, nil)
	if err != nil {
		t.Fatalf("fail-open: %v", err)
	}
	if s.AuditDegraded() == nil {
		t.Error("AuditDegraded is nil")
	}
	_, err = s.Send(context.Background(), &envelope.Message{From: headers.Address{Addr: "a@example.com"},
		To: []headers.Address{{Addr: "b@example.com"}}, Subject: "fail-open", Text: "x"})
	if err != nil || srv.Count() != 1 {
		t.Fatalf("send: %v, %d delivered", err, srv.Count())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(b), "audit.sink_unavailable") {
		t.Errorf("the audit file does not record the gap: %v\n%s", err, b)
	}
}
