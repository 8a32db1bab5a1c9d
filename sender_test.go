package mailwarden

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailwarden/internal/testcert"
)

func TestNewSenderConfigErrorsNameTheField(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		p     Profile
		field string
	}{
		{"no server", Profile{Name: "p"}, "servers"},
		{"bad server", Profile{Name: "p", Servers: []string{"mail.example.com:x-ssl"}}, "servers[0]"},
		{"bad tls", Profile{Servers: []string{"mail.example.com"}, TLS: "sometimes"}, "tls"},
		{"negative timeout", Profile{Servers: []string{"mail.example.com"}, Timeout: -1}, "timeout"},
		{"missing ca", Profile{Servers: []string{"mail.example.com"}, CAFile: filepath.Join(dir, "none.pem")}, "ca_file"},
		{"ca not pem", Profile{Servers: []string{"mail.example.com"}, CAFile: notPEM}, "ca_file"},
		{"client pem and p12", Profile{Servers: []string{"m.example.com"}, ClientCertFile: "a", ClientKeyFile: "b", ClientP12File: "c"}, "client_p12_file"},
		{"proxy scheme", Profile{Servers: []string{"m.example.com"}, Proxy: Proxy{URL: "ftp://proxy:21"}}, "proxy.url"},
		{"proxy type", Profile{Servers: []string{"m.example.com"}, Proxy: Proxy{Type: "carrier-pigeon", Host: "p"}}, "proxy.type"},
		{"proxy password ref", Profile{Servers: []string{"m.example.com"}, Proxy: Proxy{URL: "socks5://p:1080", User: "u", Password: "env:MW_NOPE_UNSET"}}, "proxy.password"},
		{"audit key without file", Profile{Servers: []string{"m.example.com"}, Audit: AuditConfig{KeyFile: "k"}}, "audit.key_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSender(context.Background(), tt.p, &Options{Getenv: func(string) string { return "" }})
			var ce *ConfigError
			if !errors.As(err, &ce) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("err = %v, want *ConfigError", err)
			}
			if ce.Field != tt.field || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("field = %q (%v), want %q", ce.Field, err, tt.field)
			}
		})
	}
}

func TestNewSenderClientP12WrongPasswordLeaksNothing(t *testing.T) {
	lb, err := testcert.NewLoopback()
	if err != nil {
		t.Fatal(err)
	}
	p12, err := lb.Client.PKCS12("right-password")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "client.p12")
	if err := os.WriteFile(f, p12, 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "P12PW" {
			return "Wr0ng-Passw0rd-XYZ"
		}
		return ""
	}
	_, err = NewSender(context.Background(), Profile{Servers: []string{"m.example.com"}, ClientP12File: f, ClientP12Password: "env:P12PW"}, &Options{Getenv: getenv})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "client_p12_file" {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "Wr0ng-Passw0rd-XYZ") {
		t.Errorf("error reveals the password: %v", err)
	}
	getenv2 := func(k string) string { return map[string]string{"P12PW": "right-password"}[k] }
	s, err := NewSender(context.Background(), Profile{Servers: []string{"m.example.com"}, ClientP12File: f, ClientP12Password: "env:P12PW"}, &Options{Getenv: getenv2})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.delivery.(*smtpDelivery).session.TLSConfig.Certificates; len(got) != 1 || !got[0].Leaf.Equal(lb.Client.Cert) {
		t.Errorf("client certificate not loaded: %v", got)
	}
	s.Close()
}

func TestProxyAutoFromEnvironment(t *testing.T) {
	env := map[string]string{"ALL_PROXY": "socks5h://proxy.internal:1080", "NO_PROXY": "localhost"}
	getenv := func(k string) string { return env[k] }
	s, err := NewSender(context.Background(), Profile{Servers: []string{"smtp.example.com:587"}, Proxy: Proxy{URL: "auto"}}, &Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	proxy, reason := s.Proxy()
	if !strings.Contains(proxy, "proxy.internal:1080") || !strings.Contains(reason, "ALL_PROXY") {
		t.Errorf("proxy = %q, reason %q", proxy, reason)
	}
	// Servers the environment routes differently are refused, not guessed.
	_, err = NewSender(context.Background(), Profile{Servers: []string{"smtp.example.com", "localhost"}, Proxy: Proxy{URL: "auto"}}, &Options{Getenv: getenv})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "proxy.url" {
		t.Errorf("mixed routing: %v", err)
	}
	// A malformed environment is an error, never a silent direct connection.
	env["ALL_PROXY"] = "gopher://x"
	_, err = NewSender(context.Background(), Profile{Servers: []string{"smtp.example.com"}, Proxy: Proxy{URL: "auto"}}, &Options{Getenv: getenv})
	if !errors.As(err, &ce) {
		t.Errorf("bad ALL_PROXY: %v", err)
	}
}
