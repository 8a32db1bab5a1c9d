package content

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestInjectionRenderedHarmlessly renders data from the field that tries
// to inject markup, scripts, links, remote images, header lines and
// reordered text, and checks each attempt came out as text.
func TestInjectionRenderedHarmlessly(t *testing.T) {
	tm, _ := Lookup("report")
	r, err := tm.Render(hostileReport())
	if err != nil {
		t.Fatal(err)
	}
	alert, _ := Lookup("alert")
	ra, err := alert.Render(&Alert{What: "x\r\nBcc: a@example.com", Severity: "critical\" onmouseover=\"x", Link: "javascript:alert(1)", Where: "\u202eevil"})
	if err != nil {
		t.Fatal(err)
	}
	body := r.HTML + ra.HTML
	text := r.Text + ra.Text
	for _, c := range []struct{ attack, in, forbidden string }{
		{"script tag in a title", body, "<script"},
		{"script tag escaped as text", body, "window.__pwned=1</script>"},
		{"event handler in markup", body, "<img src=x"},
		{"attribute break-out in a severity", body, `style="background:url`},
		{"attribute break-out in an alert severity", body, `" onmouseover=`},
		{"javascript: row link", body, `href="javascript:`},
		{"javascript: link filtered to a placeholder", body, "ZgotmplZ"},
		{"data: link", body, `href="data:`},
		{"remote image in additional text", body, `<img src="https://`},
		{"link in additional text", body, `<a href="https://evil`},
		{"RTL override in a title (HTML)", body, "\u202e"},
		{"RTL isolate in a group (HTML)", body, "\u2067"},
		{"RTL override in the text", text, "\u202e"},
		{"javascript: link in the text", text, "javascript:"},
		{"CRLF in a subject", r.Subject + ra.Subject, "\n"},
		{"CR in a subject", r.Subject + ra.Subject, "\r"},
	} {
		if strings.Contains(c.in, c.forbidden) {
			t.Errorf("%s: output contains %q", c.attack, c.forbidden)
		}
	}
	for _, want := range []string{"&lt;script&gt;window.__pwned=1&lt;/script&gt;Svc", "Update gnp.exe for &lt;img"} {
		if !strings.Contains(body, want) {
			t.Errorf("escaped text %q missing from the HTML", want)
		}
	}
	if r.Subject != "Report Bcc: victim@example.com <b>body</b>" {
		t.Errorf("subject %q", r.Subject)
	}
	// Written out, the subject is one header line and adds no field.
	raw := writeMessage(t, r)
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	if bytes.Contains(head, []byte("\r\nBcc:")) {
		t.Errorf("a Bcc field was injected:\n%s", head)
	}
}

// TestCustomTemplateEscapes checks that a template file gets html/template's
// escaping: data cannot add markup or a javascript: link.
func TestCustomTemplateEscapes(t *testing.T) {
	tm, err := Parse("custom.tmpl", `{{define "subject"}}{{.s}}{{end}}{{define "html"}}<p><a href="{{.url}}">{{.name}}</a></p>{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	d, err := tm.Decode(strings.NewReader(`{"s": "Hi", "url": "javascript:alert(1)", "name": "<b>x</b>"}`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := tm.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.HTML, "javascript:") || strings.Contains(r.HTML, "<b>") {
		t.Errorf("HTML %q", r.HTML)
	}
	if r.Text != "&lt;b&gt;x&lt;/b&gt;\n" && r.Text != "<b>x</b>\n" {
		t.Errorf("text %q", r.Text)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ name, src string }{
		{"no subject", `{{define "html"}}x{{end}}`},
		{"no html", `{{define "subject"}}x{{end}}`},
		{"syntax", `{{define "subject"}}{{.x{{end}}`},
		{"bad shape", `{{define "subject"}}x{{end}}{{define "html"}}x{{end}}{{define "shape"}}invoice{{end}}`},
		{"bad HTML context", `{{define "subject"}}x{{end}}{{define "html"}}<a href="{{.}}{{end}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.tmpl", c.src)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("got %v, want an *Error wrapping ErrSyntax", err)
			}
		})
	}
	if _, err := Lookup("alrt"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Lookup(alrt): %v", err)
	}
}

func TestDataErrors(t *testing.T) {
	rep, _ := Lookup("report")
	for _, c := range []struct{ name, json, part string }{
		{"unknown field", `{"title":"t","columns":["A"],"rowz":[]}`, "data"},
		{"no title", `{"columns":["A"]}`, "data.title"},
		{"no columns", `{"title":"t"}`, "data.columns"},
		{"reserved column", `{"title":"t","columns":["link"]}`, "data.columns[0]"},
		{"cell not a column", `{"title":"t","columns":["A"],"rows":[{"B":"x"}]}`, "data.rows[0]"},
		{"bad attach", `{"title":"t","columns":["A"],"attach":["pdf"]}`, "data.attach[0]"},
		{"nested cell list", `{"title":"t","columns":["A"],"rows":[{"A":[["x"]]}]}`, "data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := rep.Decode(strings.NewReader(c.json))
			if err == nil {
				_, err = rep.Render(d)
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrData) || e.Part != c.part || e.Template != "report" {
				t.Fatalf("got %#v (%v), want an *Error at %s wrapping ErrData", e, err, c.part)
			}
		})
	}
}

