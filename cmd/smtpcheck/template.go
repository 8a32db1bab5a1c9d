package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"mailwarden"
	"mailwarden/envelope"
)

// templateFlags are --template and --template-data, shared by send and
// message.
type templateFlags struct {
	ref, data string
}

func addTemplateFlags(fs *flag.FlagSet) *templateFlags {
	t := &templateFlags{}
	fs.StringVar(&t.ref, "template", "", "render the body from a built-in template (alert, report, test) or a template `NAME|FILE` ('smtpcheck template list'); --subject, when given, overrides its subject")
	fs.StringVar(&t.data, "template-data", "", "the template's data as JSON from `FILE` ('-' for standard input); see docs/templates.md")
	return t
}

// apply renders the template into msg; it does nothing without --template.
// The error names the flag.
func (t *templateFlags) apply(msg *envelope.Message, mf *messageFlags, stdin io.Reader) error {
	if t.ref == "" {
		if t.data != "" {
			return &flagError{"template-data", errors.New("needs --template")}
		}
		return nil
	}
	for _, f := range []struct{ name, v string }{{"body", mf.body}, {"body-file", mf.bodyFile}, {"html-file", mf.htmlFile}} {
		if f.v != "" { // in flag order, so the same flag is named every time
			return &flagError{f.name, errors.New("cannot be used with --template, which makes the body")}
		}
	}
	if t.data == "" {
		return &flagError{"template-data", errors.New("required with --template: the JSON data to render")}
	}
	tmpl, err := mailwarden.LoadTemplate(t.ref)
	if err != nil {
		return &flagError{"template", err}
	}
	r, closeData, err := openData(t.data, stdin)
	if err != nil {
		return &flagError{"template-data", err}
	}
	defer closeData()
	if err := mailwarden.TemplateMessage(msg, tmpl, r); err != nil {
		return &flagError{"template-data", err}
	}
	if err := msg.Validate(); err != nil {
		return messageFlagError(err)
	}
	return nil
}

// openData opens a data file, or standard input for "-".
func openData(path string, stdin io.Reader) (io.Reader, func(), error) {
	if path == "-" {
		if stdin == nil {
			return nil, nil, errors.New("standard input is not available")
		}
		return stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

const templateUsage = `usage: smtpcheck template list
       smtpcheck template show NAME|FILE
       smtpcheck template render NAME|FILE --data FILE.json [--html OUT.html] [--text OUT.txt]

list    the built-in templates
show    print a template's source (built-ins include the shared layout);
        save it, edit it and use the file as NAME|FILE
render  render the subject and the text alternative to standard output;
        --html writes the HTML with its images inlined (data: URLs) for a
        browser. To see the whole MIME message, use
        'smtpcheck message --template NAME|FILE --template-data FILE.json'.

The data shape of each built-in template, with a JSON example, is in
docs/templates.md.`

func runTemplate(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, templateUsage)
		return exitUsage
	}
	if isHelp(args[0]) {
		fmt.Fprintln(e.stdout, templateUsage)
		fmt.Fprint(e.stdout, "\n"+exitCodesHelp)
		return exitOK
	}
	switch args[0] {
	case "list":
		if len(args) > 1 {
			fmt.Fprintf(e.stderr, "smtpcheck template list: unexpected argument %q\n", args[1])
			return exitUsage
		}
		for _, b := range mailwarden.BuiltinTemplates() {
			fmt.Fprintf(e.stdout, "%-8s %s\n", b.Name, b.Summary)
		}
		return exitOK
	case "show":
		if len(args) != 2 {
			fmt.Fprintln(e.stderr, "usage: smtpcheck template show NAME|FILE")
			return exitUsage
		}
		t, err := mailwarden.LoadTemplate(args[1])
		if err != nil {
			fmt.Fprintf(e.stderr, "smtpcheck template show: %s\n", term(err.Error()))
			return exitUsage
		}
		io.WriteString(e.stdout, t.Source())
		return exitOK
	case "render":
		return runTemplateRender(e, args[1:])
	}
	fmt.Fprintf(e.stderr, "smtpcheck template: unknown subcommand %q (list, show, render)\n", args[0])
	return exitUsage
}

func runTemplateRender(e *env, args []string) int {
	fs := flag.NewFlagSet("template render", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	data := fs.String("data", "", "the template's data as JSON from `FILE` ('-' for standard input; required)")
	htmlOut := fs.String("html", "", "write the HTML, images inlined as data: URLs, to `FILE`")
	textOut := fs.String("text", "", "write the text alternative to `FILE` instead of standard output")
	// The template comes first, flags after it.
	var ref string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		ref, args = args[0], args[1:]
	}
	if code, done := parseFlags(fs, e, args, "template render", "usage: smtpcheck template render NAME|FILE --data FILE.json [--html OUT.html] [--text OUT.txt]"); done {
		return code
	}
	fail := func(err error) int {
		fmt.Fprintf(e.stderr, "smtpcheck template render: %s\n", term(err.Error()))
		return exitUsage
	}
	switch {
	case ref == "":
		return fail(errors.New("name a template: a built-in (smtpcheck template list) or a file"))
	case *data == "":
		return fail(errors.New("--data FILE.json is required"))
	}
	t, err := mailwarden.LoadTemplate(ref)
	if err != nil {
		return fail(err)
	}
	r, closeData, err := openData(*data, e.stdin)
	if err != nil {
		return fail(fmt.Errorf("--data: %w", err))
	}
	defer closeData()
	out, err := mailwarden.RenderTemplate(t, r)
	if err != nil {
		return fail(err)
	}
	if *htmlOut != "" {
		if err := os.WriteFile(*htmlOut, []byte(out.HTMLInline()), 0o644); err != nil {
			return fail(err)
		}
	}
	text := "Subject: " + out.Subject + "\n\n" + out.Text
	if *textOut != "" {
		if err := os.WriteFile(*textOut, []byte(out.Text), 0o644); err != nil {
			return fail(err)
		}
		text = "Subject: " + out.Subject + "\n"
	}
	io.WriteString(e.stdout, text)
	return exitOK
}
