package envelope

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
	"sync"

	"github.com/emersion/go-message/textproto"

	"mailwarden/headers"
	"mailwarden/internal/msgenv"
)

// entity is one MIME entity of the body tree: a leaf with content, or a
// multipart with parts.
type entity struct {
	fields   []headers.Field // Content-* fields, wire form
	write    func(w io.Writer) error
	boundary string
	parts    []*entity
	// A text leaf (write and parts nil) has its text and transfer
	// encoding here and its two fields in own (fields is nil).
	text, enc string
	// wire says text is sent as it is: 7bit with every line break a
	// CRLF already (no copy, no count of its line breaks).
	wire bool
	own  [2]headers.Field
}

// WriteTo writes the message to w and returns the number of bytes written.
// It validates the message first (see Validate) and writes nothing if it is
// invalid; the error is then an *Error. Attachments are streamed from their
// readers; an error reading one is returned wrapped, after a partial write.
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	var p prepared
	if err := m.prepare(&p, true); err != nil {
		return 0, err
	}
	defer p.release()
	if r, ok := w.(msgenv.Receiver); ok {
		r.SetEnvelope(p.envelope())
	}
	body, err := p.bodyTree()
	if err != nil {
		return 0, err
	}
	pw := getWriter(w)
	defer putWriter(pw)
	bw := pw.bw
	if _, err := bw.Write(*p.head); err != nil {
		return pw.n, err
	}
	if m.Wrap == nil {
		err = writeEntity(bw, body)
	} else {
		err = p.writeWrapped(bw, body)
	}
	if err != nil {
		bw.Flush()
		return pw.n, err
	}
	err = bw.Flush()
	return pw.n, err
}

func (p *prepared) writeWrapped(bw *bufio.Writer, body *entity) error {
	// The wrapper writes to dst directly; flush our header lines first so
	// the order is kept even if it does not use bw.
	if err := bw.Flush(); err != nil {
		return err
	}
	wc, err := p.m.Wrap(bw)
	if err != nil {
		return fmt.Errorf("envelope: wrap: %w", err)
	}
	pw := getWriter(wc)
	defer putWriter(pw)
	iw := pw.bw
	if err := writeEntity(iw, body); err != nil {
		wc.Close()
		return err
	}
	if err := iw.Flush(); err != nil {
		wc.Close()
		return fmt.Errorf("envelope: wrap: %w", err)
	}
	if err := wc.Close(); err != nil {
		return fmt.Errorf("envelope: wrap: %w", err)
	}
	return nil
}

// writers holds the 32 KiB buffered writers WriteTo writes through, so
// that a stream of messages reuses them rather than allocating (and
// zeroing) one per message.
var writers = sync.Pool{New: func() any {
	pw := &pooledWriter{}
	pw.bw = bufio.NewWriterSize(pw, 32<<10)
	return pw
}}

// A pooledWriter is a buffered writer to w that counts the bytes it
// passes on.
type pooledWriter struct {
	bw *bufio.Writer // writes to the pooledWriter itself
	w  io.Writer
	n  int64
}

func (c *pooledWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

func getWriter(w io.Writer) *pooledWriter {
	pw := writers.Get().(*pooledWriter)
	pw.w, pw.n = w, 0
	pw.bw.Reset(pw)
	return pw
}

// putWriter returns pw to the pool, dropping what it still holds (after a
// failed write) and its destination.
func putWriter(pw *pooledWriter) {
	pw.bw.Reset(pw)
	pw.w = nil
	writers.Put(pw)
}

func writeFields(w io.Writer, fields []headers.Field) error {
	buf := heads.Get().(*[]byte)
	defer putHead(buf)
	b := (*buf)[:0]
	for _, f := range fields {
		var err error
		if b, err = appendField(b, f.Name, f.Value); err != nil {
			return err
		}
	}
	*buf = b
	_, err := w.Write(b)
	return err
}

// writeEntity writes e's Content-* fields, a blank line and its body.
func writeEntity(w io.Writer, e *entity) error {
	if err := writeFields(w, e.header()); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\r\n"); err != nil {
		return err
	}
	return writeBody(w, e)
}

func writeBody(w io.Writer, e *entity) error {
	if e.parts == nil {
		if e.write == nil {
			if e.wire {
				_, err := io.WriteString(w, e.text)
				return err
			}
			return writeText(w, e.text, e.enc)
		}
		return e.write(w)
	}
	mw := textproto.NewMultipartWriter(w)
	if err := mw.SetBoundary(e.boundary); err != nil {
		return fmt.Errorf("envelope: boundary: %w", err)
	}
	for _, part := range e.parts {
		var h textproto.Header
		// textproto.Header writes the last added field first.
		fields := part.header()
		for i := len(fields) - 1; i >= 0; i-- {
			s, err := headers.FormatField(fields[i].Name, fields[i].Value)
			if err != nil {
				return fieldErr(fields[i].Name, err)
			}
			h.AddRaw([]byte(s))
		}
		pw, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		if err := writeBody(pw, part); err != nil {
			return err
		}
	}
	return mw.Close()
}