// TestCSVAttachment checks the CSV against RFC 4180 as encoding/csv reads
// it, the byte order mark, CRLF line ends, and formula defusing.
func TestCSVAttachment(t *testing.T) {
	rep := &Report{Title: "t", Columns: []string{"A", "B"}, Rows: []Row{
		{Cells: map[string]Cell{"A": TextCell("x, \"quoted\"\nline"), "B": TextCell("=HYPERLINK(\"http://evil\")")}, Link: "https://e.example/1"},
		{Cells: map[string]Cell{"A": TextCell("-12.5"), "B": TextCell("-cmd")}},
		{Cells: map[string]Cell{"A": TextCell("日本語"), "B": Cell{{Text: "a"}, {Text: "b", Link: "https://e.example/b"}}}},
	}}
	b, err := io.ReadAll(NewCSVReader(rep))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\xef\xbb\xbfA,B,link\r\n")) {
		t.Errorf("CSV starts %q", b[:min(len(b), 20)])
	}
	recs, err := csv.NewReader(bytes.NewReader(b[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"A", "B", "link"}, {"x, \"quoted\"\nline", "'=HYPERLINK(\"http://evil\")", "https://e.example/1"}, {"-12.5", "'-cmd", ""}, {"日本語", "a, b", ""}}
	if len(recs) != len(want) {
		t.Fatalf("records %q", recs)
	}
	for i := range want {
		if strings.Join(recs[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("record %d: %q, want %q", i, recs[i], want[i])
		}
	}
	if bytes.Count(b, []byte("\n")) != bytes.Count(b, []byte("\r\n")) {
		t.Error("a line ends without CR")
	}
	// The link and group columns are cells like the others: no formula, no
	// directional override.
	grouped := &Report{Title: "t", Columns: []string{"A"}, Rows: []Row{{Cells: map[string]Cell{"A": TextCell("a")}, Link: "https://e.example/\u202eexe.txt", Group: "=SUM(1)"}}}
	g, err := io.ReadAll(NewCSVReader(grouped))
	if err != nil {
		t.Fatal(err)
	}
	if grecs, err := csv.NewReader(bytes.NewReader(g[3:])).ReadAll(); err != nil || len(grecs) != 2 || strings.Join(grecs[1], "|") != "a|https://e.example/exe.txt|'=SUM(1)" {
		t.Errorf("link and group cells %q (%v)", grecs, err)
	}

	j, err := io.ReadAll(NewJSONReader(rep))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatalf("%v\n%s", err, j)
	}
	if back.Rows[2].Cells["B"][1].Link != "https://e.example/b" || back.Rows[0].Link != "https://e.example/1" || back.Rows[0].Cells["A"].Text() != "x, \"quoted\"\nline" {
		t.Errorf("JSON round trip: %+v", back.Rows)
	}
}

func TestWrapLong(t *testing.T) {
	for in, want := range map[string]string{
		"short words stay":                  "short words stay",
		"<b>":                               "&lt;b&gt;",
		"/srv/data/very/long/path/name.txt": "/<wbr>srv/<wbr>data/<wbr>very/<wbr>long/<wbr>path/<wbr>name.<wbr>txt",
		"0123456789abcdefghijKLMNO":         "0123456789abcdefghij<wbr>KLMNO",
		"<script>alert(1)</script>-------":  "&lt;script&gt;alert(1)&lt;/<wbr>script&gt;-<wbr>-<wbr>-<wbr>-<wbr>-<wbr>-<wbr>-<wbr>",
	} {
		if got := string(wrapLong(in)); got != want {
			t.Errorf("wrapLong(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	for _, c := range []struct{ name, html, want string }{
		{"heading and paragraphs", `<h1>Title</h1><p>One  two
three</p><p>Four<br>five</p>`, "Title\n=====\n\nOne two three\n\nFour\nfive\n"},
		{"lists", `<ul><li>a</li><li>b<ol><li>c</li></ol></li></ul>`, "- a\n- b\n\n  1. c\n"},
		{"link", `<p>See <a href="https://x.example/">the notes</a>, <a href="https://y.example/">https://y.example/</a> and <a href="javascript:x()">this</a>.</p>`, "See the notes <https://x.example/>, <https://y.example/> and this.\n"},
		{"aligned table", `<table><tr><th>Name</th><th>Size</th></tr><tr><td>a</td><td>12 MB</td></tr><tr><td>日本</td><td>1</td></tr></table>`, "Name  Size\n----  -----\na     12 MB\n日本  1\n"},
		{"layout table", `<table role="presentation"><tr><td>left</td><td>right</td></tr></table>`, "left\nright\n"},
		{"wbr adds nothing", `<p>very<wbr>long<wbr>word</p>`, "verylongword\n"},
		{"script and style dropped", `<style>p{}</style><script>x()</script><p>ok</p>`, "ok\n"},
		{"wide table as records", `<table><tr><th>A</th><th>B</th></tr><tr><td>` + strings.Repeat("x", 60) + `</td><td>` + strings.Repeat("y", 60) + `</td></tr></table>`, "A: " + strings.Repeat("x", 60) + "\nB: " + strings.Repeat("y", 60) + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := HTMLToText(c.html); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}
