package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/textproto"
	"strings"

	"mailwarden"
	"mailwarden/headers"
)

const sendUsage = `usage: smtpcheck send --server ADDR --from ADDRESS --to LIST [flags]
       smtpcheck send --test [--config FILE] [--to LIST]

Builds a message from the flags (or takes one with --data) and sends it.
With --test it sends the canned test message ("Send test email"): from
--from or the profile's from, to --to/--cc/--bcc or else the profile's
default to and cc, marked test: true in the audit trail.`

// testExcludes are the message flags --test does not take: the test
// message has its own subject and text.
var testExcludes = []string{"data", "subject", "body", "body-file", "html-file", "attach", "header",
	"organization", "reply-to", "priority", "importance", "sensitivity", "read-receipt-to",
	"return-receipt-to", "max-subject-length"}

// checkTestFlags refuses message flags that --test would ignore.
func checkTestFlags(e *env, fs *flag.FlagSet) (int, bool) {
	for _, name := range testExcludes {
		if flagGiven(fs, name) {
			fmt.Fprintf(e.stderr, "smtpcheck send: --test sends the canned test message; --%s does not apply to it\n", name)
			return exitUsage, true
		}
	}
	return 0, false
}

// sendTest sends the sender's test message to the recipients of the flags,
// or to the profile's default recipients when the flags name none.
func sendTest(ctx context.Context, s *mailwarden.Sender, mf *messageFlags) (*mailwarden.Result, string, error) {
	var to []string
	if strings.TrimSpace(mf.to) != "" {
		to = append(to, mf.to)
	}
	p := s.Profile()
	if p.From == "" {
		return nil, "", usageError{fmt.Errorf("--test needs a sender: give --from%s", orProfileField(p, "from"))}
	}
	m, err := s.TestMessage(to...)
	if err != nil {
		return nil, "", usageError{err}
	}
	for _, l := range []struct {
		flag, value string
		dst         *[]headers.Address
	}{{"cc", mf.cc, &m.Cc}, {"bcc", mf.bcc, &m.Bcc}} {
		if *l.dst, err = headers.ParseAddressList(l.value); err != nil {
			return nil, "", usageError{&flagError{l.flag, err}}
		}
	}
	if len(m.To)+len(m.Cc)+len(m.Bcc) == 0 && p.To == "" && p.Cc == "" {
		return nil, "", usageError{fmt.Errorf("--test needs recipients: give --to%s", orProfileField(p, "to"))}
	}
	res, err := s.SendTestMessage(ctx, m)
	return res, m.MessageID, err
}

// orProfileField is the other way to give a missing value when the
// profile came from a configuration file: ` (or set "field" in the profile
// NAME)`; "" for the profile of the flags alone, which has no file to edit.
func orProfileField(p mailwarden.Profile, field string) string {
	if p.Name == flagProfileName {
		return ""
	}
	return fmt.Sprintf(" (or set %q in the profile %s)", field, p.Name)
}

// usageError marks a mistake in the command line: exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// printSendExtras prints the Message-ID of a sent message, and says when
// it went over a connection without TLS: with a warning when TLS auto
// allowed it (the server offered no STARTTLS), not when the profile asked
// for no TLS (byChoice, Sender.PlaintextByChoice).
func printSendExtras(e *env, byChoice bool, res *mailwarden.Result, msgID string) {
	if res == nil || res.Reply.Code/100 != 2 {
		return
	}
	if msgID != "" {
		fmt.Fprintf(e.stdout, "message   %s\n", msgID)
	}
	if res.TLS == "none" {
		fmt.Fprintln(e.stdout, "tls       none: this message was sent unencrypted")
		if !byChoice {
			fmt.Fprintln(e.stderr, "smtpcheck send: WARNING: the message went unencrypted: the server offered no STARTTLS and TLS is auto; use --tls explicit to require TLS")
		}
	}
}

// maxIDHeader bounds how much of a --data message's header is kept to find
// its Message-ID.
const maxIDHeader = 64 << 10

// messageIDReader passes a message through and keeps the start of its
// header, to report the Message-ID of a --data message.
type messageIDReader struct {
	r    io.Reader
	head []byte
	done bool
}

func (m *messageIDReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if !m.done && n > 0 {
		m.head = append(m.head, p[:min(n, maxIDHeader-len(m.head))]...)
		if len(m.head) >= maxIDHeader || bytes.Contains(m.head, []byte("\n\n")) || bytes.Contains(m.head, []byte("\r\n\r\n")) {
			m.done = true
		}
	}
	return n, err
}

// id returns the message's Message-ID without its angle brackets (as the
// audit trail records it), "" when it has none.
func (m *messageIDReader) id() string {
	h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(m.head))).ReadMIMEHeader()
	id := strings.TrimSpace(h.Get("Message-Id"))
	return strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
}
