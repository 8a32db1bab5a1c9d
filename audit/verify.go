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

// fileRecs are the lines of one file of a chain.
type fileRecs struct {
	name  string
	first uint64
	recs  []verifyRec
	lines int
}

// readChain reads files, puts them in chain order by their first sequence
// number and returns their lines in that order; ends marks the last line
// of each file that another file follows. The files go into rep.Files.
func readChain(rep *Report, files []string) (recs []verifyRec, ends map[int]bool, err error) {
	var fs []fileRecs
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, nil, fmt.Errorf("audit: verify: %w", err)
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
	// gap check still requires the file to end exactly at the record the
	// break names).
	for i := 0; i+1 < len(fs); i++ {
		n := len(fs[i].recs)
		if n > 1 && fs[i].recs[n-1].torn && len(fs[i+1].recs) > 0 && gapOpen(fs[i+1].recs[0].p) {
			fs[i].recs = fs[i].recs[:n-1]
			fs[i].recs[n-2].tornAfter = true
		}
	}
	ends = map[int]bool{}
	for i, f := range fs {
		rep.Files = append(rep.Files, f.name)
		if len(f.recs) == 0 {
			return nil, nil, &TamperError{Kind: Truncated, File: f.name, Line: 1, Detail: "the file is empty"}
		}
		recs = append(recs, f.recs...)
		if i < len(fs)-1 {
			ends[len(recs)-1] = true
		}
	}
	return recs, ends, nil
}

// checkChainStart checks the first record: an audit.open record whose
// algorithm matches the key given. It sets rep.Alg.
func checkChainStart(rep *Report, first verifyRec, key []byte) error {
	if first.p == nil {
		kind := Edited
		if first.torn {
			kind = Truncated
		}
		return &TamperError{Kind: kind, File: first.file, Line: first.line, Detail: "the first line is not an audit record"}
	}
	if first.p.msg != MsgOpen {
		return &TamperError{Kind: Removed, File: first.file, Line: first.line, Seq: first.p.seq - 1, Found: first.p.seq,
			Detail: "the chain does not begin with an audit.open record; records before it are missing"}
	}
	rep.Alg = first.p.alg
	switch {
	case first.p.alg == AlgHMACSHA256 && len(key) == 0:
		return ErrKeyRequired
	case first.p.alg == AlgSHA256 && len(key) > 0:
		return &TamperError{Kind: Edited, File: first.file, Line: first.line, Seq: first.p.seq, Found: first.p.seq,
			Detail: "a key was given but the chain is plain SHA-256, which anyone can recompute"}
	case first.p.alg != AlgHMACSHA256 && first.p.alg != AlgSHA256:
		return &TamperError{Kind: Edited, File: first.file, Line: first.line, Seq: first.p.seq, Found: first.p.seq,
			Detail: fmt.Sprintf("unknown algorithm %q", first.p.alg)}
	}
	return nil
}

// seqIndex says where each sequence number occurs, for telling
// reordering from removal.
func seqIndex(recs []verifyRec) map[uint64][]int {
	where := map[uint64][]int{}
	for i, r := range recs {
		if r.p != nil {
			where[r.p.seq] = append(where[r.p.seq], i)
		}
	}
	return where
}

// gap explains record seq found at index i where expect was due: the
// records between come later (Reordered), or are missing (Removed).
func gap(where map[uint64][]int, i int, seq, expect uint64) (Kind, string) {
	for s := expect; s < seq && s-expect < 1<<20; s++ {
		for _, j := range where[s] {
			if j > i {
				return Reordered, fmt.Sprintf("found record %d; record %d comes later", seq, s)
			}
		}
	}
	if seq-expect == 1 {
		return Removed, fmt.Sprintf("record %d is missing", expect)
	}
	return Removed, fmt.Sprintf("records %d to %d are missing", expect, seq-1)
}

// checkFileEnd checks a file r ends without its seal although next, the
// first record of the next file, goes on: allowed only where next records
// the break (a gap) at exactly r, which is added to rep.Gaps.
func checkFileEnd(rep *Report, r verifyRec, next *parsedLine, expect uint64) error {
	if gapOpen(next) && next.lastSeq == r.p.seq && next.lastHash == rep.LastHash {
		rep.Gaps = append(rep.Gaps, Gap{File: r.file, Reason: next.reason, LastSeq: r.p.seq, LastHash: rep.LastHash, Torn: r.tornAfter, At: next.seq})
		return nil
	}
	return &TamperError{Kind: Truncated, File: r.file, Line: r.line + 1, Seq: expect,
		Detail: "the file ends without an audit.seal record but the chain goes on in the next file"}
}

// checkChainEnd checks that the chain ends with the seal written on Close
// (expect is the sequence number that would come next).
func checkChainEnd(last verifyRec, expect uint64) error {
	switch {
	case last.p.msg != MsgSeal:
		return &TamperError{Kind: Truncated, File: last.file, Line: last.line + 1, Seq: expect, Tail: true,
			Detail: "the chain ends without an audit.seal record (cut short, still being written, or the writer crashed)"}
	case last.p.reason != "close":
		return &TamperError{Kind: Truncated, File: last.file, Line: last.line + 1, Seq: expect,
			Detail: "the last file was sealed for rotation: the chain goes on in a file that was not given"}
	}
	return nil
}

type verifyRec struct {
	file string
	line int
	p    *parsedLine // nil when the line is not an audit record
	torn bool        // last line of its file without a newline
	// tornAfter: a torn line after this record was set aside (a break
	// the next file records).
	tornAfter bool
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
	rep := &Report{}
	recs, ends, err := readChain(rep, files)
	var te *TamperError
	switch {
	case errors.As(err, &te):
		return rep, err
	case err != nil:
		return nil, err // a file that cannot be read: nothing was checked
	}
	where := seqIndex(recs)
	first := recs[0]
	if err := checkChainStart(rep, first, key); err != nil {
		return rep, err
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
			return fail(gap(where, i, p.seq, expect))
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
			if err := checkFileEnd(rep, r, recs[i+1].p, expect); err != nil {
				return rep, err
			}
		}
	}
	if err := checkChainEnd(recs[len(recs)-1], expect); err != nil {
		return rep, err
	}
	rep.Sealed = true
	return rep, nil
}
