package main

import (
	"bytes"
	"flag"
	"io"
	"testing"
	"time"
)

// overlayProfile parses args as probe's connection flags over the file conf.
func overlayProfile(t *testing.T, conf string, args ...string) *connFlags {
	t.Helper()
	var c connFlags
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.register(fs)
	if err := fs.Parse(append([]string{"--config", conf}, args...)); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestConfigOverlayAppliesOnlyFlagsGiven(t *testing.T) {
	conf := writeFile(t, "c.json", `{"profiles":[{"name":"p","servers":["relay.example.com:465-ssl"],"tls":"implicit",
		"timeout":"5s","helo":"me.example.com","auth":{"mechanism":"PLAIN","username":"u"}}]}`)
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}

	// No flags: every value is the profile's, not a flag default
	// (--tls auto, --timeout 30s, --transport smtp).
	c := overlayProfile(t, conf)
	p, _, err := c.profile(e)
	if err != nil {
		t.Fatal(err)
	}
	if p.TLS != "implicit" || p.Timeout != 5*time.Second || p.HeloName != "me.example.com" ||
		p.Auth.Mechanism != "PLAIN" || p.Auth.Username != "u" || len(p.Servers) != 1 || p.Transport != "" {
		t.Errorf("flag defaults overrode the profile: %+v", p)
	}

	// Flags given explicitly override, and only those.
	c = overlayProfile(t, conf, "--tls", "explicit", "--timeout", "9s", "--provider", "gmail")
	p, _, err = c.profile(e)
	if err != nil {
		t.Fatal(err)
	}
	if p.TLS != "explicit" || p.Timeout != 9*time.Second || p.HeloName != "me.example.com" {
		t.Errorf("explicit flags not applied: tls %q timeout %v helo %q", p.TLS, p.Timeout, p.HeloName)
	}
	if p.Provider != "gmail" {
		t.Errorf("--provider given with --config was ignored: provider %q", p.Provider)
	}
}
