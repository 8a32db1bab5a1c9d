package main

import (
	"fmt"
	"os"

	"mailwarden/audit"
)

// trailProgress shows how far 'audit verify' or 'audit report' is in a
// trail: records checked, the file being read of the files given, and the
// bytes read of their total size (counted first, from the files' sizes).
type trailProgress struct {
	d      *display
	files  int
	total  int64
	names  map[string]bool // files seen so far
	recs   int64
	bytes  int64
	action string // "checking" or "reading"
}

// newTrailProgress returns the progress of reading files, or nil when the
// display shows nothing.
func newTrailProgress(d *display, action string, files []string) *trailProgress {
	if !d.active() {
		return nil
	}
	p := &trailProgress{d: d, files: len(files), names: map[string]bool{}, action: action}
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			p.total += st.Size()
		}
	}
	return p
}

// record counts one verified record; nil-safe.
func (p *trailProgress) record(r audit.ScannedRecord) {
	p.recs++
	p.bytes += int64(len(r.JSON)) + 1
	if !p.names[r.File] {
		p.names[r.File] = true
		// A new file forces a redraw, and is a line of its own with --verbose.
		p.d.show("file "+r.File, p.line(r.File), true)
		return
	}
	p.d.show("file "+r.File, p.line(r.File), false)
}

// callback returns record as a function, nil when nothing is shown.
func (p *trailProgress) callback() func(audit.ScannedRecord) {
	if p == nil {
		return nil
	}
	return p.record
}

func (p *trailProgress) line(file string) string {
	s := fmt.Sprintf("%s %d records  file %d of %d", p.action, p.recs, len(p.names), p.files)
	if p.d.lines {
		s += " (" + term(file) + ")"
	}
	if p.total > 0 {
		s += fmt.Sprintf("  %s of %s (%d%%)", bytesText(p.bytes), bytesText(p.total), p.bytes*100/p.total)
	}
	return s
}

// done shows the final count on a terminal (the redraws in between are
// rate-limited), then clears the line; nil-safe.
func (p *trailProgress) done() {
	if p == nil || !p.d.tty {
		return
	}
	p.d.show("end", p.line(""), true)
	p.d.clear()
}
