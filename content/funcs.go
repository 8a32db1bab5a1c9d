package content

import (
	htmltemplate "html/template"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// severities maps severity names (lower case) to a class; each class has
// a colour and a badge image.
var severities = map[string]string{
	"critical": "critical", "emergency": "critical", "alert": "critical", "fatal": "critical",
	"high": "high", "error": "high", "important": "high",
	"warning": "warning", "warn": "warning", "medium": "warning", "moderate": "warning",
	"low": "low", "notice": "low",
	"info": "info", "informational": "info", "none": "info",
	"ok": "ok", "resolved": "ok", "success": "ok",
}

// severityColors are text and badge colours chosen to keep a contrast of
// at least 4.5:1 on white and to stay legible when a client's dark mode
// inverts or darkens the background (mid-tone, saturated, never black).
var severityColors = map[string]string{
	"critical": "#b42318",
	"high":     "#c4320a",
	"warning":  "#b54708",
	"low":      "#175cd3",
	"info":     "#475467",
	"ok":       "#067647",
	"":         "#475467",
}

func severityClass(s string) string {
	return severities[strings.ToLower(strings.TrimSpace(s))]
}

// funcMap returns the functions every template may call.
func funcMap() map[string]any {
	return map[string]any{
		// image returns the cid: URL of a built-in image (see Images).
		"image": func(name string) (htmltemplate.URL, error) {
			img, err := imageNamed(name)
			if err != nil {
				return "", err
			}
			return htmltemplate.URL("cid:" + img.ContentID), nil
		},
		// badge names the badge image for a severity.
		"badge": func(sev string) string {
			if c := severityClass(sev); c != "" {
				return "badge-" + c
			}
			return "badge-unknown"
		},
		// severityColor is the CSS colour for a severity.
		"severityColor": func(sev string) htmltemplate.CSS {
			return htmltemplate.CSS(severityColors[severityClass(sev)])
		},
		// isSeverity reports whether a column name is "severity" (any case).
		"isSeverity": func(col string) bool { return strings.EqualFold(strings.TrimSpace(col), "severity") },
		"upper":      strings.ToUpper,
		// page is the value the layout blocks take: a title and the
		// service name ("Mailwarden" when empty).
		"page": func(title, service string) Page {
			if strings.TrimSpace(service) == "" {
				service = "Mailwarden"
			}
			return Page{Title: title, Service: service}
		},
		// wrap escapes text for HTML and lets words longer than 20
		// characters break (<wbr>), so a long host name, path or hash wraps
		// in a narrow column instead of widening the message.
		"wrap": wrapLong,
		// paragraphs splits text at blank lines, for text shown as text.
		"paragraphs": paragraphs,
		// lines splits text at line breaks.
		"lines": func(s string) []string {
			return strings.Split(strings.ReplaceAll(strings.TrimSpace(s), "\r\n", "\n"), "\n")
		},
		// or returns the first non-empty string.
		"orElse": func(s, def string) string {
			if strings.TrimSpace(s) == "" {
				return def
			}
			return s
		},
		// cell returns a row's cell by column name.
		"cell": func(r Row, col string) Cell { return r.Cells[col] },
		// safeLink returns an http, https or mailto URL unchanged and ""
		// for anything else, so a template can leave such text unlinked.
		"safeLink": safeLink,
		// msoStart and msoEnd wrap content in a fixed-width table that only
		// Outlook for Windows (Word) sees; it ignores max-width.
		"msoStart": func(width int) htmltemplate.HTML {
			return htmltemplate.HTML(`<!--[if mso]><table role="presentation" width="` + strconv.Itoa(max(width, 0)) + `" align="center" cellpadding="0" cellspacing="0" border="0"><tr><td><![endif]-->`)
		},
		"msoEnd": func() htmltemplate.HTML {
			return htmltemplate.HTML(`<!--[if mso]></td></tr></table><![endif]-->`)
		},
	}
}

// A Page is what the shared layout shows around the content: the
// document title and the name of the sending service.
type Page struct {
	Title, Service string
}

// wrapLong returns s escaped for HTML with a <wbr> after every 20
// characters of a word and after each '/', '.', '_', '-', '=', '&' or '?'
// in a word longer than 20 characters.
func wrapLong(s string) htmltemplate.HTML {
	var b strings.Builder
	for i, word := range strings.Split(s, " ") {
		if i > 0 {
			b.WriteByte(' ')
		}
		if utf8.RuneCountInString(word) <= 20 {
			b.WriteString(htmltemplate.HTMLEscapeString(word))
			continue
		}
		run := 0
		for _, r := range word {
			b.WriteString(htmltemplate.HTMLEscapeString(string(r)))
			run++
			if run >= 20 || strings.ContainsRune("/._-=&?", r) {
				b.WriteString("<wbr>")
				run = 0
			}
		}
	}
	return htmltemplate.HTML(b.String())
}

func paragraphs(s string) []string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	var out []string
	for _, p := range strings.Split(s, "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func safeLink(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return ""
		}
		return s
	case "mailto":
		return s
	}
	return ""
}
