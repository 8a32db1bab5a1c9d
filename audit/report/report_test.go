package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

var update = flag.Bool("update", false, "regenerate the fixed trails and the golden reports in testdata")

var generated = time.Date(2026, 11, 5, 9, 0, 0, 0, time.UTC)

type scenario struct {
	name  string
	story story
	// tamper edits the trail after it was written; it returns the seq of
	// the record it changed.
	tamper func(t *testing.T, files []string) uint64
}

var scenarios = []scenario{
	{name: "intact"},
	{name: "tampered", tamper: editRecipient},
	{name: "crashed", story: story{crash: true}},
	{name: "purge", story: story{purge: true}},
}

// editRecipient changes the recipient of the dead-lettered message in its
// smtp.send record, as someone hiding where an alert went would.
func editRecipient(t *testing.T, files []string) uint64 {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(b), "\n")
		for i, l := range lines {
			if strings.Contains(l, `"msg":"smtp.send"`) && strings.Contains(l, "nobody@example.com") {
				lines[i] = strings.ReplaceAll(l, "nobody@example.com", "archive@example.com")
				if err := os.WriteFile(f, []byte(strings.Join(lines, "")), 0o600); err != nil {
					t.Fatal(err)
				}
				var r struct{ Seq uint64 }
				json.Unmarshal([]byte(l), &r)
				return r.Seq
			}
		}
	}
	t.Fatal("no record to tamper with")
	return 0
}

// trailFiles returns a committed trail's files, sorted by name.
func trailFiles(t *testing.T, name string) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "trails", name, "*.log"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no trail %s (run go test -update): %v", name, err)
	}
	sort.Strings(files)
	return files
}

// TestFixedTrails checks that the committed trails are what the real audit
// writer produces for the story under the fixed clock and key (so they are
// fixtures anyone can regenerate with -update, not hand-made files).
func TestFixedTrails(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := writeStory(t, dir, sc.story)
			var edited uint64
			if sc.tamper != nil {
				edited = sc.tamper(t, files)
			}
			target := filepath.Join("testdata", "trails", sc.name)
			if *update {
				os.RemoveAll(target)
				if err := os.MkdirAll(target, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					b, _ := os.ReadFile(f)
					if err := os.WriteFile(filepath.Join(target, filepath.Base(f)), b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			committed := trailFiles(t, sc.name)
			if len(committed) != len(files) {
				t.Fatalf("%d files committed, the writer made %d", len(committed), len(files))
			}
			for _, f := range files {
				want, _ := os.ReadFile(filepath.Join(target, filepath.Base(f)))
				got, _ := os.ReadFile(f)
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from what the writer produces now (go test -update regenerates it)", f)
				}
			}
			if sc.tamper != nil && edited == 0 {
				t.Error("nothing tampered")
			}
		})
	}
}

func buildFixed(t *testing.T, name string, opts Options) *Report {
	t.Helper()
	opts.Key = testKey
	opts.Now = func() time.Time { return generated }
	rep, err := Build(opts, trailFiles(t, name)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rep.Close() })
	return rep
}

func render(t *testing.T, rep *Report) (html, csvOut, jsonOut []byte) {
	t.Helper()
	var h, c, j bytes.Buffer
	if err := rep.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteCSV(&c); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&j); err != nil {
		t.Fatal(err)
	}
	return h.Bytes(), c.Bytes(), j.Bytes()
}

// TestGoldenReports renders each fixed trail as HTML, CSV and JSON and
// compares with testdata/golden (go test -update rewrites them).
func TestGoldenReports(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			rep := buildFixed(t, sc.name, Options{})
			h, c, j := render(t, rep)
			for ext, got := range map[string][]byte{"html": h, "csv": c, "json": j} {
				path := filepath.Join("testdata", "golden", sc.name+"."+ext)
				if *update {
					os.MkdirAll(filepath.Dir(path), 0o755)
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", path, firstDiff(got, want))
				}
			}
			if !json.Valid(j) {
				t.Error("the JSON report is not valid JSON")
			}
		})
	}
}

