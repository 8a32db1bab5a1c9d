package mailwarden

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"mailwarden/content"
	"mailwarden/envelope"
)

// maxTemplateFile bounds a template file, which is read into memory.
const maxTemplateFile = 1 << 20

// BuiltinTemplates lists the built-in content templates (see package
// content).
func BuiltinTemplates() []content.Builtin { return content.Builtins() }

// LoadTemplate returns a content template: the built-in one named ref
// ("alert", "report", "test"), or else the template file at path ref (see
// content.Parse). The error is a *content.Error wrapping
// content.ErrUnknown (neither a built-in name nor a file) or
// content.ErrSyntax, or an *fs.PathError when the file cannot be read.
func LoadTemplate(ref string) (*content.Template, error) {
	t, err := content.Lookup(ref)
	if err == nil || !errors.Is(err, content.ErrUnknown) {
		return t, err
	}
	f, ferr := os.Open(ref)
	if ferr != nil {
		if errors.Is(ferr, fs.ErrNotExist) && !strings.ContainsAny(ref, `/\.`) {
			return nil, err // looks like a name: say which names exist
		}
		return nil, ferr
	}
	defer f.Close()
	b, ferr := io.ReadAll(io.LimitReader(f, maxTemplateFile+1))
	if ferr != nil {
		return nil, ferr
	}
	if len(b) > maxTemplateFile {
		return nil, &content.Error{Template: ref, Err: fmt.Errorf("%w: larger than %d KB", content.ErrSyntax, maxTemplateFile>>10)}
	}
	return content.Parse(ref, string(b))
}

// RenderTemplate renders t with the JSON data read from data (see
// Template.Decode). The error is a *content.Error.
func RenderTemplate(t *content.Template, data io.Reader) (*content.Rendered, error) {
	v, err := t.Decode(data)
	if err != nil {
		return nil, err
	}
	return t.Render(v)
}

// TemplateMessage renders t with the JSON data read from data into m: the
// subject (unless m.Subject is already set), the HTML body, its text
// alternative and inline images (multipart/related), and the CSV or JSON
// attachments a report asks for. Send m as any other message: the
// profile's max_subject_length and S/MIME apply, and a signature covers the
// rendered body. The error is a *content.Error.
func TemplateMessage(m *envelope.Message, t *content.Template, data io.Reader) error {
	r, err := RenderTemplate(t, data)
	if err != nil {
		return err
	}
	subject := m.Subject
	r.Apply(m)
	if strings.TrimSpace(subject) != "" {
		m.Subject = subject
	}
	return nil
}
