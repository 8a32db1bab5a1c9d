package audit

import (
	"errors"
	"fmt"
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

// Verify checks the hash chain running through files, given in any order
// (they are put in chain order by their first sequence number). key is the
// HMAC key the File sink used, nil for a plain SHA-256 chain. It returns a
// *TamperError for the first record edited, removed, inserted, reordered or
// spliced and for a chain cut short, ErrKeyRequired for an HMAC chain
// without a key, or another error when a file cannot be read. The Report
// describes what was checked, up to the error.
//
// Verify is a Scanner without ScanConfig.Restarts, run to the end: it reads
// the files line by line and holds one line at a time, however long.
//
// A chain is complete when it ends with an audit.seal record written on
// Close. A file still being written, or left by a writer that crashed, ends
// without one and is reported as Truncated; use the Report's LastSeq and
// LastHash with an anchor stored elsewhere to judge such a file.
func Verify(key []byte, files ...string) (*Report, error) {
	if len(files) == 0 {
		return nil, errors.New("audit: verify: no files")
	}
	s, err := newScanner(ScanConfig{Key: key}, "verify", 0, files)
	if err != nil {
		return nil, err // a file that cannot be read: nothing was checked
	}
	defer s.Close()
	for s.Next() {
	}
	var te *TamperError
	if err := s.Err(); err != nil && !errors.As(err, &te) && !errors.Is(err, ErrKeyRequired) {
		return nil, err
	}
	return s.Report(), s.Err()
}