func firstDiff(got, want []byte) string {
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(gl), len(wl)) {
		if gl[i] != wl[i] {
			return "line " + strconv.Itoa(i+1) + ":\n  got:  " + gl[i] + "\n  want: " + wl[i]
		}
	}
	return "lengths differ"
}

func TestVerdicts(t *testing.T) {
	intact := buildFixed(t, "intact", Options{})
	if v := intact.Verdict; v.Status != StatusIntact || !v.Sealed || !v.FromStart || v.Fault != nil || v.FirstHash == "" || v.LastHash == "" ||
		v.KeyID != keyID(testKey) || len(v.Crashes) != 0 || v.Records < 50 {
		t.Errorf("intact verdict %+v", v)
	}

	tampered := buildFixed(t, "tampered", Options{})
	v := tampered.Verdict
	if v.Status != StatusTampered || v.Fault == nil || v.Fault.Kind != "edited" || v.Fault.Line == 0 {
		t.Fatalf("tampered verdict %+v", v)
	}
	// The fault is the edited record: the records before it verified.
	if v.LastSeq != v.Fault.Seq-1 {
		t.Errorf("fault at %d, last verified %d", v.Fault.Seq, v.LastSeq)
	}
	h, _, _ := render(t, tampered)
	top := string(h[:bytes.Index(h, []byte("</section>"))])
	for _, want := range []string{`class="verdict v-tampered"`, ">TAMPERED<", "record " + u(v.Fault.Seq), "edited"} {
		if !strings.Contains(top, want) {
			t.Errorf("the verdict section lacks %q:\n%s", want, top)
		}
	}
	if !regexp.MustCompile(`\.v-tampered[^{]*\{[^}]*border-color: #c00000`).Match(h) || !strings.Contains(string(h), ".v-tampered .says") {
		t.Error("the tampered verdict is not styled red")
	}
	if bytes.Index(h, []byte("TAMPERED")) > bytes.Index(h, []byte("<h2>Summary")) {
		t.Error("the verdict does not come first")
	}

	crashed := buildFixed(t, "crashed", Options{})
	if v := crashed.Verdict; v.Status != StatusIntact || len(v.Crashes) != 1 || !v.Crashes[0].Torn || v.Crashes[0].Seq == 0 {
		t.Errorf("crashed verdict %+v", v)
	}
	h, _, _ = render(t, crashed)
	if !strings.Contains(string(h), "after seq "+u(crashed.Verdict.Crashes[0].Seq)) {
		t.Error("the crash and its seq are not in the report")
	}
}

