package envelope

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"mailwarden/headers"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// seqRand is a deterministic randomness source: 0, 1, 2, ...
type seqRand struct{ n byte }

func (r *seqRand) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = r.n
		r.n++
	}
	return len(b), nil
}

var fixedTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.FixedZone("", 3600))

func clock() time.Time { return fixedTime }

func addrs(t testing.TB, s string) []headers.Address {
	t.Helper()
	l, err := headers.ParseAddressList(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func addr(t testing.TB, s string) headers.Address {
	t.Helper()
	return addrs(t, s)[0]
}

// checkWire fails unless every line ends in CRLF, there is no other CR or
// LF and no line exceeds 998 octets.
func checkWire(t testing.TB, b []byte) {
	t.Helper()
	for n := 1; len(b) > 0; n++ {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			i = len(b)
		} else if i == 0 || b[i-1] != '\r' {
			t.Fatalf("line %d: bare LF", n)
		}
		line := b[:i]
		line = bytes.TrimSuffix(line, []byte("\r"))
		if bytes.IndexByte(line, '\r') >= 0 {
			t.Fatalf("line %d: bare CR: %q", n, line)
		}
		if len(line) > 998 {
			t.Fatalf("line %d: %d octets", n, len(line))
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
}

func fullMessage(t testing.TB) *Message {
	return &Message{
		From:             addr(t, `"Alerts, Mailwarden" <alerts@example.com>`),
		Sender:           addr(t, "svc-mail@example.com"),
		ReplyTo:          addrs(t, "noc@example.com"),
		Organization:     "Example Corp – Security Operations",
		To:               addrs(t, `ops@example.com; "Doe, Jane" <jane@example.org>`),
		Cc:               addrs(t, "Jürgen Müller <jm@bücher.example>"),
		Bcc:              addrs(t, "audit@example.com, ops@example.com"),
		Subject:          "Festplatte fast voll: /var zu 95 % belegt – bitte prüfen, sonst fällt der Dienst aus",
		MaxSubjectLength: 60,
		Text:             "Volume /var is 95% full.\nPlease check.\n",
		HTML:             `<p>Volume <b>/var</b> is 95% full.</p><img src="cid:chart@example.com">`,
		Attachments: []Attachment{
			{Filename: "chart.png", ContentType: "image/png", ContentID: "chart@example.com", Body: strings.NewReader("\x89PNG\r\n\x1a\nfake")},
			{Filename: "report.csv", ContentType: "text/csv", Body: strings.NewReader("host,used\r\nweb1,95\r\n")},
			{Filename: "Größenübersicht.pdf", Body: strings.NewReader("%PDF-1.4 fake")},
		},
		Priority:        headers.PriorityUrgent,
		Importance:      headers.ImportanceHigh,
		Sensitivity:     headers.SensitivityCompanyConfidential,
		ReadReceiptTo:   addrs(t, "alerts@example.com"),
		ReturnReceiptTo: addrs(t, "alerts@example.com"),
		Header: []headers.Field{
			{Name: "X-Mailer", Value: "Mailwarden"},
			{Name: "X-Alert-Id", Value: "42"},
			{Name: "X-Site", Value: "Zürich"},
		},
		Clock: clock,
		Rand:  &seqRand{},
	}
}

func goldenCases(t testing.TB) map[string]*Message {
	return map[string]*Message{
		"simple": {
			From:    addr(t, "alerts@example.com"),
			To:      addrs(t, "ops@example.com"),
			Subject: "Disk almost full",
			Text:    "Volume /var is 95% full.\r\n",
			Clock:   clock, Rand: &seqRand{},
		},
		"full": fullMessage(t),
		"smtputf8": {
			From:    addr(t, "Jürgen <jürgen@bücher.example>"),
			To:      addrs(t, "δοκιμή@παράδειγμα.δοκιμή"),
			Subject: "SMTPUTF8",
			Text:    "Grüße\n",
			Clock:   clock, Rand: &seqRand{},
		},
		"cjk-html-only": {
			From:       addr(t, "alerts@example.com"),
			To:         addrs(t, "ops@example.com"),
			Subject:    "ディスク容量の警告",
			HTML:       "<p>ディスク容量が不足しています。確認してください。</p>",
			Importance: headers.ImportanceLow,
			Clock:      clock, Rand: &seqRand{},
		},
	}
}

func TestGolden(t *testing.T) {
	for name, m := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			n, err := m.WriteTo(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(buf.Len()) {
				t.Errorf("WriteTo returned %d, wrote %d", n, buf.Len())
			}
			checkWire(t, buf.Bytes())
			path := filepath.Join("testdata", name+".eml")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("output differs from %s (go test -update rewrites it); got:\n%s", path, buf.String())
			}
		})
	}
}

