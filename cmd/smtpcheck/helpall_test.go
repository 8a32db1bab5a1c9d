package main

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestHelpOnEveryCommand: --help (and -h) works on every command and
// subcommand, prints usage to standard output and exits 0.
func TestHelpOnEveryCommand(t *testing.T) {
	cmds := [][]string{{}, {"config"}, {"config", "check"}, {"config", "show"}, {"config", "presets"}, {"config", "import-xml"},
		{"smime"}, {"smime", "verify"}, {"oauth"}, {"oauth", "login"}, {"oauth", "token"},
		{"outbox"}, {"outbox", "list"}, {"outbox", "retry"}, {"outbox", "purge"}, {"outbox", "run"}}
	for _, c := range commands() {
		cmds = append(cmds, []string{c.name})
	}
	for _, c := range cmds {
		for _, h := range []string{"--help", "-h"} {
			out, stderr, code := runWith(t, nil, "", append(append([]string{}, c...), h)...)
			if code != exitOK || !strings.Contains(strings.ToLower(out), "usage") || stderr != "" {
				t.Errorf("%v %s: exit %d, stdout %.80q, stderr %q", c, h, code, out, stderr)
			}
			// A flag.Value flag without a `NAME` in its usage shows the
			// placeholder "value", which tells an admin nothing.
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[0], "-") && f[1] == "value" {
					t.Errorf("%v %s: flag %s has no placeholder name: %q", c, h, f[0], line)
				}
			}
		}
	}
}

// TestHelpSpellingsOnCommandGroups: the command groups, which take a
// subcommand before any flag, know help as the flag package spells it on
// every command (-help too), and as "help".
func TestHelpSpellingsOnCommandGroups(t *testing.T) {
	for _, c := range [][]string{{}, {"config"}, {"oauth"}, {"outbox"}, {"smime"}, {"demo"}, {"audit"}, {"template"}} {
		for _, h := range []string{"-h", "-help", "--help", "help"} {
			out, stderr, code := runWith(t, nil, "", append(append([]string{}, c...), h)...)
			if code != exitOK || !strings.Contains(strings.ToLower(out), "usage") || stderr != "" {
				t.Errorf("%v %s: exit %d, stdout %.80q, stderr %q", c, h, code, out, stderr)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, stderr, code := runWith(t, nil, "", args...)
		if code != exitOK || !strings.HasPrefix(out, "smtpcheck mailwarden") || !strings.Contains(out, runtime.Version()) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, stderr)
		}
	}
	out, _, code := runWith(t, nil, "", "version", "--json")
	var v buildVersion
	if code != exitOK || json.Unmarshal([]byte(out), &v) != nil || v.Go != runtime.Version() || v.Version == "" {
		t.Errorf("version --json: exit %d, %s", code, out)
	}
	info := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Path: "mailwarden", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := "smtpcheck mailwarden v1.2.3, revision 0123abcd+dirty (2026-12-01T10:00:00Z), go1.99.1"
	if got := readVersion(info, true).String(); got != want {
		t.Errorf("readVersion = %q, want %q", got, want)
	}
	if got := readVersion(nil, false); got.Version != "unknown" || got.Go != runtime.Version() {
		t.Errorf("without build info: %+v", got)
	}
}

// TestConfigCheckReportsEveryProblem: every problem of every profile, and
// secret references that do not resolve here as warnings.
func TestConfigCheckReportsEveryProblem(t *testing.T) {
	conf := writeFile(t, "c.json", `{"active":"a","profiles":[
 {"name":"a","servers":["bad host:25","ok.example.com"],"tls":"sometimes","auth":{"mechanism":"PLAN","password":"env:MW_TEST_UNSET_PW"},"timout":"3s"},
 {"name":"b","servers":["relay.example.com"],"auth":{"password":"file:/nonexistent/pw"},"priority":"asap"},
 {"name":"good","servers":["relay.example.com"],"auth":{"password":"env:MW_TEST_SET_PW"}},
 {"name":"b"}]}`)
	out, stderr, code := runWith(t, map[string]string{"MW_TEST_SET_PW": "x"}, "", "config", "check", conf)
	if code != exitUsage {
		t.Errorf("exit %d, want 2", code)
	}
	for _, want := range []string{"profile a: timout: unknown field", "profile a: servers[0]: ", "profile a: tls: ", "profile a: auth.mechanism: ",
		"profile b: priority: ", "profile b: name: two profiles have this name", "profile b: servers: at least one server",
		"warning: mailwarden: " + conf + ": profile a: auth.password: env:MW_TEST_UNSET_PW does not resolve on this machine",
		"warning: mailwarden: " + conf + ": profile b: auth.password: file:/nonexistent/pw does not resolve", "7 problem(s)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "MW_TEST_SET_PW") || !strings.Contains(out, "ok  good") || !strings.Contains(out, "BAD a (active)") {
		t.Errorf("stdout %q, stderr %q", out, stderr)
	}
	// Warnings alone do not fail the check.
	warnOnly := writeFile(t, "w.json", `{"profiles":[{"name":"w","servers":["relay.example.com"],"auth":{"password":"env:MW_TEST_UNSET_PW"}}]}`)
	out, stderr, code = runWith(t, nil, "", "config", "check", warnOnly)
	if code != exitOK || !strings.Contains(out, "ok  w") || !strings.Contains(stderr, "warning: ") {
		t.Errorf("warnings only: exit %d, %q %q", code, out, stderr)
	}
}

// TestAllowPlaintextAuthHelpNamesEveryMechanism: the help names every
// mechanism the option lets run without TLS (authmech refuses each of them
// with ErrPlaintextRefused otherwise).
func TestAllowPlaintextAuthHelpNamesEveryMechanism(t *testing.T) {
	out, _, _ := runWith(t, nil, "", "probe", "--help")
	i := strings.Index(out, "-allow-plaintext-auth")
	if i < 0 {
		t.Fatal("no --allow-plaintext-auth in probe --help")
	}
	help := out[i:]
	help = help[:strings.Index(help, "\n  -")]
	for _, m := range []string{"PLAIN", "LOGIN", "NTLM", "XOAUTH2", "OAUTHBEARER"} {
		if !strings.Contains(help, m) {
			t.Errorf("--allow-plaintext-auth help lacks %s: %q", m, help)
		}
	}
}