func u(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func TestSummaryAndTables(t *testing.T) {
	rep := buildFixed(t, "purge", Options{})
	s := rep.Summary
	want := map[Outcome]int{OutcomeDelivered: 24, OutcomeDeferredDelivered: 1, OutcomeDead: 1, OutcomeFailed: 1, OutcomePurged: 1, OutcomeQueued: 1}
	for o, n := range want {
		if s.ByOutcome[o] != n {
			t.Errorf("%s: %d, want %d (all: %v)", o, s.ByOutcome[o], n, s.ByOutcome)
		}
	}
	if len(s.Actions) != 2 || s.Actions[0].Action != "purge" || s.Actions[0].Who != "jdoe@ops-01" || s.Actions[1].Action != "retry" {
		t.Errorf("actions %+v", s.Actions)
	}
	if s.Probes != 1 || s.Tests != 1 {
		t.Errorf("probes %d tests %d", s.Probes, s.Tests)
	}
	classes := map[string]int{}
	for _, f := range s.Failures {
		classes[f.Class] += f.Count
		if f.Hint == "" {
			t.Errorf("failure group %+v has no hint", f)
		}
	}
	if classes["temporary"] != 1 || classes["rejected"] != 1 || classes["connection"] != 1 || classes["auth"] != 1 {
		t.Errorf("failure classes %v", classes)
	}
	if len(s.Silences) != 1 || s.Silences[0].Duration < 9*time.Hour {
		t.Errorf("silences %+v", s.Silences)
	}
	if s.Step != time.Hour || len(s.Activity) < 24 || s.Latency.Count == 0 {
		t.Errorf("step %v, %d buckets, latency %+v", s.Step, len(s.Activity), s.Latency)
	}
	// The message table: the same rows in CSV and JSON.
	_, c, j := render(t, rep)
	rows, err := csv.NewReader(bytes.NewReader(c)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Messages []Message }
	if err := json.Unmarshal(j, &doc); err != nil {
		t.Fatal(err)
	}
	if len(rows)-1 != s.Messages || len(doc.Messages) != s.Messages {
		t.Fatalf("csv %d rows, json %d, summary %d", len(rows)-1, len(doc.Messages), s.Messages)
	}
	for i, m := range doc.Messages {
		if rows[i+1][2] != csvSafe(m.MessageID) || rows[i+1][14] != string(m.Outcome) {
			t.Errorf("row %d: csv %v, json %+v", i, rows[i+1], m)
		}
	}
	var m2 *Message
	for i := range doc.Messages {
		if doc.Messages[i].MessageID == "m2.cpu@alerts.example.com" {
			m2 = &doc.Messages[i]
		}
	}
	if m2 == nil || m2.Outcome != OutcomeDeferredDelivered || m2.Attempts != 2 || m2.QueueID != "5AbC2" || m2.TLS != "TLS 1.3 TLS_AES_128_GCM_SHA256" ||
		m2.AuthMech != "PLAIN" || m2.AuthUser != "alerts@example.com" || m2.SMIMESigner == "" || len(m2.SMIMERecipients) != 1 ||
		m2.LatencyMS == nil || *m2.LatencyMS != 91000 || len(m2.Rcpts) != 2 {
		t.Errorf("m2 row %+v", m2)
	}
}

func TestPeriodAndProfile(t *testing.T) {
	all := buildFixed(t, "intact", Options{})
	o365 := buildFixed(t, "intact", Options{Profile: "o365"})
	if o365.Summary.Messages != 1 || o365.Summary.ByTransport[0].Key != "graph" || o365.Summary.FailureCount != 0 {
		t.Errorf("profile o365: %d messages, %+v", o365.Summary.Messages, o365.Summary.ByTransport)
	}
	from := time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)
	morning := buildFixed(t, "intact", Options{From: from, To: from.Add(3 * time.Hour)})
	if morning.Summary.Messages == 0 || morning.Summary.Messages >= all.Summary.Messages {
		t.Errorf("period: %d of %d messages", morning.Summary.Messages, all.Summary.Messages)
	}
	if morning.Verdict.Records != all.Verdict.Records {
		t.Error("the period must not limit the verification")
	}
	if len(morning.Summary.Activity) != 3 {
		t.Errorf("3 hours: %d buckets", len(morning.Summary.Activity))
	}
	// A period with nothing in it is one silence.
	empty := buildFixed(t, "intact", Options{From: from.Add(-48 * time.Hour), To: from.Add(-24 * time.Hour)})
	if empty.Summary.Messages != 0 || len(empty.Summary.Silences) != 1 {
		t.Errorf("empty period: %+v", empty.Summary.Silences)
	}
}

// TestHostileValues: a recipient, a Message-ID or a reply cannot inject
// markup into the HTML or a formula into the CSV; the HTML loads nothing.
func TestHostileValues(t *testing.T) {
	rep := buildFixed(t, "intact", Options{})
	h, c, _ := render(t, rep)
	if !bytes.Contains(h, []byte("&lt;script&gt;alert(1)&lt;/script&gt;")) || !bytes.Contains(h, []byte("&lt;img src=x")) {
		t.Error("the hostile values are not shown escaped")
	}
	checkSelfContained(t, h)
	if !bytes.Contains(c, []byte(`'=HYPERLINK`)) {
		t.Error("the CSV does not defuse a formula")
	}
	if bytes.Contains(h, testKey) || bytes.Contains(c, testKey) {
		t.Error("the key is in the report")
	}
}

func TestUnverified(t *testing.T) {
	rep, err := Build(Options{Now: func() time.Time { return generated }}, trailFiles(t, "intact")...)
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	if rep.Verdict.Status != StatusUnverified || !strings.Contains(rep.Verdict.Summary, "no key") || rep.Summary.Messages != 0 {
		t.Errorf("no key: %+v", rep.Verdict)
	}
	if _, err := Build(Options{}, "testdata/no-such-file.log"); err == nil {
		t.Error("a missing file: no error")
	}
}

