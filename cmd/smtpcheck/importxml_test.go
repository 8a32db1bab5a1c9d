package main

import (
	"encoding/json"
	"strings"
	"testing"

	"mailwarden"
)

// TestImportXMLSenderNameAndReadableOutput: <SenderName> becomes From's
// display name, and the output has < and > as typed (not \u003c).
func TestImportXMLSenderNameAndReadableOutput(t *testing.T) {
	xml := writeFile(t, "s.xml", `<Settings><SMTP><Host>mail.example.com</Host><HostPort>587-starttls</HostPort>
<From>alerts@example.com</From><SenderName>Doe, Jane</SenderName><Password>env:SMTP_PW</Password></SMTP></Settings>`)
	out, stderr, code := runWith(t, nil, "", "config", "import-xml", xml)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(out, `\u003c`) || !strings.Contains(out, `"from": "\"Doe, Jane\" <alerts@example.com>"`) {
		t.Errorf("output:\n%s", out)
	}
	var c mailwarden.Config
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.Profiles[0].From != `"Doe, Jane" <alerts@example.com>` {
		t.Errorf("parsed %+v (%v)", c, err)
	}
	if strings.Contains(stderr, "SenderName") {
		t.Errorf("SenderName reported as skipped: %s", stderr)
	}
	conf := writeFile(t, "c.json", out)
	out, _, code = runWith(t, nil, "", "config", "show", "--config", conf)
	if code != exitOK || strings.Contains(out, `\u003c`) || !strings.Contains(out, "<alerts@example.com>") {
		t.Errorf("config show: exit %d\n%s", code, out)
	}
}

// TestImportXMLUnknownLoginMethodListsAccepted: the error says what would
// have been accepted.
func TestImportXMLUnknownLoginMethodListsAccepted(t *testing.T) {
	xml := writeFile(t, "s.xml", `<SMTP><Host>mail.example.com</Host><LoginMethod>NtlmMethod</LoginMethod></SMTP>`)
	_, stderr, code := runWith(t, nil, "", "config", "import-xml", xml)
	for _, want := range []string{`unknown login method "NtlmMethod"`, "AuthLoginMethod", "CramMD5Method", "KERBEROS", "NTLM", "GSSAPI", "auto or none"} {
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr %q lacks %q", code, stderr, want)
		}
	}
}

func TestImportXMLHelpSaysWhatItReads(t *testing.T) {
	out, _, code := runWith(t, nil, "", "config", "import-xml", "--help")
	for _, want := range []string{"<SMTP>", "<Host>", "<HostPort>", "<LoginMethod>", "<Password>", "<SenderName>", "--password-ref"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}
