package mailwarden

import (
	"errors"
	"testing"

	"mailwarden/audit"
)

// TestProfileAuditAnchorAndSyslogPolicy: audit.anchor_file needs
// audit.file; a udp syslog cannot hold a fail-closed trail and is refused
// unless audit.fail_open; relp is accepted.
func TestProfileAuditAnchorAndSyslogPolicy(t *testing.T) {
	base := Profile{Name: "p", Servers: []string{"relay.example.com:25"}, TLS: "none"}
	var ce *ConfigError
	p := base
	p.Audit = AuditConfig{AnchorFile: "/x/anchor"}
	if err := p.Validate(); !errors.As(err, &ce) || ce.Field != "audit.anchor_file" {
		t.Errorf("anchor without file: %v", err)
	}
	p.Audit = AuditConfig{File: "/x/audit.log", AnchorFile: "/y/anchor"}
	if err := p.Validate(); err != nil {
		t.Errorf("anchor with file: %v", err)
	}
	p.Audit = AuditConfig{Syslog: "udp://127.0.0.1:514"}
	if err := p.Validate(); !errors.As(err, &ce) || ce.Field != "audit.syslog" || !errors.Is(err, audit.ErrSyslogFailOpenOnly) {
		t.Errorf("udp fail-closed: %v", err)
	}
	p.Audit.FailOpen = true
	if err := p.Validate(); err != nil {
		t.Errorf("udp fail-open: %v", err)
	}
	for _, u := range []string{"relp://127.0.0.1:2514?timeout=2s", "relp+tls://logs.example.com?ca=/ca.pem&cert=/c.pem&key=/c.key"} {
		p.Audit = AuditConfig{Syslog: u}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	p.Audit = AuditConfig{Syslog: "relp://127.0.0.1:2514?cert=/c.pem"}
	if err := p.Validate(); !errors.As(err, &ce) || ce.Field != "audit.syslog" {
		t.Errorf("relp with cert: %v", err)
	}
}

// TestProfileAuditSync: audit.sync takes every, interval or none and needs
// audit.file; anything else is a configuration error naming the field.
func TestProfileAuditSync(t *testing.T) {
	base := Profile{Name: "p", Servers: []string{"relay.example.com:25"}, TLS: "none"}
	var ce *ConfigError
	p := base
	for _, s := range []string{"", "every", "interval", "none"} {
		p.Audit = AuditConfig{File: "/x/audit.log", Sync: s}
		if err := p.Validate(); err != nil {
			t.Errorf("sync %q: %v", s, err)
		}
	}
	p.Audit = AuditConfig{File: "/x/audit.log", Sync: "always"}
	if err := p.Validate(); !errors.As(err, &ce) || ce.Field != "audit.sync" {
		t.Errorf("sync always: %v", err)
	}
	p.Audit = AuditConfig{Sync: "none"}
	if err := p.Validate(); !errors.As(err, &ce) || ce.Field != "audit.sync" {
		t.Errorf("sync without file: %v", err)
	}
}