func TestAnchor(t *testing.T) {
	intact := buildFixed(t, "intact", Options{})
	v := intact.Verdict
	ok := buildFixed(t, "intact", Options{Anchor: &Anchor{Seq: v.LastSeq, Hash: v.LastHash}})
	if !ok.Verdict.AnchorChecked || !ok.Verdict.AnchorOK || ok.Verdict.Status != StatusIntact {
		t.Errorf("good anchor: %+v", ok.Verdict)
	}
	bad := buildFixed(t, "intact", Options{Anchor: &Anchor{Seq: v.LastSeq, Hash: strings.Repeat("0", 64)}})
	if bad.Verdict.AnchorOK || bad.Verdict.Status != StatusTampered {
		t.Errorf("wrong hash: %+v", bad.Verdict)
	}
	beyond := buildFixed(t, "intact", Options{Anchor: &Anchor{Seq: v.LastSeq + 5, Hash: v.LastHash}})
	if beyond.Verdict.AnchorOK || beyond.Verdict.Status != StatusTampered || !strings.Contains(beyond.Verdict.Summary, "cut off") {
		t.Errorf("anchor beyond the end: %+v", beyond.Verdict)
	}
}

// allowedElements are the only elements the report writes.
var allowedElements = map[string]bool{"html": true, "head": true, "meta": true, "title": true, "style": true, "body": true,
	"h1": true, "h2": true, "p": true, "b": true, "span": true, "div": true, "section": true, "dl": true, "dt": true, "dd": true,
	"code": true, "table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true,
	"svg": true, "line": true, "rect": true, "text": true}

// checkSelfContained parses the HTML as a browser would and fails on any
// element outside the report's own, any event handler, any reference to
// another resource, and any script.
func checkSelfContained(t *testing.T, doc []byte) {
	t.Helper()
	z := html.NewTokenizer(bytes.NewReader(doc))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Fatal(z.Err())
			}
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		if !allowedElements[tok.Data] {
			t.Errorf("element <%s> in the report", tok.Data)
		}
		for _, a := range tok.Attr {
			k := strings.ToLower(a.Key)
			switch {
			case strings.HasPrefix(k, "on"):
				t.Errorf("event handler %s=%q on <%s>", a.Key, a.Val, tok.Data)
			case k == "src" || k == "href" || k == "action" || k == "srcset" || k == "xlink:href" || k == "background":
				t.Errorf("reference %s=%q on <%s>", a.Key, a.Val, tok.Data)
			case k == "xmlns" && a.Val != "http://www.w3.org/2000/svg":
				t.Errorf("namespace %q", a.Val)
			case k == "style" && strings.Contains(strings.ToLower(a.Val), "url("):
				t.Errorf("style with a URL on <%s>", tok.Data)
			}
		}
		if tok.Data == "style" {
			z.Next()
			css := strings.ToLower(string(z.Text()))
			if strings.Contains(css, "url(") || strings.Contains(css, "@import") || strings.Contains(css, "@font-face") {
				t.Error("the style sheet loads something")
			}
		}
	}
}

// TestTrailEvents: the trail's own records (a recovery after a failed write,
// and any other audit.* record, such as a gap or crash record) are listed
// in the verdict with their seq numbers and fields.
func TestTrailEvents(t *testing.T) {
	dir := t.TempDir()
	clock := &fixedClock{t: time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)}
	w := newTrailWriter(t, dir, clock, 0)
	// A record named like a trail event (the Handler prefixes audit.open and
	// audit.seal only; the File sink writes the others).
	w.rec(slog.LevelWarn, "audit.gap", slog.String("reason", "crash"), slog.Uint64("from_seq", 7), slog.Uint64("to_seq", 9))
	w.close()
	rep, err := Build(Options{Key: testKey}, w.files()...)
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	ev := rep.Verdict.Events
	if len(ev) != 1 || ev[0].Seq != 2 || ev[0].Msg != "audit.gap" || ev[0].Detail != "from_seq=7 reason=crash to_seq=9" {
		t.Errorf("events %+v", ev)
	}
}
