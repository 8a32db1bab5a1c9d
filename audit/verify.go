package audit

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
)

// Kind classifies what Verify found wrong with a chain.
type Kind int

const (
	// Edited: a record's bytes changed (its hash does not match its
	// content), or a line is not an audit record at all.
	Edited Kind = iota + 1
	// Removed: one or more records are missing at this point.
	Removed
	// Inserted: a record that does not belong was added here (a forged
	// record followed by the genuine one, or a copy of an earlier record).
	Inserted
	// Reordered: the record here belongs elsewhere in the chain.
	Reordered
	// Truncated: the chain stops without a closing seal: records were cut
	// off the end of a file (or the writer is still running or crashed; see
	// the package documentation).
	Truncated
	// Spliced: a well-formed record with the expected sequence number that
	// does not chain to the record before it: pieces of two different
	// chains were joined.
	Spliced
)

func (k Kind) String() string {
	switch k {
	case Edited:
		return "edited"
	case Removed:
		return "removed"
	case Inserted:
		return "inserted"
	case Reordered:
		return "reordered"
	case Truncated:
		return "truncated"
	case Spliced:
		return "spliced"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// A TamperError is the first place Verify found a chain broken.
type TamperError struct {
	Kind Kind
	// File and Line (1-based) locate the line where the break shows; for a
	// truncated file Line is one past its last line.
	File string
	Line int
	// Seq is the sequence number of the record at fault: the record the
	// chain expected at this point (the edited record, the first removed
	// one, the one whose place was taken).
	Seq uint64
	// Found is the sequence number written on the line, 0 when it could not
	// be read.
	Found uint64
	// Detail says what was seen.
	Detail string
	// Tail is set when the only fault is that the chain stops without its
	// closing seal after a whole record: what Verify sees of a file that is
	// still being written, or of one whose end was cut off at a line
	// boundary. Only an anchor kept elsewhere (Report.LastSeq, LastHash)
	// tells those apart.
	Tail bool
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("audit: record %d (%s line %d) %s: %s", e.Seq, e.File, e.Line, e.Kind, e.Detail)
}

// ErrKeyRequired is returned by Verify for an HMAC chain when no key was
// given.
var ErrKeyRequired = errors.New("audit: the chain is HMAC-SHA-256; the key is needed to verify it")

// A Report describes a chain Verify checked.
type Report struct {
	// Files are the files in chain order.
	Files []string
	// Records is the number of records checked.
	Records int
	// FirstSeq and LastSeq are the first and last sequence numbers.
	FirstSeq, LastSeq uint64
	// LastHash is the hex hash of the last record: store it elsewhere (a
	// ticket, another system) to detect later truncation of a chain that
	// is still being written.
	LastHash string
	// Alg is the chain's algorithm, AlgHMACSHA256 or AlgSHA256.
	Alg string
	// Anchored reports whether the chain starts at its very first record
	// (seq 1, linked to nothing). When retention removed older files it
	// starts later, linked to a record that is gone.
	Anchored bool
	// Sealed reports whether the chain ends with the seal the File sink
	// writes on Close.
	Sealed bool
	// Warnings lists what is consistent but deserves a look: a writer that
	// found its active file missing when it started (records written to
	// that file before are gone without a trace in the chain).
	Warnings []string
	// Gaps lists the breaks the writer recorded itself (see Gap), in chain
	// order. They are facts, not tampering; Verify checks on past them.
	Gaps []Gap
}

// A Gap is a break in the chain that the writer recorded when it went on:
// a file that ends without its seal (the writer was killed, or a write
// failed) followed by a file whose audit.open record (reason ReasonCrash or
// ReasonRecover) names exactly the last record before the break. The
// record being written at that moment may be lost (Torn: a partial line
// was left, which cannot be checked). A gap proves nothing about records
// that were never written; records cut off the end of the file before the
// restart would have been recorded as a gap at an earlier record, which
// only an anchor kept elsewhere (Report.LastSeq, LastHash) shows.
type Gap struct {
	File     string // the file that ends without its seal
	Reason   string // ReasonCrash or ReasonRecover
	LastSeq  uint64 // the last intact record before the break
	LastHash string // its hex hash
	Torn     bool   // a partial line after it was set aside
	// At is the sequence number of the audit.open record that recorded
	// the gap.
	At uint64
}

// gapOpen reports whether p is an audit.open record that records a break.
func gapOpen(p *parsedLine) bool {
	return p != nil && p.msg == MsgOpen && (p.reason == ReasonCrash || p.reason == ReasonRecover) && p.lastSeq > 0
}

type verifyRec struct {
	file string
	line int
	p    *parsedLine // nil when the line is not an audit record
	torn bool        // last line of its file without a newline
}

// Verify checks the hash chain running through files, given in any order
// (they are put in chain order by their first sequence number). key is the
// HMAC key the File sink used, nil for a plain SHA-256 chain. It returns a
// *TamperError for the first record edited, removed, inserted, reordered or
// spliced and for a chain cut short, ErrKeyRequired for an HMAC chain
// without a key, or another error when a file cannot be read. The Report
// describes what was checked, up to the error.
//
// Verify reads each file whole; rotation (FileConfig.MaxSize) keeps them
// small enough for that.
//
// A chain is complete when it ends with an audit.seal record written on
// Close. A file still being written, or left by a writer that crashed, ends
// without one and is reported as Truncated; use the Report's LastSeq and
// LastHash with an anchor stored elsewhere to judge such a file.
func Verify(key []byte, files ...string) (*Report, error) {
	if len(files) == 0 {
		return nil, errors.New("audit: verify: no files")
	}
	type fileRecs struct {
		name  string
		first uint64
		recs  []verifyRec
		lines int
	}
	var fs []fileRecs
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("audit: verify: %w", err)
		}
		fr := fileRecs{name: name}
		for n := 1; len(data) > 0; n++ {
			line, rest, found := bytes.Cut(data, []byte{'\n'})
			data = rest
			r := verifyRec{file: name, line: n, torn: !found}
			if p, err := parseLine(line); err == nil {
				r.p = p
				if fr.first == 0 {
					fr.first = p.seq
				}
			}
			fr.recs = append(fr.recs, r)
			fr.lines = n
		}
		fs = append(fs, fr)
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].first < fs[j].first })

	// A torn last line of a file whose successor records a break is the
	// record the writer was writing when it broke off: set it aside (the
	// gap check below still requires the file to end exactly at the
	// record the break names).
	torn := map[string]bool{}
	for i := 0; i+1 < len(fs); i++ {
		n := len(fs[i].recs)
		if n > 0 && fs[i].recs[n-1].torn && len(fs[i+1].recs) > 0 && gapOpen(fs[i+1].recs[0].p) {
			fs[i].recs = fs[i].recs[:n-1]
			torn[fs[i].name] = true
		}
	}

	rep := &Report{}
	var recs []verifyRec
	// ends[i] is true when recs[i] is the last record of a file that is
	// followed by another file.
	ends := map[int]bool{}
	for i, f := range fs {
		rep.Files = append(rep.Files, f.name)
		if len(f.recs) == 0 {
			return rep, &TamperError{Kind: Truncated, File: f.name, Line: 1, Detail: "the file is empty"}
		}
		recs = append(recs, f.recs...)
		if i < len(fs)-1 {
			ends[len(recs)-1] = true
		}
	}
	// Where each sequence number occurs, for telling reordering from removal.
	where := map[uint64][]int{}
	for i, r := range recs {
		if r.p != nil {
			where[r.p.seq] = append(where[r.p.seq], i)
		}
	}

	first := recs[0]
	if first.p == nil {
		kind := Edited
		if first.torn {
			kind = Truncated
		}
		return rep, &TamperError{Kind: kind, File: first.file, Line: first.line, Detail: "the first line is not an audit record"}
	}
	if first.p.msg != MsgOpen {
		return rep, &TamperError{Kind: Removed, File: first.file, Line: first.line, Seq: first.p.seq - 1, Found: first.p.seq,
			Detail: "the chain does not begin with an audit.open record; records before it are missing"}
	}
	rep.Alg = first.p.alg
	switch {
	case first.p.alg == AlgHMACSHA256 && len(key) == 0:
		return rep, ErrKeyRequired
	case first.p.alg == AlgSHA256 && len(key) > 0:
		return rep, &TamperError{Kind: Edited, File: first.file, Line: first.line, Seq: first.p.seq, Found: first.p.seq,
			Detail: "a key was given but the chain is plain SHA-256, which anyone can recompute"}
	case first.p.alg != AlgHMACSHA256 && first.p.alg != AlgSHA256:
		return rep, &TamperError{Kind: Edited, File: first.file, Line: first.line, Seq: first.p.seq, Found: first.p.seq,
			Detail: fmt.Sprintf("unknown algorithm %q", first.p.alg)}
	}
	c := newChain(key)
	var zero [32]byte
	rep.FirstSeq = first.p.seq
	rep.Anchored = first.p.seq == 1 && first.p.prev == zero
	expect, prev := first.p.seq, first.p.prev
	var prevPrev [32]byte
	seen := map[[32]byte]uint64{}

	selfOK := func(p *parsedLine) bool {
		s := c.sum(p.signed)
		return hmac.Equal(s[:], p.hash[:])
	}
	// linksHere reports whether recs[j] is the genuine record for this
	// point: well formed, the expected seq, chained to prev.
	linksHere := func(j int) bool {
		if j >= len(recs) || recs[j].p == nil {
			return false
		}
		p := recs[j].p
		return p.seq == expect && p.prev == prev && selfOK(p)
	}
	for i, r := range recs {
		fail := func(k Kind, detail string) (*Report, error) {
			te := &TamperError{Kind: k, File: r.file, Line: r.line, Seq: expect, Detail: detail}
			if r.p != nil {
				te.Found = r.p.seq
			}
			return rep, te
		}
		p := r.p
		switch {
		case r.torn:
			// The writer ends every record with a newline.
			return fail(Truncated, "the last line of the file is incomplete")
		case p == nil || !selfOK(p):
			if linksHere(i + 1) {
				return fail(Inserted, "a record that does not belong precedes the genuine one")
			}
			if p == nil {
				return fail(Edited, "the line is not a well-formed audit record")
			}
			return fail(Edited, "the hash does not match the record's content")
		case p.seq == expect && p.prev != prev:
			return fail(Spliced, "the record does not chain to the record before it")
		case p.seq > expect:
			for s := expect; s < p.seq && s-expect < 1<<20; s++ {
				for _, j := range where[s] {
					if j > i {
						return fail(Reordered, fmt.Sprintf("found record %d; record %d comes later", p.seq, s))
					}
				}
			}
			if p.seq-expect == 1 {
				return fail(Removed, fmt.Sprintf("record %d is missing", expect))
			}
			return fail(Removed, fmt.Sprintf("records %d to %d are missing", expect, p.seq-1))
		case p.seq < expect:
			if s, ok := seen[p.hash]; ok {
				return fail(Inserted, fmt.Sprintf("a copy of record %d", s))
			}
			if i > 0 && p.seq == expect-1 && p.prev == prevPrev {
				// This record links where the one before it did: that
				// one, well formed but written without the key that
				// matters (a plain chain), was inserted in its place.
				prevRec := recs[i-1]
				return rep, &TamperError{Kind: Inserted, File: prevRec.file, Line: prevRec.line, Seq: p.seq, Found: p.seq,
					Detail: fmt.Sprintf("two records claim seq %d and chain to the same record; the first was inserted", p.seq)}
			}
			return fail(Reordered, fmt.Sprintf("found record %d after record %d", p.seq, expect-1))
		}
		if p.msg == MsgOpen && p.reason == ReasonActiveMissing {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s line %d: record %d: the writer found its active file missing when it started; records after %d may have been deleted", r.file, r.line, p.seq, p.seq-1))
		}
		seen[p.hash] = p.seq
		rep.Records++
		rep.LastSeq = p.seq
		rep.LastHash = hex.EncodeToString(p.hash[:])
		prevPrev = prev
		expect, prev = p.seq+1, p.hash
		if ends[i] && p.msg != MsgSeal {
			if n := recs[i+1].p; gapOpen(n) && n.lastSeq == p.seq && n.lastHash == rep.LastHash {
				rep.Gaps = append(rep.Gaps, Gap{File: r.file, Reason: n.reason, LastSeq: p.seq, LastHash: rep.LastHash, Torn: torn[r.file], At: n.seq})
				continue
			}
			return rep, &TamperError{Kind: Truncated, File: r.file, Line: r.line + 1, Seq: expect,
				Detail: "the file ends without an audit.seal record but the chain goes on in the next file"}
		}
	}
	last := recs[len(recs)-1]
	switch {
	case last.p.msg != MsgSeal:
		return rep, &TamperError{Kind: Truncated, File: last.file, Line: last.line + 1, Seq: expect, Tail: true,
			Detail: "the chain ends without an audit.seal record (cut short, still being written, or the writer crashed)"}
	case last.p.reason != "close":
		return rep, &TamperError{Kind: Truncated, File: last.file, Line: last.line + 1, Seq: expect,
			Detail: "the last file was sealed for rotation: the chain goes on in a file that was not given"}
	}
	rep.Sealed = true
	return rep, nil
}
