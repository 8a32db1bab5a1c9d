package content

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// An Alert is the data of the built-in "alert" template: one event that
// needs attention. JSON field names are given in the struct tags; What is
// required.
type Alert struct {
	// Subject overrides the subject line; empty means
	// "[SEVERITY] What (Where)".
	Subject string `json:"subject,omitempty"`
	// Service names the product sending the alert, shown in the header;
	// empty means "Mailwarden".
	Service string `json:"service,omitempty"`
	// Severity is critical, high, warning, low, info or ok (any case);
	// another value is shown as given, in a neutral colour.
	Severity string `json:"severity,omitempty"`
	// What happened, e.g. "Disk almost full". Required.
	What string `json:"what"`
	// Where it happened: a host, a service, an account.
	Where string `json:"where,omitempty"`
	// When it happened, as the caller wants it shown.
	When string `json:"when,omitempty"`
	// Action says what to do about it.
	Action string `json:"action,omitempty"`
	// Link points to more information (http, https or mailto).
	Link string `json:"link,omitempty"`
	// AdditionalText is the administrator's own text, shown as text
	// (never as markup); blank lines separate paragraphs.
	AdditionalText string `json:"additional_text,omitempty"`
}

// A Report is the data of the built-in "report" template: a table of
// rows, optionally grouped, with the administrator's additional text at the
// top and a summary below. Title and Columns are required.
type Report struct {
	// Subject overrides the subject line (for example "Report from
	// Update Service"); empty means Title.
	Subject string `json:"subject,omitempty"`
	// Service names the product sending the report, shown in the header;
	// empty means "Mailwarden".
	Service string `json:"service,omitempty"`
	// Title heads the report. Required.
	Title string `json:"title"`
	// AdditionalText is the administrator's own text, shown as text
	// (never as markup) above the table; blank lines separate paragraphs.
	AdditionalText string `json:"additional_text,omitempty"`
	// Columns are the column names, in order. Required. "link" and
	// "group" are reserved for the row fields of those names.
	Columns []string `json:"columns"`
	// Rows hold the cells by column name.
	Rows []Row `json:"rows"`
	// Summary is shown below the table.
	Summary string `json:"summary,omitempty"`
	// Attach lists the attachments made from the rows: "csv" (RFC 4180,
	// UTF-8 with a byte order mark) and/or "json".
	Attach []string `json:"attach,omitempty"`
}

// A Test is the data of the built-in "test" template, the "Send test
// email" message. Every field is optional.
type Test struct {
	Service string `json:"service,omitempty"`
	Profile string `json:"profile,omitempty"`
	Servers string `json:"servers,omitempty"`
	Host    string `json:"host,omitempty"`
	SentAt  string `json:"sent_at,omitempty"`
	// AdditionalText is shown as text, never as markup.
	AdditionalText string `json:"additional_text,omitempty"`
}

// A Row is one row of a Report. In JSON it is an object with a member per
// column (the column name) plus the optional "link" (the first column links
// there) and "group" (rows with the same group are shown under one heading,
// groups in order of first appearance).
type Row struct {
	Cells map[string]Cell
	Link  string
	Group string
}

// A Cell is the content of one table cell: one or more parts, shown
// separated by ", ". In JSON a cell is a string, number, boolean or null,
// an object {"text": ..., "link": ...}, or an array of those.
type Cell []Part

// A Part is a piece of text, linked when Link is set (http, https or
// mailto; other schemes are not linked).
type Part struct {
	Text string `json:"text"`
	Link string `json:"link,omitempty"`
}

// Text returns the cell as plain text, its parts separated by ", ".
func (c Cell) Text() string {
	switch len(c) {
	case 0:
		return ""
	case 1:
		return c[0].Text
	}
	s := make([]string, len(c))
	for i, p := range c {
		s[i] = p.Text
	}
	return strings.Join(s, ", ")
}

// TextCell returns a cell of plain text.
func TextCell(s string) Cell { return Cell{{Text: s}} }

// LinkCell returns a cell of one linked text.
func LinkCell(text, link string) Cell { return Cell{{Text: text, Link: link}} }

