package content

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"mailwarden/envelope"
)

// Apply puts the rendered content into m: Subject, HTML and Text, then the
// images as inline parts (multipart/related) and the report's CSV and JSON
// attachments, appended to m.Attachments. The attachments are generated
// row by row while m is written, so a Message filled by Apply can be
// written once; call Apply again for another copy. The subject is cut to
// m.MaxSubjectLength by envelope when the message is written.
func (r *Rendered) Apply(m *envelope.Message) {
	m.Subject, m.HTML, m.Text = r.Subject, r.HTML, r.Text
	for _, img := range r.Images {
		m.Attachments = append(m.Attachments, envelope.Attachment{
			Filename:    img.Name + ".png",
			ContentType: img.ContentType,
			ContentID:   img.ContentID,
			Body:        bytes.NewReader(img.Data),
		})
	}
	if r.report == nil {
		return
	}
	base := fileBase(r.report.Title)
	for _, kind := range r.report.Attach {
		switch kind {
		case "csv":
			m.Attachments = append(m.Attachments, envelope.Attachment{
				Filename: base + ".csv", ContentType: "text/csv; charset=utf-8; header=present", Body: NewCSVReader(r.report),
			})
		case "json":
			m.Attachments = append(m.Attachments, envelope.Attachment{
				Filename: base + ".json", ContentType: "application/json", Body: NewJSONReader(r.report),
			})
		}
	}
}

// fileBase makes an attachment file name from a report title: letters,
// digits, '-', '_' and '.' kept, other runs replaced by '-', at most 60
// characters, "report" when nothing is left.
func fileBase(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range oneLine(title) {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r > 0x7f && r != 0xfeff
		switch {
		case ok && b.Len() < 60:
			b.WriteRune(r)
			dash = false
		case !ok && !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-.")
	if s == "" {
		return "report"
	}
	return s
}

// rowReader is an io.Reader that produces its content a piece at a time:
// next appends the next piece to buf and reports false when there is none.
type rowReader struct {
	buf  bytes.Buffer
	next func(buf *bytes.Buffer) (bool, error)
	done bool
	err  error
}

func (r *rowReader) Read(p []byte) (int, error) {
	for r.buf.Len() < len(p) && !r.done && r.err == nil {
		more, err := r.next(&r.buf)
		r.done, r.err = !more, err
	}
	if r.buf.Len() > 0 {
		return r.buf.Read(p)
	}
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}

// NewCSVReader returns the report's rows as CSV (RFC 4180: CRLF line ends,
// fields quoted as needed) in UTF-8 with a byte order mark, so Excel opens
// it as UTF-8: a header line of the columns, then one line per row with
// each cell's text (a cell that would run as a spreadsheet formula is
// prefixed with an apostrophe). When a row has a link or a group, a "link" and/or
// "group" column is added at the end. It reads the rows as it goes; memory
// does not grow with the number of rows.
func NewCSVReader(rep *Report) io.Reader {
	cols := rep.Columns
	hasLink, hasGroup := false, false
	for _, row := range rep.Rows {
		hasLink = hasLink || row.Link != ""
		hasGroup = hasGroup || row.Group != ""
	}
	i := -1
	rec := make([]string, 0, len(cols)+2)
	r := &rowReader{}
	w := csv.NewWriter(&r.buf)
	w.UseCRLF = true
	r.next = func(buf *bytes.Buffer) (bool, error) {
		rec = rec[:0]
		if i < 0 {
			buf.WriteString("\ufeff")
			rec = append(rec, cols...)
			if hasLink {
				rec = append(rec, "link")
			}
			if hasGroup {
				rec = append(rec, "group")
			}
		} else {
			row := rep.Rows[i]
			for _, c := range cols {
				rec = append(rec, csvSafe(stripBidi(row.Cells[c].Text())))
			}
			if hasLink {
				rec = append(rec, csvSafe(stripBidi(row.Link)))
			}
			if hasGroup {
				rec = append(rec, csvSafe(stripBidi(row.Group)))
			}
		}
		i++
		if err := w.Write(rec); err != nil {
			return false, err
		}
		w.Flush()
		return i < len(rep.Rows), w.Error()
	}
	return r
}

// csvSafe defuses a cell a spreadsheet would run as a formula ("CSV
// injection"): one starting with '=', '@', a tab or CR, or with '+' or '-'
// when it is not a number, gets a leading apostrophe, which Excel and
// LibreOffice show as text.
func csvSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '@', '\t', '\r':
		return "'" + s
	case '+', '-':
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return "'" + s
		}
	}
	return s
}

// NewJSONReader returns the report as JSON: an object with "title",
// "columns", "rows" (each row as in the input: cells by column name,
// "link", "group") and "summary", one row at a time.
func NewJSONReader(rep *Report) io.Reader {
	i := -1
	return &rowReader{next: func(buf *bytes.Buffer) (bool, error) {
		if i < 0 {
			head := struct {
				Title   string   `json:"title"`
				Columns []string `json:"columns"`
			}{rep.Title, rep.Columns}
			b, err := json.Marshal(head)
			if err != nil {
				return false, err
			}
			buf.Write(b[:len(b)-1])
			buf.WriteString(`,"rows":[`)
		} else if i < len(rep.Rows) {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString("\n")
			b, err := json.Marshal(rep.Rows[i])
			if err != nil {
				return false, err
			}
			buf.Write(b)
		} else {
			buf.WriteString("\n],\"summary\":")
			b, _ := json.Marshal(rep.Summary)
			buf.Write(b)
			buf.WriteString("}\n")
			return false, nil
		}
		i++
		return true, nil
	}}
}
