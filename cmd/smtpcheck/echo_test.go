package main

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailwarden/internal/smtptest"
)

// TestEchoedPasswordNotPrinted: a relay that reflects the password in its
// 535 (plain, in the base64 AUTH payload, in hex) gets none of it onto
// stderr or into --json output; the refusal itself is reported (exit 4).
func TestEchoedPasswordNotPrinted(t *testing.T) {
	const pw = "Echoed-Cli-Passw0rd-52"
	addr := smtptest.Hostile(t, smtptest.EchoCredentials)
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte(pw), 0o600)
	forms := []string{pw, strings.ToUpper(pw), hex.EncodeToString([]byte(pw)), base64.StdEncoding.EncodeToString([]byte(pw)),
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + pw))}
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		for _, cmd := range [][]string{
			{"send", "--from", "a@example.com", "--to", "b@example.com", "--subject", "x", "--body", "y"},
			{"probe"},
		} {
			for _, json := range []bool{false, true} {
				args := append(cmd, "--server", addr+"-nossl", "--auth", mech, "--user", "alice", "--password-file", pwFile, "--allow-plaintext-auth")
				if json {
					args = append(args, "--json")
				}
				out, stderr, code := runWith(t, nil, "", args...)
				if code != exitAuth || !strings.Contains(out+stderr, "535") {
					t.Fatalf("%v: exit %d, want 4 and the 535\n%s\n%s", args, code, out, stderr)
				}
				for _, f := range forms {
					if strings.Contains(out+stderr, f) {
						t.Errorf("%s %s json=%v: the echoed password (%s) was printed:\n%s\n%s", mech, cmd[0], json, f, out, stderr)
					}
				}
			}
		}
	}
}
