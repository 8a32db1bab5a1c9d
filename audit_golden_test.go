package mailwarden_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"mailwarden"
	"mailwarden/envelope"
	"mailwarden/headers"
)

var updateAuditGolden = flag.Bool("update-audit-golden", false, "rewrite testdata/audit/send.golden")

// TestAuditRecordsGolden: the audit lines of a fixed send (intent, the
// transport's events, the summary, the file's open and seal records) are
// what testdata/audit/send.golden holds, byte for byte once the parts that
// change from run to run are masked: times, durations, the chain (seq is
// kept, prev and hash masked), the relay's port and certificate, the process and host.
// docs/audit-fields.md is the contract; this keeps the records' content
// and attribute order from changing by accident.
func TestAuditRecordsGolden(t *testing.T) {
	relay, caFile := tlsRelay(t, "u", "golden-pw-7")
	dir := t.TempDir()
	trail := filepath.Join(dir, "audit.jsonl")
	p := mailwarden.Profile{Name: "golden", Servers: []string{relay.Addr() + "-starttls"}, CAFile: caFile,
		Auth:  mailwarden.Auth{Mechanism: "PLAIN", Username: "u", Password: "env:PW"},
		Audit: mailwarden.AuditConfig{File: trail, Sync: "none"}}
	s, err := mailwarden.NewSender(context.Background(), p, &mailwarden.Options{Getenv: func(string) string { return "golden-pw-7" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m := &envelope.Message{From: headers.Address{Addr: "a@example.com"}, To: []headers.Address{{Addr: "b@example.com"}, {Addr: "c@example.com"}},
		Subject: "golden", Text: "x\r\n", MessageID: "<golden.1@example.com>", Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if _, err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	// Under sync none the send's records after its intent are written
	// together: they are in the file when Send returns, not at Close.
	if raw, err := os.ReadFile(trail); err != nil || !bytes.Contains(raw, []byte(`"msg":"smtp.send"`)) {
		t.Errorf("no smtp.send record in the file when Send returned (%v):\n%s", err, raw)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(trail)
	if err != nil {
		t.Fatal(err)
	}
	got := maskAuditLines(t, raw, relay.Addr())
	golden := filepath.Join("testdata", "audit", "send.golden")
	if *updateAuditGolden {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("audit lines differ from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
	// The masking kept the records: open, intent, events, summary, seal.
	if n := bytes.Count(got, []byte("\n")); n < 5 {
		t.Errorf("%d lines; want at least open, intent, send, summary, seal", n)
	}
}

// maskAuditLines replaces, in each line of an audit file, what differs
// between runs with fixed text, leaving everything else (keys, order,
// values) as written.
func maskAuditLines(t *testing.T, raw []byte, relayAddr string) []byte {
	t.Helper()
	masks := []struct {
		re  *regexp.Regexp
		new string
	}{
		{regexp.MustCompile(`"(time|prev|hash|started|ended|at|peer_sha256)":"[^"]*"`), `"$1":"*"`},
		{regexp.MustCompile(`"([a-z_]*duration[a-z_]*|[a-z_]*_ms|pid)":[0-9]+`), `"$1":0`},
		{regexp.MustCompile(`"(host|hostname|instance|go_version|key_id)":"[^"]*"`), `"$1":"*"`},
	}
	var out []byte
	for _, line := range bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n")) {
		if !json.Valid(line) {
			t.Fatalf("not JSON: %s", line)
		}
		line = bytes.ReplaceAll(line, []byte(relayAddr), []byte("RELAY"))
		for _, m := range masks {
			line = m.re.ReplaceAll(line, []byte(m.new))
		}
		out = append(append(out, line...), '\n')
	}
	return out
}
