package main

import (
	"bytes"
	"flag"
	"io"
	"reflect"
	"testing"
	"time"

	"mailwarden"
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

// TestEveryProfileFlagOverlaysAsGiven: each flag bound to a profile field
// sets the same value on a --config profile as on the flags' own profile,
// so a new flag needs one line in bindProfile and nothing else.
func TestEveryProfileFlagOverlaysAsGiven(t *testing.T) {
	var flagsOnly mailwarden.Profile
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	bindProfile(fs, &flagsOnly, cliSecrets{})
	var args []string
	fs.VisitAll(func(f *flag.Flag) {
		v := "v-" + f.Name
		switch f.DefValue {
		case "false":
			v = "true"
		case "0":
			v = "7"
		case "30s":
			v = "7s"
		}
		args = append(args, "--"+f.Name+"="+v)
	})
	// Flags that clear each other are given one at a time.
	for _, arg := range args {
		flagsOnly = mailwarden.Profile{}
		fs = flag.NewFlagSet("t", flag.ContinueOnError)
		bindProfile(fs, &flagsOnly, cliSecrets{})
		if err := fs.Parse([]string{arg}); err != nil {
			t.Fatal(err)
		}
		var fromFile mailwarden.Profile
		over := flag.NewFlagSet("o", flag.ContinueOnError)
		bindProfile(over, &fromFile, cliSecrets{})
		fs.Visit(func(f *flag.Flag) {
			if err := over.Set(f.Name, f.Value.String()); err != nil {
				t.Fatal(err)
			}
		})
		if !reflect.DeepEqual(flagsOnly, fromFile) {
			t.Errorf("%s: flags %+v, overlay %+v", arg, flagsOnly, fromFile)
		}
	}
	if len(args) < 35 {
		t.Errorf("only %d profile flags", len(args))
	}
}