// TestParseBack writes the full message and reads it back with go-message:
// every header and part must come back as it went in.
func TestParseBack(t *testing.T) {
	m := fullMessage(t)
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	raw := buf.String()
	if strings.Contains(strings.ToLower(raw), "bcc") || strings.Contains(raw, "audit@example.com") {
		t.Fatal("Bcc leaked into the message")
	}
	for _, b := range []byte(raw) {
		if b >= 0x80 {
			t.Fatalf("8-bit octet in a message that needs neither SMTPUTF8 nor 8BITMIME:\n%s", raw)
		}
	}

	r, err := mail.CreateReader(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := r.Header
	wantAddrs := func(key string, want []headers.Address) {
		t.Helper()
		got, err := h.AddressList(key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: got %v, want %v", key, got, want)
		}
		for i := range got {
			if got[i].Name != want[i].Name || got[i].Address != want[i].Addr {
				t.Errorf("%s[%d] = %q <%s>, want %q <%s>", key, i, got[i].Name, got[i].Address, want[i].Name, want[i].Addr)
			}
		}
	}
	wantAddrs("From", []headers.Address{m.From})
	wantAddrs("Sender", []headers.Address{m.Sender})
	wantAddrs("Reply-To", m.ReplyTo)
	wantAddrs("To", m.To)
	wantAddrs("Cc", []headers.Address{{Name: "Jürgen Müller", Addr: "jm@xn--bcher-kva.example"}})
	wantAddrs("Disposition-Notification-To", m.ReadReceiptTo)
	wantAddrs("Return-Receipt-To", m.ReturnReceiptTo)
	if h.Has("Bcc") {
		t.Error("Bcc header present")
	}
	subj, _ := h.Subject()
	if want := headers.Truncate(m.Subject, 60); subj != want || len([]rune(subj)) > 60 {
		t.Errorf("Subject = %q, want %q", subj, want)
	}
	if org, _ := h.Text("Organization"); org != m.Organization {
		t.Errorf("Organization = %q", org)
	}
	if d, err := h.Date(); err != nil || !d.Equal(fixedTime) {
		t.Errorf("Date = %v, %v", d, err)
	}
	if id, err := h.MessageID(); err != nil || !strings.HasSuffix(id, "@example.com") {
		t.Errorf("Message-ID = %q, %v", id, err)
	}
	for k, want := range map[string]string{
		"Priority": "urgent", "X-Priority": "1", "Importance": "high",
		"Sensitivity": "Company-Confidential", "X-Mailer": "Mailwarden", "X-Alert-Id": "42",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if site, _ := h.Text("X-Site"); site != "Zürich" {
		t.Errorf("X-Site = %q", site)
	}

	var texts []string
	files := map[string]string{}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		switch ph := p.Header.(type) {
		case *mail.InlineHeader:
			ct, _, _ := ph.ContentType()
			if id := ph.Get("Content-Id"); id != "" {
				files[id] = string(body)
				continue
			}
			texts = append(texts, ct+":"+string(body))
		case *mail.AttachmentHeader:
			name, err := ph.Filename()
			if err != nil {
				t.Fatal(err)
			}
			files[name] = string(body)
		}
	}
	wantTexts := []string{"text/plain:" + crlf(m.Text), "text/html:" + m.HTML}
	if strings.Join(texts, "|") != strings.Join(wantTexts, "|") {
		t.Errorf("bodies = %q, want %q", texts, wantTexts)
	}
	wantFiles := map[string]string{
		"<chart@example.com>": "\x89PNG\r\n\x1a\nfake",
		"report.csv":          "host,used\r\nweb1,95\r\n",
		"Größenübersicht.pdf": "%PDF-1.4 fake",
	}
	for k, v := range wantFiles {
		if files[k] != v {
			t.Errorf("part %q = %q, want %q (parts: %q)", k, files[k], v, files)
		}
	}
}

func TestStructure(t *testing.T) {
	m := fullMessage(t)
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	order := []string{"multipart/mixed", "multipart/related", "multipart/alternative", "text/plain", "text/html", "image/png", "text/csv", "application/pdf"}
	pos := 0
	for _, ct := range order {
		i := strings.Index(s[pos:], "Content-Type: "+ct)
		if i < 0 {
			t.Fatalf("%s missing or out of order in\n%s", ct, s)
		}
		pos += i
	}
}

func TestEnvelope(t *testing.T) {
	m := fullMessage(t)
	from, rcpts, utf8, err := m.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	if from != "svc-mail@example.com" {
		t.Errorf("from = %q, want the Sender", from)
	}
	want := "ops@example.com jane@example.org jm@xn--bcher-kva.example audit@example.com"
	if got := strings.Join(rcpts, " "); got != want {
		t.Errorf("rcpts = %q, want %q (Bcc included, duplicates removed)", got, want)
	}
	if utf8 {
		t.Error("smtputf8 = true for ASCII local parts")
	}
	m = goldenCases(t)["smtputf8"]
	from, rcpts, utf8, err = m.Envelope()
	if err != nil || !utf8 || from != "jürgen@xn--bcher-kva.example" || rcpts[0] != "δοκιμή@xn--hxajbheg2az3al.xn--jxalpdlp" {
		t.Errorf("Envelope() = %q %q %v %v", from, rcpts, utf8, err)
	}
}

func TestTextEncoding(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain ascii\r\nlines\r\n", enc7bit},
		{"", enc7bit},
		{strings.Repeat("x", 77), encQP},
		{"trailing space \nline", encQP},
		{"Grüße aus München", encQP},
		{"ディスク容量が不足しています", encBase64},
		{"nul\x00byte", encQP},
	}
	for _, tt := range tests {
		if got, _ := textEncoding(tt.in); got != tt.want {
			t.Errorf("textEncoding(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestBodiesRoundTrip checks each transfer encoding, including bare CR and
// LF line breaks and very long lines, reads back as CRLF text.
func TestBodiesRoundTrip(t *testing.T) {
	for _, text := range []string{
		"plain",
		"bare\nLF\rCR\r\nCRLF",
		strings.Repeat("long line without breaks ", 100),
		strings.Repeat("ü", 2000),
		"ディスク容量が不足しています\n" + strings.Repeat("データ", 500),
		"line ends with spaces   \nnext",
		".\r\n..\r\nFrom me\r\n",
	} {
		m := &Message{From: addr(t, "a@example.com"), To: addrs(t, "b@example.com"), Text: text, Clock: clock, Rand: &seqRand{}}
		var buf bytes.Buffer
		if _, err := m.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		checkWire(t, buf.Bytes())
		r, err := mail.CreateReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		p, err := r.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(p.Body)
		if string(got) != crlf(text) {
			t.Errorf("text %.40q read back as %.40q", text, got)
		}
	}
}

type wrapRecorder struct {
	dst   io.Writer
	inner bytes.Buffer
}

func (w *wrapRecorder) Write(b []byte) (int, error) { return w.inner.Write(b) }
func (w *wrapRecorder) Close() error {
	_, err := io.WriteString(w.dst, "Content-Type: application/x-test-wrapped\r\n\r\n"+strings.ToUpper(w.inner.String()))
	return err
}

// TestWrap checks the S/MIME contract: top-level fields go to dst, the inner
// entity with its Content-* fields goes into the wrapper, and the wrapper's
// output follows the top-level fields.
func TestWrap(t *testing.T) {
	m := fullMessage(t)
	var rec *wrapRecorder
	m.Wrap = func(dst io.Writer) (io.WriteCloser, error) {
		rec = &wrapRecorder{dst: dst}
		return rec, nil
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	checkWire(t, buf.Bytes())
	out := buf.String()
	top, rest, ok := strings.Cut(out, "Content-Type: application/x-test-wrapped\r\n\r\n")
	if !ok {
		t.Fatalf("wrapper output missing:\n%s", out)
	}
	if strings.Contains(top, "Content-") || !strings.Contains(top, "MIME-Version: 1.0\r\n") || !strings.HasPrefix(top, "Date: ") {
		t.Errorf("top-level header wrong:\n%s", top)
	}
	inner := rec.inner.String()
	if !strings.HasPrefix(inner, "Content-Type: multipart/mixed;") || strings.Contains(inner, "Subject:") || strings.Contains(inner, "MIME-Version") {
		t.Errorf("inner entity wrong:\n%.300s", inner)
	}
	if rest != strings.ToUpper(inner) {
		t.Error("wrapper output not placed after the top-level header")
	}
	// The inner entity parses as a MIME entity of its own.
	r, err := mail.CreateReader(strings.NewReader(inner))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.NextPart(); err != nil {
		t.Fatal(err)
	}
}

func TestWrapError(t *testing.T) {
	m := fullMessage(t)
	boom := errors.New("no key")
	m.Wrap = func(io.Writer) (io.WriteCloser, error) { return nil, boom }
	if _, err := m.WriteTo(io.Discard); !errors.Is(err, boom) {
		t.Errorf("err = %v, want the wrapper's error", err)
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestAttachmentReadError(t *testing.T) {
	m := &Message{From: addr(t, "a@example.com"), To: addrs(t, "b@example.com"),
		Attachments: []Attachment{{Filename: "x.bin", Body: failReader{}}}}
	_, err := m.WriteTo(io.Discard)
	if err == nil || !strings.Contains(err.Error(), `"x.bin"`) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("err = %v", err)
	}
}

func TestMessageIDAndDate(t *testing.T) {
	m := &Message{From: addr(t, "a@Example.COM"), To: addrs(t, "b@example.com")}
	var a, b bytes.Buffer
	if _, err := m.WriteTo(&a); err != nil {
		t.Fatal(err)
	}
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	ra, _ := mail.CreateReader(&a)
	rb, _ := mail.CreateReader(&b)
	ida, _ := ra.Header.MessageID()
	idb, _ := rb.Header.MessageID()
	if ida == idb || !strings.HasSuffix(ida, "@example.com") {
		t.Errorf("Message-IDs %q, %q: want unique, at the sender's domain", ida, idb)
	}
	if d, err := ra.Header.Date(); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date = %v, %v", d, err)
	}
	id, err := NewMessageID("example.com", nil)
	if err != nil || !strings.HasSuffix(id, "@example.com") || len(id) < 30 {
		t.Errorf("NewMessageID = %q, %v", id, err)
	}
	m.MessageID = id
	var c bytes.Buffer
	m.WriteTo(&c)
	if !strings.Contains(c.String(), "Message-ID: <"+id+">\r\n") {
		t.Errorf("given Message-ID not used")
	}
}

func TestAttachmentContentType(t *testing.T) {
	for name, want := range map[string]string{"a.pdf": "application/pdf", "a.unknownext": "application/octet-stream", "noext": "application/octet-stream"} {
		mt, _ := Attachment{Filename: name}.contentType()
		if mt != want {
			t.Errorf("%s: %s, want %s", name, mt, want)
		}
	}
	_ = mime.TypeByExtension
}

// TestLongFilenames checks RFC 2231 continuations: long and non-ASCII file
// names read back intact and keep header lines within 76 octets.
func TestLongFilenames(t *testing.T) {
	names := []string{
		strings.Repeat("日本語のファイル名", 12) + ".pdf",
		strings.Repeat("quarterly-capacity-report-", 8) + "final.xlsx",
		"Größenübersicht für das Rechenzentrum Zürich-Nord, Stand März 2026 (vertraulich).pdf",
		"short.txt",
		"with space.txt",
	}
	m := &Message{From: addr(t, "a@example.com"), To: addrs(t, "b@example.com"), Clock: clock, Rand: &seqRand{}}
	for _, n := range names {
		m.Attachments = append(m.Attachments, Attachment{Filename: n, Body: strings.NewReader(n)})
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	checkWire(t, buf.Bytes())
	for _, line := range strings.Split(buf.String(), "\r\n") {
		if strings.Contains(line, "name") && len(line) > 76 {
			t.Errorf("parameter line of %d octets: %q", len(line), line)
		}
	}
	r, err := mail.CreateReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ah, ok := p.Header.(*mail.AttachmentHeader); ok {
			name, err := ah.Filename()
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(p.Body)
			if string(body) != name {
				t.Errorf("attachment %q has body %q", name, body)
			}
			_, params, err := mime.ParseMediaType(ah.Get("Content-Type"))
			if err != nil || params["name"] != name {
				t.Errorf("Content-Type name = %q (%v), want %q", params["name"], err, name)
			}
			got = append(got, name)
		}
	}
	if strings.Join(got, "|") != strings.Join(names, "|") {
		t.Errorf("file names read back as %q, want %q", got, names)
	}
}
