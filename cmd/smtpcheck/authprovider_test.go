package main

import (
	"runtime"
	"strings"
	"testing"
)

// TestAuthProviderSSPIOutsideWindows: --auth-provider sspi and a profile's
// auth.provider "sspi" are configuration errors (exit 2) on this system,
// from send and from config check, naming the field and saying why, without
// the password.
func TestAuthProviderSSPIOutsideWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SSPI exists here")
	}
	const pw = "sspi-cli-secret-never-shown"
	env := map[string]string{"MAILWARDEN_PASSWORD": pw}
	out, stderr, code := runWith(t, env, "", "send", "--server", "relay.example.com:587", "--auth", "ntlm", "--auth-provider", "sspi",
		"--user", `CORP\svc`, "--from", "a@example.com", "--to", "b@example.com", "--subject", "x")
	if code != exitUsage || !strings.Contains(stderr, "auth.provider") || !strings.Contains(stderr, "Windows-only") || strings.Contains(out+stderr, pw) {
		t.Errorf("send: exit %d, want %d naming auth.provider\nstdout: %s\nstderr: %s", code, exitUsage, out, stderr)
	}
	conf := writeFile(t, "sspi.json", `{"profiles":[{"name":"relay","servers":["relay.example.com:587"],
		"auth":{"provider":"sspi","mechanism":"NTLM","username":"CORP\\svc","password":"env:MAILWARDEN_PASSWORD"}}]}`)
	out, stderr, code = runWith(t, env, "", "config", "check", conf)
	if code != exitUsage || !strings.Contains(out+stderr, "auth.provider") || !strings.Contains(out+stderr, "Windows-only") {
		t.Errorf("config check: exit %d, want %d naming auth.provider\nstdout: %s\nstderr: %s", code, exitUsage, out, stderr)
	}
	out, _, _ = runWith(t, nil, "", "send", "--help")
	if !strings.Contains(out, "-auth-provider") {
		t.Errorf("send --help does not mention --auth-provider")
	}
}
