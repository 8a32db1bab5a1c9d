package mailwarden

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProxyURLInlinePasswordRefused: "socks5h://user:PASS@host" in a
// profile is refused by LoadConfig, Validate and NewSender with a
// ConfigError on proxy.url that points to proxy.password, and no error
// repeats the password. A user name alone in the URL is fine.
func TestProxyURLInlinePasswordRefused(t *testing.T) {
	const pw = "Inline-Proxy-Passw0rd-7"
	for _, u := range []string{"socks5h://alerts:" + pw + "@proxy.example.com:1080", "http://alerts:" + pw + "@proxy.example.com:3128", "socks5://:" + pw + "@proxy.example.com"} {
		p := Profile{Name: "inline", Servers: []string{"mail.example.com:587"}, Proxy: Proxy{URL: u}}
		dir := t.TempDir()
		file := filepath.Join(dir, "mailwarden.json")
		os.WriteFile(file, []byte(`{"profiles":[{"name":"inline","servers":["mail.example.com:587"],"proxy":{"url":"`+u+`"}}]}`), 0o600)
		_, lerr := LoadConfig(file)
		_, serr := NewSender(context.Background(), p, &Options{Getenv: func(string) string { return "" }})
		for name, err := range map[string]error{"LoadConfig": lerr, "Validate": p.Validate(), "NewSender": serr} {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != "proxy.url" || !strings.Contains(err.Error(), "proxy.password") {
				t.Errorf("%s(%s): %v, want a ConfigError on proxy.url pointing to proxy.password", name, u, err)
				continue
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("%s: the error repeats the password: %v", name, err)
			}
		}
	}
	p := Profile{Name: "fields", Servers: []string{"mail.example.com:587"}, Proxy: Proxy{URL: "socks5h://proxy.example.com:1080", User: "alerts", Password: "env:PROXY_PW"}}
	if err := p.Validate(); err != nil {
		t.Errorf("the password as a reference: %v", err)
	}
}
