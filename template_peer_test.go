package mailwarden_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emersion/go-message"

	"mailwarden"
	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/peers"
)

// TestTemplateMessagesThroughRealPostfix sends each built-in template's
// message (its docs/examples data) through the test environment's Postfix,
// plain and S/MIME-signed, with max_subject_length 40, and parses what
// Postfix delivered with go-message and with Python's email package: both
// must see the multipart/alternative (text/plain, text/html) inside
// multipart/related with the images the HTML refers to, the report's CSV
// and JSON attachments beside it, the text alternative as rendered, and
// the subject cut to 40 characters.
func TestTemplateMessagesThroughRealPostfix(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_PLAIN", "MW_POSTFIX_MAILDIR")
	python := peers.Tool(t, "python3", "needed to parse the delivered messages")
	for _, signed := range []bool{false, true} {
		p := mailwarden.Profile{Name: "templates", Servers: []string{v[0]}, TLS: "none", From: "Alerts <alerts@example.com>", MaxSubjectLength: 40}
		name := "plain"
		if signed {
			p.SMIME = mailwarden.SMIMEConfig{SignCert: "testdata/certs/signer-rsa.pem", SignKey: "testdata/certs/signer-rsa.key"}
			name = "signed"
		}
		s, err := mailwarden.NewSender(context.Background(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		for _, tmpl := range []string{"alert", "report", "test"} {
			t.Run(name+"/"+tmpl, func(t *testing.T) {
				tm, err := mailwarden.LoadTemplate(tmpl)
				if err != nil {
					t.Fatal(err)
				}
				data, err := os.ReadFile("docs/examples/" + tmpl + ".json")
				if err != nil {
					t.Fatal(err)
				}
				rendered, err := mailwarden.RenderTemplate(tm, bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				m := &envelope.Message{To: []headers.Address{{Addr: "templates@example.com"}}}
				if err := mailwarden.TemplateMessage(m, tm, bytes.NewReader(data)); err != nil {
					t.Fatal(err)
				}
				res, err := s.Send(context.Background(), m)
				if err != nil {
					t.Fatal(err)
				}
				raw := waitInSink(t, v[1], res.QueueID)
				file := filepath.Join(t.TempDir(), "delivered.eml")
				if err := os.WriteFile(file, raw, 0o600); err != nil {
					t.Fatal(err)
				}

				wantSubject := rendered.Subject
				if utf8.RuneCountInString(wantSubject) > 40 {
					wantSubject = headers.Truncate(wantSubject, 40)
				}
				goTree, html, text := parseWithGoMessage(t, raw)
				out, err := exec.Command(python, "testdata/mime/structure.py", file).Output()
				if err != nil {
					t.Fatalf("python: %v", err)
				}
				pyTree, pyText, _ := strings.Cut(string(out), "--text--\n")

				want := "multipart/related\n  multipart/alternative\n    text/plain\n    text/html\n  image/png id=<logo@mailwarden> file=logo.png\n"
				if tmpl == "report" {
					want = "multipart/mixed\n  multipart/related\n    multipart/alternative\n      text/plain\n      text/html\n    image/png id=<logo@mailwarden> file=logo.png\n"
				}
				if signed {
					want = "multipart/signed\n" + indent(want)
				}
				for who, tree := range map[string]string{"go-message": goTree, "python": pyTree} {
					if !strings.HasPrefix(tree, "Subject: "+wantSubject+"\n") {
						t.Errorf("%s: subject line %q, want %q (40 characters at most)", who, strings.SplitN(tree, "\n", 2)[0], wantSubject)
					}
					if !strings.Contains(tree, want) {
						t.Errorf("%s: structure\n%s\nlacks\n%s", who, tree, want)
					}
					if tmpl == "report" && (!strings.Contains(tree, "text/csv file=Synchronisation") || !strings.Contains(tree, "application/json file=Synchronisation")) {
						t.Errorf("%s: no CSV or JSON attachment:\n%s", who, tree)
					}
					if signed && !strings.Contains(tree, "application/pkcs7-signature") {
						t.Errorf("%s: no signature part:\n%s", who, tree)
					}
				}
				if goTree != pyTree {
					t.Errorf("go-message and python disagree:\n%s\n---\n%s", goTree, pyTree)
				}
				// Every cid: the HTML uses is a part of the message.
				for _, cid := range regexp.MustCompile(`src="cid:([^"]+)"`).FindAllStringSubmatch(html, -1) {
					if !strings.Contains(goTree, "id=<"+cid[1]+">") {
						t.Errorf("the HTML refers to cid:%s, which no part has", cid[1])
					}
				}
				norm := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
				if norm(text) != rendered.Text || norm(pyText) != rendered.Text {
					t.Errorf("delivered text alternative differs from the rendered one:\ngo:\n%s\npython:\n%s\nwant:\n%s", text, pyText, rendered.Text)
				}
				if signed {
					verify := exec.Command("openssl", "smime", "-verify", "-CAfile", "testdata/certs/ca.pem", "-in", file, "-out", os.DevNull)
					if out, err := verify.CombinedOutput(); err != nil {
						t.Errorf("openssl smime -verify: %v\n%s", err, out)
					}
				}
			})
		}
	}
}

func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "")
}

// parseWithGoMessage returns the message's structure in the form
// testdata/mime/structure.py prints, its HTML body and its text body.
func parseWithGoMessage(t *testing.T, raw []byte) (tree, html, text string) {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := e.Header.Text("Subject")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("Subject: " + subject + "\n")
	var walk func(e *message.Entity, depth int)
	walk = func(e *message.Entity, depth int) {
		mt, _, _ := e.Header.ContentType()
		line := strings.Repeat("  ", depth) + mt
		if id := e.Header.Get("Content-Id"); id != "" {
			line += " id=" + id
		}
		if _, p, err := e.Header.ContentDisposition(); err == nil && p["filename"] != "" {
			line += " file=" + p["filename"]
		}
		b.WriteString(line + "\n")
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p, depth+1)
			}
		}
		body, err := io.ReadAll(e.Body)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case mt == "text/html" && html == "":
			html = string(body)
		case mt == "text/plain" && text == "":
			text = string(body)
		}
	}
	walk(e, 0)
	return b.String(), html, text
}
