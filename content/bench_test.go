package content

import (
	"fmt"
	"io"
	"testing"

	"mailwarden/envelope"
	"mailwarden/headers"
)

func bigReport(n int) *Report {
	rep := &Report{
		Title:          "Synchronisation report",
		AdditionalText: "Published to all targets.",
		Columns:        []string{"Title", "Time", "Size", "Classification", "Severity", "CVE"},
		Attach:         []string{"csv", "json"},
	}
	sev := []string{"Critical", "High", "Warning", "Low"}
	for i := range n {
		rep.Rows = append(rep.Rows, Row{
			Cells: map[string]Cell{
				"Title":          TextCell(fmt.Sprintf("Security update %d for package-%d", i, i%97)),
				"Time":           TextCell(fmt.Sprintf("06:%02d", i%60)),
				"Size":           TextCell(fmt.Sprintf("%d.%d MB", i%500, i%10)),
				"Classification": TextCell("Security Updates"),
				"Severity":       TextCell(sev[i%4]),
				"CVE":            LinkCell(fmt.Sprintf("CVE-2026-%05d", i), fmt.Sprintf("https://www.cve.org/CVERecord?id=CVE-2026-%05d", i)),
			},
			Link:  fmt.Sprintf("https://updates.example.com/notes/%d", i),
			Group: fmt.Sprintf("Target %d", i%8),
		})
	}
	return rep
}

// BenchmarkReport10000Rows renders a 10,000-row grouped report (HTML,
// derived text) and writes the whole message with its CSV and JSON
// attachments.
func BenchmarkReport10000Rows(b *testing.B) {
	rep := bigReport(10000)
	tm, err := Lookup("report")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var size int64
	for b.Loop() {
		r, err := tm.Render(rep)
		if err != nil {
			b.Fatal(err)
		}
		m := &envelope.Message{From: headers.Address{Addr: "a@example.com"}, To: []headers.Address{{Addr: "b@example.com"}}}
		r.Apply(m)
		if size, err = m.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/1e6, "MB/msg")
}