// bodyTree lays out the body:
//
//	mixed( related( alternative(text, html), inline... ), attachment... )
//
// leaving out every level that would have a single part.
func (p *prepared) bodyTree() (*entity, error) {
	m := p.m
	if len(m.Attachments) == 0 && (m.Text == "" || m.HTML == "") {
		// A single text part (the usual case), in p.
		if m.HTML != "" {
			p.text.setText("html", m.HTML)
		} else {
			p.text.setText("plain", m.Text)
		}
		return &p.text, nil
	}
	var body *entity
	switch {
	case m.Text != "" && m.HTML != "":
		b, err := p.multipart("alternative", textEntity("plain", m.Text), textEntity("html", m.HTML))
		if err != nil {
			return nil, err
		}
		body = b
	case m.HTML != "":
		body = textEntity("html", m.HTML)
	default:
		body = textEntity("plain", m.Text)
	}
	var inline, attached []*entity
	for _, a := range m.Attachments {
		if a.ContentID != "" {
			inline = append(inline, attachmentEntity(a))
		} else {
			attached = append(attached, attachmentEntity(a))
		}
	}
	if len(inline) > 0 {
		b, err := p.multipart("related", append([]*entity{body}, inline...)...)
		if err != nil {
			return nil, err
		}
		body = b
	}
	if len(attached) > 0 {
		b, err := p.multipart("mixed", append([]*entity{body}, attached...)...)
		if err != nil {
			return nil, err
		}
		body = b
	}
	return body, nil
}

func (p *prepared) multipart(subtype string, parts ...*entity) (*entity, error) {
	tok, err := randomToken(p.m.Rand, 15)
	if err != nil {
		return nil, err
	}
	// "=_" cannot occur in quoted-printable or base64 output, so the
	// boundary cannot collide with an encoded body.
	boundary := "=_mw_" + tok
	params := map[string]string{"boundary": boundary}
	if subtype == "related" {
		params["type"] = "multipart/alternative"
		if ct := parts[0].header()[0].Value; !strings.HasPrefix(ct, "multipart/") {
			mt, _, _ := mime.ParseMediaType(ct)
			params["type"] = mt
		}
	}
	return &entity{
		fields:   []headers.Field{{Name: "Content-Type", Value: mime.FormatMediaType("multipart/"+subtype, params)}},
		boundary: boundary,
		parts:    parts,
	}, nil
}

// Transfer encodings (RFC 2045 section 6).
const (
	enc7bit   = "7bit"
	encQP     = "quoted-printable"
	encBase64 = "base64"
)

// textEntity returns a text/<sub> entity in UTF-8, choosing the transfer
// encoding by content: 7bit for short-lined ASCII, quoted-printable for
// mostly-ASCII text, base64 for mostly non-ASCII text (where
// quoted-printable would triple the size).
func textEntity(sub, s string) *entity {
	e := &entity{}
	e.setText(sub, s)
	return e
}

// setText makes e the text/<sub> entity of s (see textEntity).
func (e *entity) setText(sub, s string) {
	var ct string
	switch sub {
	case "plain":
		ct = "text/plain; charset=utf-8"
	case "html":
		ct = "text/html; charset=utf-8"
	default:
		ct = "text/" + sub + "; charset=utf-8"
	}
	e.text = s
	e.enc, e.wire = textEncoding(s)
	e.own = [2]headers.Field{
		{Name: "Content-Type", Value: ct},
		{Name: "Content-Transfer-Encoding", Value: e.enc},
	}
}

// header returns e's Content-* fields.
func (e *entity) header() []headers.Field {
	if e.write == nil && e.parts == nil { // a text leaf
		return e.own[:]
	}
	return e.fields
}

// writeText writes the text s in the transfer encoding enc.
func writeText(w io.Writer, s, enc string) error {
	switch enc {
	case enc7bit:
		_, err := io.WriteString(w, crlf(s))
		return err
	case encQP:
		qw := quotedprintable.NewWriter(w)
		if _, err := io.WriteString(qw, s); err != nil {
			return err
		}
		return qw.Close()
	default:
		return writeBase64(w, strings.NewReader(crlf(s)))
	}
}

// textEncoding picks the transfer encoding for UTF-8 text s, and reports
// whether s goes to the wire as it is (7bit with every line break a CRLF
// already).
func textEncoding(s string) (enc string, wire bool) {
	if ok, crlfOnly := plain7bitCRLF(s); ok {
		return enc7bit, crlfOnly
	}
	return countEncoding(s), false
}

