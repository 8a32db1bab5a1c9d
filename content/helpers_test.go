package content

import (
	"os"
	"testing"
)

// example renders the built-in template name with its JSON example from
// docs/examples.
func example(t testing.TB, name string) (*Template, any, *Rendered) {
	t.Helper()
	tm, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../docs/examples/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := tm.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tm.Render(data)
	if err != nil {
		t.Fatal(err)
	}
	return tm, data, r
}

// hostileReport is report data from the field that tries to inject
// markup, scripts, remote images, links, header lines and reordered text.
func hostileReport() *Report {
	return &Report{
		Subject:        "Report\r\nBcc: victim@example.com\r\n\r\n<b>body</b>",
		Service:        "<script>window.__pwned=1</script>Svc",
		Title:          "Update \u202egnp.exe\u202c for <img src=x onerror=\"window.__pwned=2\">",
		AdditionalText: "</p><a href=\"https://evil.example/\">click</a><img src=\"https://evil.example/track.png\">",
		Columns:        []string{"Title", "Severity", "CVE"},
		Rows: []Row{{
			Cells: map[string]Cell{
				"Title":    TextCell("<script>window.__pwned=3</script>"),
				"Severity": TextCell("critical\" style=\"background:url(https://evil.example/x)"),
				"CVE":      Cell{{Text: "CVE-0000-0001", Link: "javascript:window.__pwned=4"}, {Text: "data", Link: "data:text/html,<script>alert(1)</script>"}},
			},
			Link:  "javascript:window.__pwned=5",
			Group: "\u2067RTL group\u2069 <i>x</i>",
		}},
		Summary: "line one\r\nline two\u202e reversed",
	}
}
