package content

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
	"unicode"
	"unicode/utf8"
)

// Errors. Every error from this package is an *Error wrapping one of these.
var (
	// ErrUnknown reports a template name that is not built in.
	ErrUnknown = errors.New("content: unknown template")
	// ErrSyntax reports a template that does not parse or lacks a
	// required block.
	ErrSyntax = errors.New("content: template error")
	// ErrData reports data the template cannot use.
	ErrData = errors.New("content: bad data")
)

// An Error says which template and which part of it (a block such as
// "html", or a data field such as "rows[3]") is wrong.
type Error struct {
	Template string
	Part     string
	Err      error
}

func (e *Error) Error() string {
	msg := strings.TrimPrefix(e.Err.Error(), "content: ")
	s := "content: "
	if e.Template != "" {
		s += e.Template + ": "
	}
	if e.Part != "" {
		s += e.Part + ": "
	}
	return s + msg
}

func (e *Error) Unwrap() error { return e.Err }

// dataErr is a data problem at a JSON field; the template name is added by
// Render.
func dataErr(field, format string, args ...any) error {
	return &Error{Part: "data." + field, Err: fmt.Errorf("%w: "+format, append([]any{ErrData}, args...)...)}
}

// A Template renders a subject, an HTML body and a plain-text body from
// data. It is safe for concurrent use; Render never modifies it.
type Template struct {
	name    string
	source  string
	subject *texttemplate.Template
	text    *texttemplate.Template // nil: derived from the HTML
	html    *htmltemplate.Template
	shape   string // "alert", "report", "test" or "" (generic JSON)
}

// Name returns the template's name: the built-in name or the name given
// to Parse.
func (t *Template) Name() string { return t.name }

// Source returns the template source, including the shared layout a
// built-in template uses, so that it can be saved, edited and given to
// Parse.
func (t *Template) Source() string { return t.source }

// Shape returns the data shape the template expects: "alert", "report",
// "test", or "" for any JSON value.
func (t *Template) Shape() string { return t.shape }

