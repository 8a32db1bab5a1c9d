package content

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// FuzzReportData renders reports whose every text comes from the fuzzer.
// Oracle: rendering succeeds; the subject is one line; the HTML parses to
// elements the template itself writes, with no event-handler attribute, no
// link other than http, https or mailto and no image other than cid:; no
// output carries a directional override; and every cell's text (as the
// text alternative shows it) is in the text alternative.
func FuzzReportData(f *testing.F) {
	f.Add("Title", "Critical", "https://e.example/", "<script>alert(1)</script>", "\u202eexe.txt", "a\r\nb")
	f.Add("x", "", "javascript:alert(1)", "</td></tr></table><img src=x onerror=alert(1)>", "g", "")
	f.Fuzz(func(t *testing.T, title, sev, link, cell, group, extra string) {
		for _, s := range []string{title, sev, link, cell, group, extra} {
			if !utf8.ValidString(s) {
				t.Skip("data is UTF-8 (JSON guarantees it)")
			}
		}
		if strings.TrimSpace(title) == "" {
			title = "t"
		}
		rep := &Report{Title: title, Subject: extra, AdditionalText: extra, Summary: cell, Columns: []string{"Name", "Severity"},
			Rows: []Row{{Cells: map[string]Cell{"Name": Cell{{Text: cell, Link: link}}, "Severity": TextCell(sev)}, Link: link, Group: group}}}
		tm, _ := Lookup("report")
		r, err := tm.Render(rep)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(r.Subject, "\r\n") {
			t.Fatalf("subject %q", r.Subject)
		}
		for _, out := range []string{r.Subject, r.HTML, r.Text} {
			if strings.ContainsFunc(out, isBidiControl) {
				t.Fatal("a directional override got through")
			}
		}
		allowed := map[atom.Atom]bool{atom.Html: true, atom.Head: true, atom.Body: true, atom.Meta: true, atom.Title: true,
			atom.Table: true, atom.Tbody: true, atom.Tr: true, atom.Td: true, atom.Th: true, atom.Img: true, atom.H1: true,
			atom.P: true, atom.A: true, atom.Span: true, atom.Wbr: true}
		doc, err := html.Parse(strings.NewReader(r.HTML))
		if err != nil {
			t.Fatal(err)
		}
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				if !allowed[n.DataAtom] {
					t.Fatalf("element <%s> in the HTML", n.Data)
				}
				for _, a := range n.Attr {
					switch {
					case strings.HasPrefix(strings.ToLower(a.Key), "on"):
						t.Fatalf("attribute %s", a.Key)
					case a.Key == "href" && safeLink(a.Val) == "":
						t.Fatalf("link %q", a.Val)
					case a.Key == "src" && !strings.HasPrefix(a.Val, "cid:"):
						t.Fatalf("image %q", a.Val)
					}
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		// html/template turns NUL into U+FFFD, so control characters are
		// not compared.
		if want := strings.Join(strings.Fields(stripBidi(sev)), " "); want != "" && !strings.ContainsFunc(sev, unicode.IsControl) && !strings.Contains(strings.Join(strings.Fields(r.Text), " "), want) {
			t.Fatalf("the text alternative lacks the severity %q:\n%s", want, r.Text)
		}
	})
}
