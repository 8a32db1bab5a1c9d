package transport_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/smtptest"
	"mailwarden/transport"
	"mailwarden/transport/internal/wire"
)

// smugglingPatterns are the end-of-data variants from the SMTP smuggling
// research (SEC Consult, 2023; CVE-2023-51764/51765/51766) and their NUL
// variants. Each is placed between a first message and a second,
// smuggled transaction.
var smugglingPatterns = []string{
	"\n.\n", "\n.\r\n", "\r.\r", "\r\n.\r", "\r\n.\n", "\r.\r\n", "\n.\r", "\r.\n",
	"\r\n\x00.\r\n", "\r\n.\x00\r\n", "\x00\r\n.\r\n", "\n\x00.\n", "\r\n.\r\x00\n",
}

const smuggled = "MAIL FROM:<admin@example.org>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nFrom: admin@example.org\r\n\r\nsmuggled\r\n.\r\n"

func normalised(s string) []byte {
	var b bytes.Buffer
	w := &wire.Body{W: &b}
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// TestSMTPSmuggling sends every pattern over DATA (dot-stuffing) and BDAT
// to a go-smtp server: exactly one message must arrive, holding the whole
// content with line endings normalised.
func TestSMTPSmuggling(t *testing.T) {
	checkGoroutines(t)
	for _, chunking := range []bool{false, true} {
		s := smtptest.Start(t, smtptest.Options{})
		cfg := testConfig(t)
		cfg.DisableChunking = !chunking
		ctx := ctxT(t, 20*time.Second)
		c, err := transport.Dial(ctx, serverAddr(t, s, transport.TLSNone), cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range smugglingPatterns {
			before := s.Count()
			body := "From: a@example.org\r\nSubject: test\r\n\r\nfirst" + p + smuggled + "tail"
			res, err := c.Send(ctx, transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(body))
			if err != nil {
				t.Fatalf("pattern %d %q: %v", i, p, err)
			}
			if res.UsedBDAT != chunking {
				t.Fatalf("UsedBDAT = %v", res.UsedBDAT)
			}
			msgs := s.Messages()
			if s.Count() != before+1 {
				t.Fatalf("pattern %q (chunking %v): %d messages arrived, want 1", p, chunking, s.Count()-before)
			}
			got := msgs[len(msgs)-1]
			if want := normalised(body); !bytes.Equal(got.Data, want) {
				t.Errorf("pattern %q (chunking %v): arrived %q, want %q", p, chunking, got.Data, want)
			}
			if strings.Join(got.To, ",") != "b@example.net" {
				t.Errorf("recipients %v", got.To)
			}
		}
		if err := c.Quit(ctx); err != nil {
			t.Fatal(err)
		}
		for _, m := range s.Messages() {
			for _, to := range m.To {
				if to == "victim@example.net" {
					t.Fatalf("smuggled message delivered")
				}
			}
		}
	}
}

// TestAddressInjection feeds addresses that could inject commands or
// parameters; each is refused with an *AddressError before any byte of
// the transaction is sent, and the session stays usable.
func TestAddressInjection(t *testing.T) {
	bad := []string{
		"a@example.org\r\nRCPT TO:<x@evil.example>",
		"a@example.org\nDATA",
		"a@example.org\r",
		"a@exa\x00mple.org",
		"a@example.org> SIZE=1",
		"<a@example.org>",
		"a b@example.org",
		"\"a@evil.example> NOTIFY=SUCCESS ORCPT=rfc822;x\"@example.org",
		"\"x=y\"@example.org",
		"\"a\\\"b\"@example.org",
		"a\u010d@example.org", // U+010D: low byte CR
		"a\u560a@example.org", // U+560A: low byte LF
		"a\u0085@example.org", // NEL
		"a@example.org\t",
		"a@",
		"@example.org",
		"example.org",
		"a@exa mple.org",
		"a@[1.2.3.4",
		"a@example..org",
		"a@example.org;b@example.org",
		"\xff@example.org",
		strings.Repeat("a", 250) + "@example.org",
	}
	s := smtptest.Start(t, smtptest.Options{SMTPUTF8: true})
	ctx := ctxT(t, 10*time.Second)
	c, err := transport.Dial(ctx, serverAddr(t, s, transport.TLSNone), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, a := range bad {
		for _, env := range []transport.Envelope{
			{From: a, To: []string{"ok@example.net"}},
			{From: "ok@example.org", To: []string{"ok@example.net", a}},
		} {
			res, err := c.Send(ctx, env, strings.NewReader(testBody))
			var ae *transport.AddressError
			if !errors.As(err, &ae) || res != nil {
				t.Errorf("%q: err = %v, res = %v", a, err, res)
				continue
			}
			if transport.Classify(err) != transport.ClassUsage {
				t.Errorf("%q: class %v", a, transport.Classify(err))
			}
		}
	}
	if s.Count() != 0 {
		t.Fatalf("%d messages arrived", s.Count())
	}
	good := []string{"a@example.org", "a.b+c@sub.example.org", "\"john.doe\"@example.org", "a@[127.0.0.1]", "a@[IPv6:::1]", "jörg@exämple.org"}
	for _, a := range good {
		if _, err := c.Send(ctx, transport.Envelope{From: "x@example.org", To: []string{a}}, strings.NewReader(testBody)); err != nil {
			t.Errorf("%q: %v", a, err)
		}
	}
	if s.Count() != len(good) {
		t.Fatalf("%d messages arrived, want %d", s.Count(), len(good))
	}
	// Non-ASCII needs SMTPUTF8.
	if m := s.Messages()[len(good)-1]; !m.MailOpts.UTF8 {
		t.Errorf("SMTPUTF8 not declared for %v", m.To)
	}
}