// definesLayout matches a file that carries the layout itself (as
// Template.Source prints it).
var definesLayout = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{\{-?\s*define\s+"layout_start"`) })

//go:embed builtin/*.tmpl
var builtinFS embed.FS

// A Builtin describes a built-in template.
type Builtin struct {
	Name, Summary string
}

// Builtins lists the built-in templates.
func Builtins() []Builtin {
	return []Builtin{
		{"alert", "one event: severity, what, where, when, what to do (data: Alert)"},
		{"report", "a table of rows by column, optionally grouped, with CSV/JSON attachments (data: Report)"},
		{"test", "the \"Send test email\" message (data: Test)"},
	}
}

// builtins parses each built-in template once, when first looked up.
var builtins = lazyBuiltins()

func lazyBuiltins() map[string]func() (*Template, error) {
	m := map[string]func() (*Template, error){}
	for _, b := range Builtins() {
		m[b.Name] = sync.OnceValues(func() (*Template, error) {
			src, err := builtinFS.ReadFile("builtin/" + b.Name + ".tmpl")
			if err != nil {
				return nil, &Error{Template: b.Name, Err: err}
			}
			return Parse(b.Name, string(src))
		})
	}
	return m
}

// Lookup returns the built-in template name; the error wraps ErrUnknown
// when there is none. A Template is never modified, so every call returns
// the same one.
func Lookup(name string) (*Template, error) {
	if load, ok := builtins[name]; ok {
		return load()
	}
	return nil, &Error{Template: name, Err: fmt.Errorf("%w (built-in templates: alert, report, test)", ErrUnknown)}
}

// Parse parses a template file. The file defines its parts as named blocks:
//
//	{{define "subject"}}...{{end}}   required: the subject line (text)
//	{{define "html"}}...{{end}}      required: the HTML body (html/template)
//	{{define "text"}}...{{end}}      optional: the plain-text body; without
//	                                 it the text is derived from the HTML
//	{{define "shape"}}report{{end}}  optional: decode JSON data as an
//	                                 Alert, Report or Test (alert, report,
//	                                 test); without it JSON data is generic
//
// The blocks of the shared layout ("layout_start", "layout_end") and the
// functions listed in the package documentation are available. The error
// is an *Error wrapping ErrSyntax.
func Parse(name, src string) (*Template, error) {
	bad := func(part string, err error) (*Template, error) {
		return nil, &Error{Template: name, Part: part, Err: fmt.Errorf("%w: %w", ErrSyntax, err)}
	}
	if !utf8.ValidString(src) {
		return bad("", errors.New("not valid UTF-8"))
	}
	layout, err := builtinFS.ReadFile("builtin/layout.tmpl")
	if err != nil {
		return bad("", err)
	}
	full := src
	if !definesLayout().MatchString(src) {
		full = string(layout) + src
	}
	t := &Template{name: name, source: full}
	funcs := funcMap()
	t.html, err = htmltemplate.New(name).Funcs(htmltemplate.FuncMap(funcs)).Parse(full)
	if err != nil {
		return bad("", err)
	}
	tt, err := texttemplate.New(name).Funcs(texttemplate.FuncMap(funcs)).Parse(full)
	if err != nil {
		return bad("", err)
	}
	for _, part := range []string{"subject", "html"} {
		if tt.Lookup(part) == nil {
			return bad(part, fmt.Errorf("no {{define %q}} block", part))
		}
	}
	t.subject = tt.Lookup("subject")
	t.text = tt.Lookup("text")
	if st := tt.Lookup("shape"); st != nil {
		var b strings.Builder
		if err := st.Execute(&b, nil); err != nil {
			return bad("shape", err)
		}
		t.shape = strings.TrimSpace(b.String())
		if !slices.Contains([]string{"alert", "report", "test"}, t.shape) {
			return bad("shape", fmt.Errorf("%q: want alert, report or test", t.shape))
		}
	}
	// Escape the HTML now, so a context error shows at parse time and
	// Render can run concurrently.
	if err := t.html.Lookup("html").Execute(io.Discard, nil); err != nil {
		var e *htmltemplate.Error
		if errors.As(err, &e) && e.ErrorCode != htmltemplate.OK {
			return bad("html", err)
		}
	}
	return t, nil
}

// Decode reads JSON data for the template: an Alert, Report or Test for a
// template of that shape, any JSON value otherwise (numbers kept as
// written). Unknown fields of a shaped data are refused. The error is an
// *Error wrapping ErrData.
func (t *Template) Decode(r io.Reader) (any, error) {
	dec := json.NewDecoder(r)
	var v any
	switch t.shape {
	case "alert":
		v = new(Alert)
	case "report":
		v = new(Report)
	case "test":
		v = new(Test)
	default:
		dec.UseNumber()
		v = new(any)
	}
	if t.shape != "" {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return nil, &Error{Template: t.name, Part: "data", Err: fmt.Errorf("%w: %w", ErrData, err)}
	}
	if dec.More() {
		return nil, &Error{Template: t.name, Part: "data", Err: fmt.Errorf("%w: more than one JSON value", ErrData)}
	}
	if p, ok := v.(*any); ok {
		return *p, nil
	}
	return v, nil
}

// A Rendered message is a template's output for one data value.
type Rendered struct {
	// Subject is one line of text: line breaks and other control
	// characters in the data become spaces.
	Subject string
	// HTML is the HTML body; its images are referenced as "cid:" URLs.
	HTML string
	// Text is the plain-text alternative.
	Text string
	// Images are the inline images the HTML refers to.
	Images []Image
	// report, when it asks for attachments, makes them in Apply.
	report *Report
}

// Render executes the template with data: a Go value (an Alert, Report or
// Test, or a pointer to one, for the built-in templates) or the result of
// Decode. The error is an *Error wrapping ErrData or ErrSyntax.
func (t *Template) Render(data any) (*Rendered, error) {
	var rep *Report
	switch d := data.(type) {
	case Alert:
		data = &d
	case Report:
		data = &d
	case Test:
		data = &d
	}
	switch d := data.(type) {
	case *Alert:
		if err := d.check(); err != nil {
			return nil, t.named(err)
		}
	case *Report:
		if err := d.check(); err != nil {
			return nil, t.named(err)
		}
		rep = d
	}
	if want := t.shape; want != "" && shapeOf(data) != want {
		return nil, &Error{Template: t.name, Part: "data", Err: fmt.Errorf("%w: the template wants %s data, got %T", ErrData, want, data)}
	}
	exec := func(part string, run func(w io.Writer) error) (string, error) {
		var b bytes.Buffer
		if err := run(&b); err != nil {
			return "", &Error{Template: t.name, Part: part, Err: fmt.Errorf("%w: %w", ErrSyntax, err)}
		}
		return b.String(), nil
	}
	subject, err := exec("subject", func(w io.Writer) error { return t.subject.Execute(w, data) })
	if err != nil {
		return nil, err
	}
	html, err := exec("html", func(w io.Writer) error { return t.html.ExecuteTemplate(w, "html", data) })
	if err != nil {
		return nil, err
	}
	r := &Rendered{Subject: oneLine(subject), HTML: stripBidi(html)}
	if t.text != nil {
		if r.Text, err = exec("text", func(w io.Writer) error { return t.text.Execute(w, data) }); err != nil {
			return nil, err
		}
		r.Text = stripBidi(r.Text)
	} else {
		r.Text = HTMLToText(r.HTML)
	}
	r.Images = referencedImages(r.HTML)
	if rep != nil && len(rep.Attach) > 0 {
		r.report = rep
	}
	return r, nil
}

func (t *Template) named(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Template == "" {
		e.Template = t.name
	}
	return err
}

func shapeOf(data any) string {
	switch data.(type) {
	case *Alert:
		return "alert"
	case *Report:
		return "report"
	case *Test:
		return "test"
	}
	return ""
}

// isBidiControl reports the explicit directional embedding, override and
// isolate characters (Unicode TR9): data may not reorder the text around
// it ("Trojan Source", CVE-2021-42574).
func isBidiControl(r rune) bool {
	return (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
}

func stripBidi(s string) string {
	if !strings.ContainsFunc(s, isBidiControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isBidiControl(r) {
			return -1
		}
		return r
	}, s)
}

// oneLine makes s one line of text for a subject: white space and control
// characters (CR, LF, tab, C0, C1, DEL) become single spaces, directional
// overrides are removed.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case isBidiControl(r):
			return -1
		case unicode.IsControl(r), unicode.IsSpace(r):
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
