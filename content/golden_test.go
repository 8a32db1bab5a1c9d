package content

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"mailwarden/envelope"
	"mailwarden/headers"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// countingRand is a deterministic randomness source for boundaries: each
// read differs from the one before.
type countingRand struct{ n byte }

func (c *countingRand) Read(p []byte) (int, error) {
	for i := range p {
		c.n++
		p[i] = c.n
	}
	return len(p), nil
}

// writeMessage writes r as a complete message with a fixed date and IDs.
func writeMessage(t testing.TB, r *Rendered) []byte {
	t.Helper()
	m := &envelope.Message{
		From:      headers.Address{Name: "Alerts", Addr: "alerts@example.com"},
		To:        []headers.Address{{Addr: "admin@example.com"}},
		Date:      time.Date(2026, 12, 5, 8, 30, 0, 0, time.UTC),
		MessageID: "golden@example.com",
		Rand:      &countingRand{},
	}
	r.Apply(m)
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// mimeStructure parses a message with go-message and lists its entities:
// media type, Content-ID, file name and body size, indented by depth.
func mimeStructure(t testing.TB, raw []byte) string {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Subject: %s\n", e.Header.Get("Subject"))
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
		if mr := e.MultipartReader(); mr != nil {
			b.WriteString(line + "\n")
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p, depth+1)
			}
			return
		}
		body, err := io.ReadAll(e.Body)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s (%d bytes)\n", line, len(body))
	}
	walk(e, 0)
	return b.String()
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test -update and review the diff):\n%s", path, got)
	}
}

// TestGoldenBuiltins compares each built-in template's output for its
// docs/examples data with the golden HTML, derived text and MIME
// structure in testdata.
func TestGoldenBuiltins(t *testing.T) {
	for _, name := range []string{"alert", "report", "test"} {
		t.Run(name, func(t *testing.T) {
			_, _, r := example(t, name)
			golden(t, name+".html", []byte(r.HTML))
			golden(t, name+".txt", []byte(r.Text))
			golden(t, name+".mime", []byte(mimeStructure(t, writeMessage(t, r))))
		})
	}
}

// TestTextHasEveryValue checks that the text alternative of each example
// shows every value of its data: each string (each paragraph of a longer
// one) and each link, except the subject, which is the Subject, and the
// list of attachments.
func TestTextHasEveryValue(t *testing.T) {
	for _, name := range []string{"alert", "report", "test"} {
		t.Run(name, func(t *testing.T) {
			_, _, r := example(t, name)
			raw, err := os.ReadFile("../docs/examples/" + name + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			delete(v, "attach")
			if s, ok := v["subject"].(string); ok {
				if r.Subject != s {
					t.Errorf("subject %q, want %q", r.Subject, s)
				}
				delete(v, "subject")
			}
			n := 0
			var check func(any)
			check = func(x any) {
				switch x := x.(type) {
				case string:
					for _, p := range paragraphs(x) {
						n++
						if !strings.Contains(r.Text, p) {
							t.Errorf("the text alternative lacks %q", p)
						}
					}
				case float64:
					n++
					if s := fmt.Sprint(x); !strings.Contains(r.Text, s) {
						t.Errorf("the text alternative lacks %s", s)
					}
				case []any:
					for _, e := range x {
						check(e)
					}
				case map[string]any:
					for _, e := range x {
						check(e)
					}
				}
			}
			check(v)
			if n < 5 {
				t.Fatalf("only %d values checked", n)
			}
		})
	}
}
