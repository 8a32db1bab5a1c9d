package transport_test

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"mailwarden/authmech"
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

// TestScrubEchoedTokenInOAuthErrorChallenge: a server that puts the bearer
// token into the JSON of its XOAUTH2 error challenge (status, scope) must
// not get it into the error: the mechanism's diagnosis, decoded from that
// challenge, is scrubbed like every reply line.
func TestScrubEchoedTokenInOAuthErrorChallenge(t *testing.T) {
	const token = "ya29.Echoed-Token-Value-77"
	cl, err := authmech.NewRegistry().Client("XOAUTH2", authmech.Credentials{Username: "alice", Token: authmech.StaticToken(token)})
	if err != nil {
		t.Fatal(err)
	}
	var tr strings.Builder
	cfg := testConfig(t)
	cfg.Scrub = scrub.New(token).Scrub
	cfg.Transcript = &tr
	cfg.Auth, cfg.AllowPlaintextAuth = cl, true
	hp := smtptest.Hostile(t, func(c *smtptest.Conn) {
		c.Send("220 echo.example ESMTP\r\n")
		for {
			l, ok := c.Line()
			if !ok {
				return
			}
			switch f := strings.Fields(l); strings.ToUpper(f[0]) {
			case "EHLO":
				c.Send("250-echo.example\r\n250 AUTH XOAUTH2\r\n")
			case "AUTH":
				js := `{"status":"401 ` + token + `","scope":"` + token + `","schemes":"Bearer"}`
				c.Send("334 " + base64.StdEncoding.EncodeToString([]byte(js)) + "\r\n")
				c.Line()
				c.Send("535 5.7.8 refused\r\n")
			default:
				c.Send("221 bye\r\n")
				return
			}
		}
	})
	_, err = transport.Dial(ctxT(t, 5*time.Second), hostileAddr(t, hp, transport.TLSNone), cfg)
	var oe *authmech.OAuthError
	if !errors.As(err, &oe) || !strings.Contains(oe.Status, "401") {
		t.Fatalf("err = %v, want the decoded OAuth error", err)
	}
	if strings.Contains(err.Error(), token) || oe.Scope != "[REDACTED]" {
		t.Errorf("the token reached the error: %v (scope %q)", err, oe.Scope)
	}
}

// TestResultSaysWhichTLS: a Result names the session's TLS, so a caller
// can tell a message that went unencrypted (TLS auto, no STARTTLS offered)
// without reading the event log.
func TestResultSaysWhichTLS(t *testing.T) {
	for _, c := range []struct {
		tls  *tls.Config
		mode transport.TLSMode
		want string
	}{{nil, transport.TLSAuto, "none"}, {serverTLS(t), transport.TLSAuto, "starttls"}} {
		s := smtptest.Start(t, smtptest.Options{TLS: c.tls})
		cl, err := transport.Dial(ctxT(t, 5*time.Second), serverAddr(t, s, c.mode), testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		res, err := cl.Send(ctxT(t, 5*time.Second), transport.Envelope{From: "a@example.com", To: []string{"b@example.com"}}, strings.NewReader("Subject: x\r\n\r\nx\r\n"))
		cl.Close()
		if err != nil || res.TLS != c.want {
			t.Errorf("TLS %q (%v), want %q", res.TLS, err, c.want)
		}
	}
}
