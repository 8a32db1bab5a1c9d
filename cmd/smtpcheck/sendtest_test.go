package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
)

// TestSendTestToProfileDefaultsThroughPostfix is "Send test email": the
// canned message goes to the profile's default To and Cc through the real
// Postfix, the JSON names its Message-ID, and the audit trail marks it
// test: true.
func TestSendTestToProfileDefaultsThroughPostfix(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_STARTTLS", "MW_POSTFIX_MAILDIR", "MW_TEST_CA")
	dir := t.TempDir()
	trail := filepath.Join(dir, "audit.log")
	conf := writeFile(t, "mw.json", `{"profiles":[{"name":"alerts","servers":["`+v[0]+`"],"tls":"explicit",
		"ca_file":"`+v[2]+`","from":"Alerts <alerts@example.com>","to":"ops@example.com","cc":"Jane <jane@example.org>",
		"audit":{"file":"`+trail+`"}}]}`)
	out, stderr, code := runWith(t, nil, "", "send", "--test", "--config", conf, "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res sendOut
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.OK || res.QueueID == "" {
		t.Fatalf("result %s (%v)", out, err)
	}
	if strings.ContainsAny(res.MessageID, "<> ") || !strings.HasSuffix(res.MessageID, "@example.com") {
		t.Errorf("message_id = %q", res.MessageID)
	}
	if len(res.Recipients) != 2 || res.Recipients[0].Addr != "ops@example.com" || res.Recipients[1].Addr != "jane@example.org" {
		t.Errorf("recipients = %+v, want the profile's to and cc", res.Recipients)
	}
	got := waitDelivered(t, v[1], res.QueueID)
	for _, want := range []string{"Subject: Mailwarden test message (profile alerts)\r\n", "To: ops@example.com\r\n",
		"Cc: Jane <jane@example.org>\r\n", "Message-ID: <" + res.MessageID + ">\r\n", "This is a test message. If you can read it, the mail settings work."} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("delivered message lacks %q:\n%s", want, got)
		}
	}
	records, err := os.ReadFile(trail)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(string(records), "\n") {
		var r struct {
			Msg       string `json:"msg"`
			Test      bool   `json:"test"`
			MessageID string `json:"message_id"`
		}
		if json.Unmarshal([]byte(line), &r) == nil && r.Msg == "smtp.send" {
			found = true
			if !r.Test || r.MessageID != res.MessageID {
				t.Errorf("smtp.send record %s: want test: true and message_id %s", line, res.MessageID)
			}
		}
	}
	if !found {
		t.Errorf("no smtp.send record in the trail:\n%s", records)
	}

	// --to replaces the profile's recipients; the human output names the
	// Message-ID.
	out, stderr, code = runWith(t, nil, "", "send", "--test", "--config", conf, "--to", "other@example.net")
	if code != exitOK || !strings.Contains(out, "rcpt      other@example.net") || strings.Contains(out, "ops@example.com") ||
		!strings.Contains(out, "message   ") || !strings.Contains(out, "@example.com\n") {
		t.Errorf("--test --to: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func TestSendTestUsage(t *testing.T) {
	r, ca := startRelay(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "a@example.com"}, "smtpcheck send: --test needs recipients: give --to\n"},
		{[]string{"--to", "b@example.com"}, "smtpcheck send: --test needs a sender: give --from\n"},
		{[]string{"--from", "a@example.com", "--to", "b@example.com", "--subject", "x"}, "--subject does not apply"},
		{[]string{"--from", "a@example.com", "--to", "b@example.com", "--data", "-"}, "--data does not apply"},
		{[]string{"--from", "a@example.com", "--to", "b@example.com", "--cc", "not an address"}, "--cc:"},
	} {
		args := append([]string{"send", "--test", "--server", r.Addr() + "-starttls", "--ca", ca}, c.args...)
		_, stderr, code := runWith(t, nil, "", args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	// With a configuration file the profile is the other place to say it.
	conf := writeFile(t, "mw.json", `{"profiles":[{"name":"alerts","servers":["`+r.Addr()+`-starttls"],"ca_file":"`+ca+`"}]}`)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "a@example.com"}, `smtpcheck send: --test needs recipients: give --to (or set "to" in the profile alerts)` + "\n"},
		{[]string{"--to", "b@example.com"}, `smtpcheck send: --test needs a sender: give --from (or set "from" in the profile alerts)` + "\n"},
	} {
		args := append([]string{"send", "--test", "--config", conf}, c.args...)
		_, stderr, code := runWith(t, nil, "", args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("--config %v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	if len(r.Messages()) != 0 {
		t.Error("a refused --test sent mail")
	}
}

// TestSendFailurePrintsNoSentLine: a refused send does not claim "sent 0
// bytes".
func TestSendFailurePrintsNoSentLine(t *testing.T) {
	r, ca := startRelay(t)
	out, _, code := runWith(t, nil, "", "send", "--server", r.Addr()+"-starttls", "--ca", ca,
		"--from", "a@example.com", "--to", "b@example.com", "--subject", "x", "--body", "y")
	if code != exitAuth || strings.Contains(out, "sent") || strings.Contains(out, "message   ") {
		t.Errorf("exit %d, stdout %q; want no sent line", code, out)
	}
}

// TestSendAutoTLSUnencryptedWarns: when --tls auto finds no STARTTLS
// (the real Postfix plain port), send says the message went unencrypted,
// as probe does, and warns; with --tls none it says so without the
// warning.
func TestSendAutoTLSUnencryptedWarns(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_PLAIN", "MW_POSTFIX_STARTTLS", "MW_TEST_CA")
	tag := "auto-plain-" + time.Now().Format("150405.000000000")
	out, stderr, code := runWith(t, nil, "", "send", "--server", v[0], "--from", "a@example.com", "--to", "b@example.com", "--subject", tag, "--body", "x")
	if code != exitOK || !strings.Contains(out, "tls       none: this message was sent unencrypted") || !strings.Contains(stderr, "WARNING: the message went unencrypted") {
		t.Errorf("plain: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	out, _, code = runWith(t, nil, "", "send", "--server", v[0], "--from", "a@example.com", "--to", "b@example.com", "--subject", tag, "--body", "x", "--json")
	var res sendOut
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || !res.Unencrypted {
		t.Errorf("plain --json: exit %d, %s; want unencrypted: true", code, out)
	}
	out, stderr, code = runWith(t, nil, "", "send", "--server", v[1], "--ca", v[2], "--from", "a@example.com", "--to", "b@example.com", "--subject", tag, "--body", "x")
	if code != exitOK || strings.Contains(out, "unencrypted") || strings.Contains(stderr, "unencrypted") {
		t.Errorf("starttls: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	// Asked for no TLS (--tls none): the message went as asked; it says
	// so, without the warning that blames TLS auto.
	out, stderr, code = runWith(t, nil, "", "send", "--server", v[0], "--tls", "none", "--from", "a@example.com", "--to", "b@example.com", "--subject", tag, "--body", "x")
	if code != exitOK || !strings.Contains(out, "tls       none: this message was sent unencrypted") || strings.Contains(stderr, "WARNING") || strings.Contains(stderr, "auto") {
		t.Errorf("--tls none: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// TestTranscriptDashIsStandardOutput: --transcript - writes the
// conversation to standard output instead of creating a file named "-".
func TestTranscriptDashIsStandardOutput(t *testing.T) {
	r, ca := startRelay(t)
	out, stderr, code := runWith(t, nil, "", "probe", "--server", r.Addr()+"-starttls", "--ca", ca, "--transcript", "-")
	if code != exitOK || !strings.Contains(out, "C: EHLO ") || !strings.Contains(out, "S: 220 ") || !strings.Contains(out, "result    ok") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if _, stderr, code := runWith(t, nil, "", "probe", "--server", r.Addr()+"-starttls", "--ca", ca, "--transcript", "-", "--json"); code != exitUsage || !strings.Contains(stderr, "both write to standard output") {
		t.Errorf("--transcript - --json: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat("-"); err == nil {
		os.Remove("-")
		t.Error("a file named - was created")
	}
}

// TestSendDataJSONNamesMessageID: send --data --json reports the
// Message-ID the message carries.
func TestSendDataJSONNamesMessageID(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_STARTTLS", "MW_TEST_CA")
	raw := "From: a@example.com\r\nTo: b@example.com\r\nMessage-ID:\r\n <raw-1@example.com>\r\nSubject: raw\r\n\r\nbody\r\n"
	out, stderr, code := runWith(t, nil, raw, "send", "--server", v[0], "--tls", "explicit", "--ca", v[1],
		"--from", "a@example.com", "--to", "b@example.com", "--data", "-", "--json")
	var res sendOut
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || res.MessageID != "raw-1@example.com" {
		t.Errorf("exit %d, stdout %s, stderr %s; want message_id raw-1@example.com", code, out, stderr)
	}
}

// TestDefaultEHLONameThroughPostfix: the transcript of a probe against the
// real Postfix shows this host's FQDN or its address literal, not
// "EHLO localhost".
func TestDefaultEHLONameThroughPostfix(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_PLAIN")
	out, stderr, code := runWith(t, nil, "", "probe", "--server", v[0], "--tls", "none", "--transcript", "-")
	if code != exitOK || !strings.Contains(out, "C: EHLO ") || strings.Contains(out, "C: EHLO localhost") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}
