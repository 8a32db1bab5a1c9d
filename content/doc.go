// Package content renders the body of alert and report e-mail from
// templates: an HTML part that displays well in Outlook (desktop and web),
// Gmail and Apple Mail, its text/plain alternative, inline images and,
// for reports, CSV and JSON attachments made from the same data.
//
// A Template has a subject (text/template), an HTML body (html/template:
// data from the field, such as titles, host names and CVE text, is escaped
// by context and can never add markup, scripts or javascript: links) and
// an optional text body; without one the text is derived from the
// rendered HTML by HTMLToText (headings, paragraphs, lists, tables as
// aligned columns, links as "text <url>"). The subject becomes one line:
// CR, LF and other control characters in the data turn into spaces.
// Directional override and isolate characters (U+202A-U+202E,
// U+2066-U+2069) are removed from the subject, the HTML, the text and
// every CSV cell, so data cannot reorder the text around it ("Trojan
// Source", CVE-2021-42574); the JSON attachment carries the data as given,
// escaped as JSON.
//
// Three templates are built in (Lookup, Builtins): "alert" (data: Alert),
// "report" (Report) and "test" (Test), sharing one layout: every style
// inline (Outlook ignores most of <style>), table layout with
// role="presentation", a content column of at most 640 px (with a fixed
// table only Outlook for Windows sees), colours that keep their contrast in
// a dark mode, and images as multipart/related parts referenced by cid:,
// never remote. The JSON data shapes are documented with examples in
// docs/templates.md. Parse reads a template file of named blocks
// ("subject", "html", optional "text" and "shape"); Template.Source of a
// built-in is a file Parse accepts.
//
// Functions available in templates: image NAME (the cid: URL of a built-in
// image, see Images), badge SEVERITY (the badge image name), severityColor
// SEVERITY, isSeverity COLUMN, wrap TEXT (escaped, long words may break),
// upper, page TITLE SERVICE (the layout's
// argument), paragraphs TEXT (text split at blank lines, to show the
// administrator's text as text), lines, orElse S DEFAULT, cell ROW COLUMN,
// safeLink URL (the URL when http, https or mailto, else ""), msoStart
// WIDTH and msoEnd.
//
// Rendered.Apply puts subject, bodies, inline images and attachments into
// an envelope.Message, which streams them out (and through S/MIME, which
// signs the rendered body). The subject is cut to
// envelope.Message.MaxSubjectLength when written. The report attachments
// are generated row by row as the message is written: CSV per RFC 4180
// with CRLF line ends, in UTF-8 with a byte order mark so that Excel opens
// it as UTF-8, and cells that a spreadsheet would run as formulas prefixed
// with an apostrophe; JSON as the report data.
//
// The text is derived with golang.org/x/net/html (already a dependency)
// rather than an HTML-to-text library. jaytaylor/html2text (last changed
// in 2023) and its maintained fork inbucket/html2text draw tables through
// olekukonko/tablewriter (two more dependencies, with borders) as an
// option and drop an image's alt text; k3a/html2text does not align
// tables. None of them tells a layout table (role="presentation", which
// every mail layout nests) from a data table, which is what makes a mail
// readable as text. The derivation here is one file, tested by table.
//
// Out of scope: remote images and web fonts (never loaded), charsets other
// than UTF-8, right-to-left layout of whole messages, and templates that
// fetch data themselves.
package content
