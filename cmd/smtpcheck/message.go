package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"mailwarden/envelope"
	"mailwarden/headers"
)

// maxBodyFile bounds --body-file and --html-file, which are read into
// memory; larger content belongs in an attachment, which is streamed.
const maxBodyFile = 10 << 20

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// messageFlags are the flags that describe a message. They are shared by
// the commands that build one (message, and later send).
type messageFlags struct {
	from, to, cc, bcc, replyTo     string
	organization, subject          string
	body, bodyFile, htmlFile       string
	attach, header                 stringList
	priority, importance           string
	sensitivity                    string
	readReceiptTo, returnReceiptTo string
	maxSubjectLength               int
	stdin                          io.Reader // for --body-file -; nil refuses it
	files                          []*os.File
}

// addMessageFlags defines the message flags on fs.
func addMessageFlags(fs *flag.FlagSet) *messageFlags {
	m := &messageFlags{}
	fs.StringVar(&m.from, "from", "", "author `address`, e.g. 'Alerts <alerts@example.com>' (required)")
	fs.StringVar(&m.to, "to", "", "recipient `list`: addresses separated by ',' or ';'")
	fs.StringVar(&m.cc, "cc", "", "carbon-copy recipient `list`")
	fs.StringVar(&m.bcc, "bcc", "", "blind-copy recipient `list` (SMTP envelope only, never in the header; with --transport graph a Bcc field Graph removes)")
	fs.StringVar(&m.replyTo, "reply-to", "", "Reply-To address `list`")
	fs.StringVar(&m.organization, "organization", "", "Organization `text`")
	fs.StringVar(&m.subject, "subject", "", "subject `text`")
	fs.StringVar(&m.body, "body", "", "plain-text body `text`")
	fs.StringVar(&m.bodyFile, "body-file", "", "read the plain-text body from `file` ('-' for standard input)")
	fs.StringVar(&m.htmlFile, "html-file", "", "read the HTML body from `file`")
	fs.Var(&m.attach, "attach", "attach `file` (repeatable; streamed, any size)")
	fs.Var(&m.header, "header", "extra header `'Name: value'` (repeatable)")
	fs.StringVar(&m.priority, "priority", "", "`priority`: normal, urgent or non-urgent (high and low are aliases of urgent and non-urgent)")
	fs.StringVar(&m.importance, "importance", "", "`importance`: high, normal or low")
	fs.StringVar(&m.sensitivity, "sensitivity", "", "`sensitivity`: personal, private or company-confidential")
	fs.StringVar(&m.readReceiptTo, "read-receipt-to", "", "ask for a read receipt to `list` (Disposition-Notification-To)")
	fs.StringVar(&m.returnReceiptTo, "return-receipt-to", "", "ask for a delivery receipt to `list` (Return-Receipt-To)")
	fs.IntVar(&m.maxSubjectLength, "max-subject-length", 0, "cut the subject to `n` characters (0: no limit)")
	return m
}

// ownedFlag names the flag that sets a header field --header may not set.
var ownedFlag = map[string]string{
	"from": "from", "to": "to", "cc": "cc", "bcc": "bcc", "reply-to": "reply-to",
	"subject": "subject", "organization": "organization", "priority": "priority",
	"x-priority": "priority or --importance", "importance": "importance",
	"sensitivity": "sensitivity", "disposition-notification-to": "read-receipt-to",
	"return-receipt-to": "return-receipt-to",
}

// flagError is a problem with one flag's value.
type flagError struct {
	flag string
	err  error
}