// UnmarshalJSON reads a row object.
func (r *Row) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	r.Cells = make(map[string]Cell, len(raw))
	for k, v := range raw {
		switch k {
		case "link", "group":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("%q: want a string", k)
			}
			if k == "link" {
				r.Link = s
			} else {
				r.Group = s
			}
		default:
			var c Cell
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
			r.Cells[k] = c
		}
	}
	return nil
}

// MarshalJSON writes the row as UnmarshalJSON reads it.
func (r Row) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(r.Cells)+2)
	for k, c := range r.Cells {
		m[k] = c
	}
	if r.Link != "" {
		m["link"] = r.Link
	}
	if r.Group != "" {
		m["group"] = r.Group
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads any of the cell forms.
func (c *Cell) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		*c = make(Cell, 0, len(raw))
		for _, r := range raw {
			p, err := parsePart(r)
			if err != nil {
				return err
			}
			*c = append(*c, p)
		}
		return nil
	}
	p, err := parsePart(b)
	if err != nil {
		return err
	}
	*c = Cell{p}
	return nil
}

// MarshalJSON writes a one-part unlinked cell as a string, else an array.
func (c Cell) MarshalJSON() ([]byte, error) {
	if len(c) == 1 && c[0].Link == "" {
		return json.Marshal(c[0].Text)
	}
	return json.Marshal([]Part(c))
}

func parsePart(b []byte) (Part, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return Part{}, fmt.Errorf("empty cell")
	}
	switch b[0] {
	case '{':
		var p struct {
			Text *string `json:"text"`
			Link string  `json:"link"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return Part{}, fmt.Errorf("a cell object has \"text\" and \"link\": %w", err)
		}
		if p.Text == nil {
			return Part{}, fmt.Errorf("a cell object needs \"text\"")
		}
		return Part{Text: *p.Text, Link: p.Link}, nil
	case '"':
		var s string
		err := json.Unmarshal(b, &s)
		return Part{Text: s}, err
	case 'n':
		return Part{}, json.Unmarshal(b, new(any))
	case '[':
		return Part{}, fmt.Errorf("a cell list cannot nest")
	default: // number or boolean, shown as written
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return Part{}, err
		}
		return Part{Text: string(b)}, nil
	}
}

// check reports the first problem with the alert data.
func (a *Alert) check() error {
	if strings.TrimSpace(a.What) == "" {
		return dataErr("what", "required")
	}
	return nil
}

// check reports the first problem with the report data.
func (r *Report) check() error {
	if strings.TrimSpace(r.Title) == "" {
		return dataErr("title", "required")
	}
	if len(r.Columns) == 0 {
		return dataErr("columns", "at least one column is required")
	}
	cols := make(map[string]bool, len(r.Columns))
	for i, c := range r.Columns {
		switch {
		case c == "link" || c == "group":
			return dataErr(fmt.Sprintf("columns[%d]", i), "%q is reserved for the row field of that name", c)
		case strings.TrimSpace(c) == "":
			return dataErr(fmt.Sprintf("columns[%d]", i), "empty column name")
		case cols[c]:
			return dataErr(fmt.Sprintf("columns[%d]", i), "column %q appears twice", c)
		}
		cols[c] = true
	}
	for i, row := range r.Rows {
		for k := range row.Cells {
			if !cols[k] {
				return dataErr(fmt.Sprintf("rows[%d]", i), "%q is not one of the columns %q", k, r.Columns)
			}
		}
	}
	for i, a := range r.Attach {
		if a != "csv" && a != "json" {
			return dataErr(fmt.Sprintf("attach[%d]", i), "%q: want \"csv\" or \"json\"", a)
		}
	}
	return nil
}

// A Group is a run of report rows under one heading, as the report
// template shows them.
type Group struct {
	Name string
	Rows []Row
}

// Groups returns the rows grouped by Row.Group in order of first
// appearance. With no group set there is one unnamed group.
func (r *Report) Groups() []Group {
	var out []Group
	idx := map[string]int{}
	grouped := false
	for _, row := range r.Rows {
		if row.Group != "" {
			grouped = true
			break
		}
	}
	if !grouped {
		return []Group{{Rows: r.Rows}}
	}
	for _, row := range r.Rows {
		i, ok := idx[row.Group]
		if !ok {
			i = len(out)
			idx[row.Group] = i
			out = append(out, Group{Name: row.Group})
		}
		out[i].Rows = append(out[i].Rows, row)
	}
	return out
}
