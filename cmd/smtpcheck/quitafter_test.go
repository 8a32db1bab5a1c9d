package main

import (
	"strings"
	"testing"

	"mailwarden/internal/peers"
)

// TestQuitAfterAgainstPostfix: probe and send stop where --quit-after
// says, against the real Postfix; send --quit-after rcpt sends MAIL and
// RCPT but no message.
func TestQuitAfterAgainstPostfix(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_STARTTLS", "MW_TEST_CA")
	conn := []string{"--server", v[0], "--tls", "explicit", "--ca", v[1], "--transcript", "-"}
	out, stderr, code := runWith(t, nil, "", append([]string{"probe", "--quit-after", "connect"}, conn...)...)
	if code != exitOK || strings.Contains(out, "C: EHLO") || !strings.Contains(out, "C: QUIT") || !strings.Contains(out, "result    ok") {
		t.Errorf("probe --quit-after connect: exit %d\n%s\n%s", code, out, stderr)
	}
	out, stderr, code = runWith(t, nil, "", append([]string{"probe", "--quit-after", "tls"}, conn...)...)
	if code != exitOK || strings.Count(out, "C: EHLO") != 1 || !strings.Contains(out, "C: STARTTLS") || !strings.Contains(out, "tls       TLS 1.") {
		t.Errorf("probe --quit-after tls: exit %d\n%s\n%s", code, out, stderr)
	}
	out, stderr, code = runWith(t, nil, "", append([]string{"send", "--quit-after", "rcpt", "--from", "a@example.com",
		"--to", "ops@example.com, jane@example.org", "--subject", "never sent", "--body", "x"}, conn...)...)
	if code != exitOK || !strings.Contains(out, "C: MAIL FROM:<a@example.com>") || !strings.Contains(out, "C: RCPT TO:<jane@example.org>") ||
		strings.Contains(out, "C: DATA") || strings.Contains(out, "C: BDAT") || !strings.Contains(out, "rcpt") {
		t.Errorf("send --quit-after rcpt: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"probe", "--quit-after", "data"}, "unknown quit-after step"},
		{[]string{"probe", "--quit-after", "rcpt"}, "needs a message"},
		{[]string{"send", "--quit-after", "rcpt", "--data", "-", "--from", "a@example.com", "--to", "b@example.com"}, "does not combine with --data"},
	} {
		_, stderr, code := runWith(t, nil, "", append(c.args, conn...)...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q", c.args, code, stderr)
		}
	}
}

// TestSendQuitAfterMailRefused: a MAIL FROM the relay refuses (the demo
// relay wants authentication first) fails the rehearsal with the exit code
// of its class, and nothing is sent.
func TestSendQuitAfterMailRefused(t *testing.T) {
	r, ca := startRelay(t)
	out, stderr, code := runWith(t, nil, "", "send", "--server", r.Addr()+"-starttls", "--ca", ca, "--quit-after", "mail",
		"--from", "a@example.com", "--to", "b@example.com", "--subject", "s", "--body", "b")
	if code != exitAuth || !strings.Contains(stderr, "Please authenticate first") || !strings.Contains(out, "result    FAILED") || len(r.Messages()) != 0 {
		t.Errorf("exit %d\n%s\n%s", code, out, stderr)
	}
}