// countEncoding is textEncoding without the plain7bit shortcut: it counts
// the non-ASCII and control bytes, and looks for long lines and trailing
// white space.
func countEncoding(s string) string {
	high, line, long, trailing := 0, 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r' || c == '\n':
			if i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') {
				trailing = true
			}
			line = 0
			continue
		case c >= 0x80 || (c < 0x20 && c != '\t') || c == 0x7f:
			high++
		}
		line++
		if line > 76 {
			long = true
		}
	}
	switch {
	case high == 0 && !long && !trailing && !strings.HasSuffix(s, " ") && !strings.HasSuffix(s, "\t"):
		return enc7bit
	case high*3 > len(s):
		return encBase64
	default:
		return encQP
	}
}

// plain7bitCRLF is textEncoding's quick test for the usual text: it reports
// true only for text textEncoding sends as 7bit (lines of at most 76
// printable US-ASCII characters or tabs, none ending in white space,
// separated by LF or CRLF). It finds the lines with IndexByte and looks
// each byte up once; anything else (a bare CR, say) is left to the full
// count.
//
// crlf reports, for such text, whether every line break in it is a CRLF
// already (crlf(s) == s): then s goes to the wire as it is.
func plain7bitCRLF(s string) (ok, crlf bool) {
	crlf = true
	for len(s) > 0 {
		line := s
		s = ""
		nl := strings.IndexByte(line, '\n')
		if nl >= 0 {
			line, s = line[:nl], line[nl+1:]
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
			if nl < 0 {
				crlf = false // a CR at the end: crlf adds its LF
			}
		} else if nl >= 0 {
			crlf = false // a bare LF
		}
		n := len(line)
		if n > 76 || (n > 0 && (line[n-1] == ' ' || line[n-1] == '\t')) {
			return false, false
		}
		i := 0
		for ; i+8 <= n; i += 8 {
			// Eight bytes at once: none below 0x20 and none above 0x7e
			// (the usual case), else byte by byte (a tab).
			x := binary.LittleEndian.Uint64([]byte(line[i : i+8]))
			if (x-lo20)&^x&hi80|((x+lo01*(0x7f-0x7e))|x)&hi80 != 0 {
				for _, c := range []byte(line[i : i+8]) {
					if !printable7[c] {
						return false, false
					}
				}
			}
		}
		for ; i < n; i++ {
			if !printable7[line[i]] {
				return false, false
			}
		}
	}
	return true, crlf
}

// Byte masks for plain7bitCRLF's eight-bytes-at-once test.
const (
	lo01 = 0x0101010101010101
	lo20 = 0x20 * lo01
	hi80 = 0x80 * lo01
)

// printable7 marks the bytes a 7bit text line may hold: printable
// US-ASCII and tab.
var printable7 = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	t['\t'] = true
	return t
}()

// crlf turns every line break (CRLF, bare CR, bare LF) into CRLF.
func crlf(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	// Already CRLF throughout (the usual case): every CR and every LF
	// belongs to a CRLF pair. Counting is much cheaper than copying.
	if n := strings.Count(s, "\r\n"); n == strings.Count(s, "\r") && n == strings.Count(s, "\n") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/20)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			b.WriteString("\r\n")
		case '\n':
			b.WriteString("\r\n")
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func attachmentEntity(a Attachment) *entity {
	mt, params := a.contentType()
	disp := "attachment"
	if a.ContentID != "" {
		disp = "inline"
	}
	dparams := map[string]string{}
	if a.Filename != "" {
		params["name"] = a.Filename
		dparams["filename"] = a.Filename
	}
	e := &entity{fields: []headers.Field{
		{Name: "Content-Type", Value: formatMediaType(mt, params)},
		{Name: "Content-Transfer-Encoding", Value: encBase64},
		{Name: "Content-Disposition", Value: formatMediaType(disp, dparams)},
	}}
	if a.ContentID != "" {
		id := strings.TrimSuffix(strings.TrimPrefix(a.ContentID, "<"), ">")
		e.fields = append(e.fields, headers.Field{Name: "Content-ID", Value: "<" + id + ">"})
	}
	body := a.Body
	e.write = func(w io.Writer) error {
		if err := writeBase64(w, body); err != nil {
			name := a.Filename
			if name == "" {
				name = a.ContentID
			}
			return fmt.Errorf("envelope: attachment %q: %w", name, err)
		}
		return nil
	}
	return e
}

// writeBase64 streams r to w as base64 in lines of 76 characters ending in
// CRLF (RFC 2045 section 6.8), holding one small block at a time.
func writeBase64(w io.Writer, r io.Reader) error {
	const lineIn = 57 // input octets per 76-character line
	in := make([]byte, lineIn*256)
	out := make([]byte, 0, 78*256)
	for {
		n, rerr := io.ReadFull(r, in)
		if n > 0 {
			out = out[:0]
			for off := 0; off < n; off += lineIn {
				end := min(off+lineIn, n)
				out = base64.StdEncoding.AppendEncode(out, in[off:end])
				out = append(out, '\r', '\n')
			}
			if _, err := w.Write(out); err != nil {
				return err
			}
		}
		switch rerr {
		case nil:
			continue
		case io.EOF, io.ErrUnexpectedEOF:
			return nil
		default:
			return rerr
		}
	}
}
