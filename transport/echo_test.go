package transport_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/scrub"
	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// TestScrubNeverChangesEHLOKeywords: a password that spells an EHLO
// keyword ("STARTTLS", or one letter of every keyword) must not erase the
// keyword from what the client parses, only from what it shows: TLS is
// still negotiated and the mechanisms still offered.
func TestScrubNeverChangesEHLOKeywords(t *testing.T) {
	for _, pw := range []string{"starttls", "s", "PLAIN"} {
		var tr strings.Builder
		cfg := testConfig(t)
		cfg.Scrub = scrub.New(pw).Scrub
		cfg.Transcript = &tr
		s := smtptest.Start(t, smtptest.Options{TLS: serverTLS(t), User: "alice", Password: "right"})
		c, err := transport.Dial(ctxT(t, 5*time.Second), serverAddr(t, s, transport.TLSAuto), cfg)
		if err != nil {
			t.Fatalf("password %q: %v", pw, err)
		}
		info := c.Info()
		c.Close()
		if info.TLS == nil || strings.Join(info.AuthMechanisms, " ") != "PLAIN" {
			t.Errorf("password %q: TLS %v, mechanisms %v: the scrubber changed the protocol", pw, info.TLS != nil, info.AuthMechanisms)
		}
		if strings.Contains(strings.ToLower(strings.Join(info.EHLOLines, " ")), strings.ToLower(pw)) {
			t.Errorf("password %q shown in the EHLO lines %q", pw, info.EHLOLines)
		}
	}
}

// TestScrubEchoedCredentials: a 535 that reflects the password reaches
// neither the error nor the transcript; the refusal itself does.
func TestScrubEchoedCredentials(t *testing.T) {
	const pw = "Echoed-Transport-Pw-53"
	var tr strings.Builder
	cfg := testConfig(t)
	cfg.Scrub = scrub.New(pw).Scrub
	cfg.Transcript = &tr
	cfg.Auth, cfg.AllowPlaintextAuth = &plainClient{"alice", pw}, true
	hp := smtptest.Hostile(t, smtptest.EchoCredentials)
	_, err := transport.Dial(ctxT(t, 5*time.Second), hostileAddr(t, hp, transport.TLSNone), cfg)
	var e *transport.Error
	if !errors.As(err, &e) || e.Code != 535 {
		t.Fatalf("err = %v, want the 535", err)
	}
	for where, text := range map[string]string{"error": err.Error(), "transcript": tr.String()} {
		if strings.Contains(strings.ToLower(text), strings.ToLower(pw)) || !strings.Contains(text, "[REDACTED]") {
			t.Errorf("%s: %s", where, text)
		}
	}
}
