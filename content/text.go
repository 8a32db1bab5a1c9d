package content

import (
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/text/width"
)

// maxTableWidth is the widest a table is laid out as aligned columns;
// a wider one is written as "Column: value" lines per row, which stays
// readable in an 80-column terminal.
const maxTableWidth = 100

// HTMLToText returns a plain-text rendering of an HTML document for the
// text/plain alternative: headings on their own lines (h1 and h2
// underlined), paragraphs separated by blank lines, list items as "- " or
// "1. ", data tables as aligned columns (or "Column: value" lines when
// wider than 100 columns), links as "text <url>", images as their alt text.
// Tables with role="presentation" are layout and only separate their cells.
// script, style and head content is left out; links other than http,
// https and mailto are shown as their text alone.
func HTMLToText(src string) string {
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil { // html.Parse only fails on a reader error
		return ""
	}
	var c converter
	c.walk(doc)
	c.flush()
	for len(c.out) > 0 && c.out[len(c.out)-1] == "" {
		c.out = c.out[:len(c.out)-1]
	}
	if len(c.out) == 0 {
		return ""
	}
	return strings.Join(c.out, "\n") + "\n"
}

type converter struct {
	out    []string
	inl    strings.Builder
	space  bool // a space is pending before the next word
	indent string
}

func (c *converter) flush() {
	line := strings.TrimSpace(c.inl.String())
	c.inl.Reset()
	c.space = false
	if line != "" {
		c.line(line)
	}
}

func (c *converter) line(s string) {
	c.out = append(c.out, strings.TrimRight(c.indent+s, " "))
}

func (c *converter) blank() {
	c.flush()
	if len(c.out) > 0 && c.out[len(c.out)-1] != "" {
		c.out = append(c.out, "")
	}
}

// text adds inline text, collapsing white space.
func (c *converter) text(s string) {
	for _, r := range s {
		switch r {
		case ' ', '\t', '\n', '\r', '\f', '\u00a0':
			c.space = true
		default:
			if c.space && c.inl.Len() > 0 {
				c.inl.WriteByte(' ')
			}
			c.space = false
			c.inl.WriteRune(r)
		}
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func (c *converter) children(n *html.Node) {
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		c.walk(ch)
	}
}

func (c *converter) walk(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		c.text(n.Data)
		return
	case html.DocumentNode:
		c.children(n)
		return
	case html.ElementNode:
	default:
		return
	}
	switch n.DataAtom {
	case atom.Head, atom.Script, atom.Style, atom.Title, atom.Template, atom.Noscript:
	case atom.Br:
		c.flush()
	case atom.Hr:
		c.blank()
		c.line(strings.Repeat("-", 40))
		c.blank()
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		c.blank()
		t := inlineText(n)
		c.line(t)
		switch n.DataAtom {
		case atom.H1:
			c.line(strings.Repeat("=", displayWidth(t)))
		case atom.H2:
			c.line(strings.Repeat("-", displayWidth(t)))
		}
		c.blank()
	case atom.P, atom.Blockquote:
		c.blank()
		old := c.indent
		if n.DataAtom == atom.Blockquote {
			c.indent += "> "
		}
		c.children(n)
		c.flush()
		c.indent = old
		c.blank()
	case atom.Ul, atom.Ol:
		c.list(n)
	case atom.Pre:
		c.blank()
		for _, l := range strings.Split(strings.TrimRight(textContent(n), "\n"), "\n") {
			c.line(l)
		}
		c.blank()
	case atom.Table:
		if strings.EqualFold(attr(n, "role"), "presentation") {
			c.flush()
			c.children(n)
			c.flush()
			return
		}
		c.table(n)
	case atom.Div, atom.Td, atom.Th, atom.Tr, atom.Li, atom.Section, atom.Article,
		atom.Header, atom.Footer, atom.Center, atom.Main, atom.Nav, atom.Dl, atom.Dt, atom.Dd:
		c.flush()
		c.children(n)
		c.flush()
	case atom.A:
		c.text(linkText(inlineText(n), attr(n, "href")))
	case atom.Img:
		c.text(attr(n, "alt"))
	default:
		c.children(n)
	}
}

// linkText formats a link as "text <url>", or just the text when the URL
// is not one to show.
func linkText(text, href string) string {
	href = safeLink(href)
	switch {
	case href == "":
		return text
	case text == "" || text == href || "mailto:"+text == href:
		return "<" + href + ">"
	}
	return text + " <" + href + ">"
}