func (e *flagError) Error() string {
	msg := e.err.Error()
	for _, p := range []string{"headers: ", "envelope: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return "--" + e.flag + ": " + msg
}

func (e *flagError) Unwrap() error { return e.err }

// build turns the flags into a Message. Files named by --attach are opened
// for streaming; call close when the message has been written, also after
// an error.
func (m *messageFlags) build() (*envelope.Message, error) {
	var msg envelope.Message
	var err error
	if strings.TrimSpace(m.from) == "" {
		return nil, &flagError{"from", errors.New("required")}
	}
	from, err := headers.ParseAddressList(m.from)
	if err != nil {
		return nil, &flagError{"from", err}
	}
	if len(from) != 1 {
		return nil, &flagError{"from", fmt.Errorf("want one address, got %d", len(from))}
	}
	msg.From = from[0]
	for _, l := range []struct {
		flag, value string
		dst         *[]headers.Address
	}{
		{"to", m.to, &msg.To}, {"cc", m.cc, &msg.Cc}, {"bcc", m.bcc, &msg.Bcc},
		{"reply-to", m.replyTo, &msg.ReplyTo},
		{"read-receipt-to", m.readReceiptTo, &msg.ReadReceiptTo},
		{"return-receipt-to", m.returnReceiptTo, &msg.ReturnReceiptTo},
	} {
		if *l.dst, err = headers.ParseAddressList(l.value); err != nil {
			return nil, &flagError{l.flag, err}
		}
	}
	msg.Organization = m.organization
	msg.Subject = m.subject
	if m.maxSubjectLength < 0 {
		return nil, &flagError{"max-subject-length", fmt.Errorf("%d is negative", m.maxSubjectLength)}
	}
	msg.MaxSubjectLength = m.maxSubjectLength

	switch {
	case m.body != "" && m.bodyFile != "":
		return nil, &flagError{"body-file", errors.New("use either --body or --body-file, not both")}
	case m.bodyFile != "":
		if msg.Text, err = m.readText(m.bodyFile); err != nil {
			return nil, &flagError{"body-file", err}
		}
	default:
		msg.Text = m.body
	}
	if m.htmlFile != "" {
		if msg.HTML, err = m.readText(m.htmlFile); err != nil {
			return nil, &flagError{"html-file", err}
		}
	}

	if msg.Priority, err = headers.ParsePriority(m.priority); err != nil {
		return nil, &flagError{"priority", err}
	}
	if msg.Importance, err = headers.ParseImportance(m.importance); err != nil {
		return nil, &flagError{"importance", err}
	}
	if msg.Sensitivity, err = headers.ParseSensitivity(m.sensitivity); err != nil {
		return nil, &flagError{"sensitivity", err}
	}

	for _, h := range m.header {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return nil, &flagError{"header", fmt.Errorf("%q: want 'Name: value'", h)}
		}
		name = strings.TrimSpace(name)
		if envelope.IsOwnedField(name) {
			hint := "it is written from the other flags"
			if f := ownedFlag[strings.ToLower(name)]; f != "" {
				hint = "use --" + f
			}
			return nil, &flagError{"header", fmt.Errorf("%q is written by smtpcheck itself; %s", name, hint)}
		}
		msg.Header = append(msg.Header, headers.Field{Name: name, Value: value})
	}

	for _, path := range m.attach {
		f, err := os.Open(path)
		if err != nil {
			return nil, &flagError{"attach", err}
		}
		m.files = append(m.files, f)
		if fi, err := f.Stat(); err != nil {
			return nil, &flagError{"attach", err}
		} else if fi.IsDir() {
			return nil, &flagError{"attach", fmt.Errorf("%s is a directory", path)}
		}
		msg.Attachments = append(msg.Attachments, envelope.Attachment{Filename: filepath.Base(path), Body: f})
	}

	if err := msg.Validate(); err != nil {
		return nil, messageFlagError(err)
	}
	return &msg, nil
}

// messageFlagError names the flag behind an envelope error.
func messageFlagError(err error) error {
	var e *envelope.Error
	if !errors.As(err, &e) {
		return err
	}
	field := e.Field
	if i := strings.IndexByte(field, '['); i >= 0 {
		field = field[:i]
	}
	flagName := map[string]string{
		"From": "from", "Sender": "from", "To": "to", "Cc": "cc", "Bcc": "bcc",
		"ReplyTo": "reply-to", "Organization": "organization", "Subject": "subject",
		"Text": "body", "HTML": "html-file", "Attachments": "attach", "Header": "header",
		"Priority": "priority", "ReadReceiptTo": "read-receipt-to",
		"ReturnReceiptTo": "return-receipt-to", "MaxSubjectLength": "max-subject-length",
	}[field]
	if flagName == "" {
		return err
	}
	if e.Field == "To" && errors.Is(err, envelope.ErrMissing) {
		return &flagError{"to", errors.New("at least one of --to, --cc or --bcc is required")}
	}
	return &flagError{flagName, e.Err}
}

// readText reads a body file (or standard input for "-"), refusing files
// over maxBodyFile.
func (m *messageFlags) readText(path string) (string, error) {
	var r io.Reader
	if path == "-" {
		if m.stdin == nil {
			return "", errors.New("standard input is not available")
		}
		r = m.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxBodyFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxBodyFile {
		return "", fmt.Errorf("%s: larger than %d MB; attach it with --attach instead", path, maxBodyFile>>20)
	}
	return string(b), nil
}

// close closes the files build opened.
func (m *messageFlags) close() error {
	var errs []error
	for _, f := range m.files {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	m.files = nil
	return errors.Join(errs...)
}

func runMessage(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("message", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	mf := addMessageFlags(fs)
	mf.stdin = e.stdin
	tf := addTemplateFlags(fs)
	var sf smimeFlags
	sf.register(fs)
	sf.registerPKCS11(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(e.stdout, "usage: smtpcheck message --from ADDRESS --to LIST [flags] > message.eml")
			fmt.Fprintln(e.stdout, "\nBuilds a message and writes it to standard output; nothing is sent. With the\nS/MIME flags of send it is signed and/or encrypted as send would send it,\nstreaming: memory does not grow with the attachments.\n\nFlags:")
			fs.SetOutput(e.stdout)
			fs.PrintDefaults()
			fmt.Fprint(e.stdout, "\n"+exitCodesHelp)
			return exitOK
		}
		fmt.Fprintf(e.stderr, "smtpcheck message: %v\n", errLine(err))
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "smtpcheck message: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	msg, err := mf.build()
	defer mf.close()
	if err == nil {
		err = tf.apply(msg, mf, e.stdin)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck message: %s\n", errLine(err))
		return exitUsage
	}
	if code := wrapSMIME(ctx, e, msg, &sf); code != exitOK {
		return code
	}
	if _, err := msg.WriteTo(e.stdout); err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck message: writing the message: %s\n", errLine(err))
		return exitCheck
	}
	return exitOK
}
