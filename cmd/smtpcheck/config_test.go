package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailwarden"
	"mailwarden/internal/oauthtest"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSendWithConfigProfileAndOverrides(t *testing.T) {
	r, ca := startRelay(t)
	pw := writeFile(t, "pw", "relay-pw-1\n")
	conf := writeFile(t, "mailwarden.json", `{
  "active": "wrong",
  "profiles": [
    {"name": "wrong", "servers": ["127.0.0.1:1"], "timeout": "2s"},
    {"name": "relay", "servers": ["`+r.Addr()+`-starttls"], "ca_file": "`+ca+`",
     "from": "Alerts <alerts@example.com>", "organization": "Example Corp", "priority": "urgent",
     "auth": {"mechanism": "auto", "username": "demo", "password": "file:`+pw+`"}}
  ]
}`)
	_, stderr, code := runWith(t, nil, "", "send", "--config", conf, "--profile", "relay", "--to", "ops@example.com", "--subject", "from a profile", "--body", "hi")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	msgs := r.Messages()
	if len(msgs) != 1 {
		t.Fatalf("relay got %d messages", len(msgs))
	}
	data := string(msgs[0].Data)
	for _, want := range []string{"From: Alerts <alerts@example.com>", "Organization: Example Corp", "Priority: urgent"} {
		if !strings.Contains(data, want) {
			t.Errorf("message lacks %q (profile defaults):\n%s", want, data)
		}
	}
	// A flag overrides the file: the active profile points at a dead port,
	// --server sends it to the relay instead.
	_, stderr, code = runWith(t, map[string]string{"MAILWARDEN_CONFIG": conf}, "", "send", "--server", r.Addr()+"-starttls", "--ca", ca,
		"--auth", "auto", "--user", "demo", "--password-file", pw, "--from", "a@example.com", "--to", "ops@example.com", "--subject", "x", "--body", "y")
	if code != exitOK {
		t.Fatalf("override: exit %d: %s", code, stderr)
	}
	if len(r.Messages()) != 2 {
		t.Fatalf("relay got %d messages", len(r.Messages()))
	}
	// Without the override, the active profile's dead server: exit 3.
	_, _, code = runWith(t, map[string]string{"MAILWARDEN_CONFIG": conf}, "", "probe")
	if code != exitConnection {
		t.Errorf("probe of the dead active profile: exit %d, want %d", code, exitConnection)
	}
	_, stderr, code = runWith(t, nil, "", "probe", "--config", conf, "--profile", "nope")
	if code != exitUsage || !strings.Contains(stderr, "no such profile") || !strings.Contains(stderr, "wrong, relay") {
		t.Errorf("unknown profile: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runWith(t, nil, "", "probe", "--profile", "relay")
	if code != exitUsage || !strings.Contains(stderr, "--config") {
		t.Errorf("--profile alone: exit %d, stderr %q", code, stderr)
	}
}

func TestConfigCommands(t *testing.T) {
	conf := writeFile(t, "c.json", `{"profiles":[{"name":"o365","provider":"exchange-online","from":"a@example.com"}]}`)
	out, stderr, code := runWith(t, nil, "", "config", "check", conf)
	if code != exitOK || !strings.Contains(out, "ok  o365") {
		t.Fatalf("check: exit %d, %q %q", code, out, stderr)
	}
	out, _, code = runWith(t, nil, "", "config", "show", "--config", conf)
	var p mailwarden.Profile
	if code != exitOK || json.Unmarshal([]byte(out), &p) != nil || p.Servers[0] != "smtp.office365.com:587-starttls" || p.Auth.Mechanism != "XOAUTH2" {
		t.Fatalf("show: exit %d, %s", code, out)
	}
	bad := writeFile(t, "bad.json", `{"profiles":[{"name":"x","servers":["m.example.com"],"auth":{"pasword":"env:X"}}]}`)
	_, stderr, code = runWith(t, nil, "", "config", "check", bad)
	if code != exitUsage || !strings.Contains(stderr, "profile x: pasword: unknown field") || !strings.Contains(stderr, bad) {
		t.Errorf("bad config: exit %d, %q", code, stderr)
	}
	out, _, code = runWith(t, nil, "", "config", "presets")
	for _, name := range []string{"exchange-online", "exchange-online-usgov", "exchange-online-china", "gmail", "outlook.com", "yahoo", "custom"} {
		if code != exitOK || !strings.Contains(out, name) {
			t.Errorf("presets lack %s:\n%s", name, out)
		}
	}
	xml := writeFile(t, "s.xml", `<SMTP><Host>mail.example.com</Host><HostPort>465-ssl</HostPort><LoginMethod>CRAM-MD5</LoginMethod><User>u</User><Password>Inline-Secret-9</Password><From>a@example.com</From></SMTP>`)
	out, stderr, code = runWith(t, nil, "", "config", "import-xml", "--name", "legacy", xml)
	if code != exitOK || strings.Contains(out, "Inline-Secret-9") || !strings.Contains(stderr, "NOT copied") {
		t.Fatalf("import-xml: exit %d, out %s, stderr %s", code, out, stderr)
	}
	imported := writeFile(t, "imported.json", out)
	if _, stderr, code := runWith(t, nil, "", "config", "check", imported); code != exitOK {
		t.Errorf("the imported config does not load: %s", stderr)
	}
	out, _, code = runWith(t, nil, "", "config", "import-xml", "--password-ref", "env:SMTP_PW", xml)
	if code != exitOK || !strings.Contains(out, `"password": "env:SMTP_PW"`) || !strings.Contains(out, `"mail.example.com:465-ssl"`) {
		t.Errorf("import-xml with ref: %s", out)
	}
}

func TestProviderFlagFillsServerAndTLS(t *testing.T) {
	// A provider preset with a dead override server, so nothing leaves
	// this host: the probe fails to connect (exit 3) and its JSON shows the
	// preset's TLS mode and the server given.
	_, stderr, code := runWith(t, nil, "", "probe", "--provider", "gmail", "--server", "127.0.0.1:1")
	if code != exitUsage || !strings.Contains(stderr, "XOAUTH2 needs a user name and a token") {
		t.Errorf("preset mechanism without a token: exit %d, %s", code, stderr)
	}
	out, _, code := runWith(t, nil, "", "probe", "--provider", "gmail", "--server", "127.0.0.1:1", "--auth", "none", "--timeout", "2s", "--json")
	if code != exitConnection {
		t.Fatalf("exit %d, want %d: %s", code, exitConnection, out)
	}
	if !strings.Contains(out, "127.0.0.1:1") {
		t.Errorf("probe output does not name the server: %s", out)
	}
	_, stderr, code = runWith(t, nil, "", "probe", "--provider", "aol")
	if code != exitUsage || !strings.Contains(stderr, "unknown provider") {
		t.Errorf("unknown provider: exit %d, %s", code, stderr)
	}
}

func TestProbeJSONShowsARefusedToken(t *testing.T) {
	idp := oauthtest.New(t, oauthtest.Options{})
	conf := writeFile(t, "c.json", `{"profiles":[{"name":"o365","servers":["127.0.0.1:1"],"tls":"none","timeout":"2s",
	  "auth":{"mechanism":"XOAUTH2","username":"a@contoso.com","oauth":{"flow":"client_credentials","client_id":"`+idp.ClientID()+`",
	  "client_secret":"env:WRONG_SECRET","token_url":"`+idp.URL+`/token","scopes":["s"]}}}]}`)
	out, _, code := runWith(t, map[string]string{"WRONG_SECRET": "nope"}, "", "probe", "--config", conf, "--json")
	if code != exitAuth {
		t.Fatalf("exit %d, want %d: %s", code, exitAuth, out)
	}
	var got probeOut
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.OAuth == nil || got.OAuth.Flow != "client_credentials" || got.OAuth.Error == nil || got.OAuth.Error.Stage != "oauth" ||
		got.Error == nil || got.Error.ExitCode != exitAuth || !strings.Contains(got.Error.Message, "invalid_client") {
		t.Errorf("probe JSON: %s", out)
	}
	text, _, code := runWith(t, map[string]string{"WRONG_SECRET": "nope"}, "", "probe", "--config", conf)
	if code != exitAuth || !strings.Contains(text, "oauth     client_credentials token: FAILED") {
		t.Errorf("probe text (exit %d): %s", code, text)
	}
}

// TestConfigShowWithAnotherProfileBroken: one bad profile broke config
// show (and send) of every other profile in the file.
func TestConfigShowWithAnotherProfileBroken(t *testing.T) {
	conf := writeFile(t, "c.json", `{"profiles":[{"name":"good","servers":["relay.example.com:587"]},
		{"name":"bad","servers":["relay.example.com:x-ssl"]}]}`)
	out, stderr, code := runWith(t, nil, "", "config", "show", "--config", conf, "--profile", "good")
	if code != exitOK || !strings.Contains(out, "relay.example.com:587") {
		t.Fatalf("good: exit %d\n%s%s", code, out, stderr)
	}
	_, stderr, code = runWith(t, nil, "", "config", "show", "--config", conf, "--profile", "bad")
	if code != exitUsage || !strings.Contains(stderr, "servers[0]") {
		t.Fatalf("bad: exit %d: %s", code, stderr)
	}
	_, stderr, code = runWith(t, nil, "", "config", "check", conf)
	if code == exitOK {
		t.Fatalf("config check passes a file with a bad profile: %s", stderr)
	}
}