func (c *converter) list(n *html.Node) {
	c.blank()
	ordered := n.DataAtom == atom.Ol
	num := 1
	if s, err := strconv.Atoi(attr(n, "start")); err == nil && ordered {
		num = s
	}
	old := c.indent
	for li := n.FirstChild; li != nil; li = li.NextSibling {
		if li.Type != html.ElementNode || li.DataAtom != atom.Li {
			continue
		}
		marker := "- "
		if ordered {
			marker = strconv.Itoa(num) + ". "
			num++
		}
		// The first line gets the marker, following lines align under
		// the item's text.
		start := len(c.out)
		c.indent = old + strings.Repeat(" ", len(marker))
		c.children(li)
		c.flush()
		if len(c.out) > start {
			c.out[start] = old + marker + strings.TrimPrefix(c.out[start], c.indent)
		}
	}
	c.indent = old
	c.blank()
}

// inlineText is n's content on one line, with links formatted.
func inlineText(n *html.Node) string {
	var sub converter
	sub.children(n)
	sub.flush()
	return strings.Join(sub.out, " ")
}

func textContent(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			rec(ch)
		}
	}
	rec(n)
	return b.String()
}

type tableRow struct {
	cells   []string
	header  bool
	section bool // one cell spanning the table: a group heading
}

// table lays out a data table.
func (c *converter) table(n *html.Node) {
	var rows []tableRow
	cols := 0
	var collect func(*html.Node)
	collect = func(n *html.Node) {
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			if ch.Type != html.ElementNode {
				continue
			}
			switch ch.DataAtom {
			case atom.Thead, atom.Tbody, atom.Tfoot:
				collect(ch)
			case atom.Caption:
				c.blank()
				c.line(inlineText(ch))
			case atom.Tr:
				var r tableRow
				header := true
				span := 0
				for td := ch.FirstChild; td != nil; td = td.NextSibling {
					if td.Type != html.ElementNode || (td.DataAtom != atom.Td && td.DataAtom != atom.Th) {
						continue
					}
					if td.DataAtom == atom.Td {
						header = false
					}
					s, _ := strconv.Atoi(attr(td, "colspan"))
					span += max(s, 1)
					r.cells = append(r.cells, inlineText(td))
				}
				if len(r.cells) == 0 {
					continue
				}
				r.header = header
				r.section = len(r.cells) == 1 && span > 1
				if !r.section {
					cols = max(cols, len(r.cells))
				}
				rows = append(rows, r)
			}
		}
	}
	c.blank()
	collect(n)
	widths := make([]int, cols)
	for _, r := range rows {
		if r.section {
			continue
		}
		for i, cell := range r.cells {
			widths[i] = max(widths[i], displayWidth(cell))
		}
	}
	total := 0
	for _, w := range widths {
		total += w + 2
	}
	if total-2 > maxTableWidth-len(c.indent) {
		c.records(rows)
		c.blank()
		return
	}
	for i, r := range rows {
		if r.section {
			if i > 0 {
				c.blank()
			}
			c.line(r.cells[0])
			continue
		}
		var b strings.Builder
		for j, cell := range r.cells {
			b.WriteString(cell)
			if j < len(r.cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[j]-displayWidth(cell)+2))
			}
		}
		c.line(b.String())
		if r.header {
			var u strings.Builder
			for j, w := range widths[:len(r.cells)] {
				if j > 0 {
					u.WriteString("  ")
				}
				u.WriteString(strings.Repeat("-", w))
			}
			c.line(u.String())
		}
	}
	c.blank()
}

// records writes a wide table as one block of "Header: value" lines per
// row.
func (c *converter) records(rows []tableRow) {
	var head []string
	for _, r := range rows {
		switch {
		case r.section:
			c.blank()
			c.line(r.cells[0])
			c.line(strings.Repeat("=", displayWidth(r.cells[0])))
		case r.header:
			head = r.cells
		default:
			c.blank()
			for i, cell := range r.cells {
				if cell == "" {
					continue
				}
				if i < len(head) && head[i] != "" {
					c.line(head[i] + ": " + cell)
				} else {
					c.line(cell)
				}
			}
		}
	}
}

// displayWidth is the number of terminal columns s takes: East Asian wide
// and fullwidth characters take two.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}
