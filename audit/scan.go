package audit

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"mailwarden/internal/robustio"
)

// A ScanConfig configures a Scanner.
type ScanConfig struct {
	// Key is the HMAC key the trail was written with; nil for a plain
	// SHA-256 chain.
	Key []byte
	// Restarts accepts a file that ends without its seal (or with a torn
	// last line) when the next file begins with an audit.open record
	// linked to the file's last whole record: a writer that stopped
	// without closing (a crash, a kill, a power loss) and a later writer
	// that resumed the chain. Each is listed in Scanner.Restarts. Without
	// it such a file is Truncated, as Verify reports it.
	Restarts bool
}

// A Restart is a place where a writer stopped without sealing its file and
// a later writer resumed the chain with an audit.open record linked to the
// last record written before (so no record is missing there).
type Restart struct {
	// File is the file that ends without a seal; Seq is its last record.
	File string
	Seq  uint64
	// Torn is set when the file ends with an incomplete line: the record
	// the writer was writing when it stopped (never part of the chain).
	Torn bool
	// Reason is the reason of the audit.open record that resumed the chain
	// ("resume" for a process that found the old active file).
	Reason string
}

// A ScannedRecord is one verified record of a trail, as the Scanner yields it.
type ScannedRecord struct {
	Seq  uint64
	Msg  string
	File string
	Line int // 1-based
	// JSON is the whole line, without its newline, as written: the record's
	// JSON object with seq, prev and hash. It is valid until the next call
	// to Next.
	JSON []byte
}

// A Scanner reads a trail record by record in chain order, checking the
// chain as Verify does, in memory bounded by the longest line rather than
// the size of the trail. Records are yielded only once they verified, so a
// consumer sees exactly the intact prefix of the chain.
//
// Use:
//
//	s, err := audit.NewScanner(audit.ScanConfig{Key: key}, files...)
//	for s.Next() { r := s.Record(); ... }
//	err = s.Err() // nil, *TamperError, ErrKeyRequired or a read error
//	rep := s.Report()
//
// Verify is a Scanner without ScanConfig.Restarts run to its end, so
// without Restarts Err and Report are what Verify returns, except that a
// line longer than MaxScanLine is not an audit record here. Telling a reordered record from a removed one, or a copy from a forged
// record, takes one more pass over the files at the fault.
type Scanner struct {
	cfg   ScanConfig
	op    string // "scan", or "verify" for Verify
	files []scanFile
	src   *lineSource
	rep   Report
	c     *chain
	err   error
	done  bool
	cur   ScannedRecord

	started  bool
	expect   uint64
	prev     [32]byte
	prevPrev [32]byte
	last     *scanLine // the last accepted record's line
	restarts []Restart
}

type scanFile struct {
	name  string
	first uint64
	empty bool
}

// scanLine is one line of a trail file.
type scanLine struct {
	file  string
	fi    int // index in Scanner.files
	line  int
	b     []byte
	p     *parsedLine // nil when the line is not an audit record
	torn  bool        // ends without a newline
	final bool        // the last line of its file
}

// NewScanner opens files (in any order; they are put in chain order by
// their first sequence number, as Verify does). It returns an error when a
// file cannot be read.
func NewScanner(cfg ScanConfig, files ...string) (*Scanner, error) {
	if len(files) == 0 {
		return nil, errors.New("audit: scan: no files")
	}
	return newScanner(cfg, "scan", MaxScanLine, files)
}

// newScanner opens files for NewScanner or Verify (op names the caller in
// errors); a line longer than maxLine is cut short, 0 for no limit.
func newScanner(cfg ScanConfig, op string, maxLine int, files []string) (*Scanner, error) {
	s := &Scanner{cfg: cfg, op: op, c: newChain(cfg.Key)}
	for _, name := range files {
		sf, err := firstSeq(name, maxLine)
		if err != nil {
			return nil, fmt.Errorf("audit: %s: %w", op, err)
		}
		s.files = append(s.files, sf)
	}
	sort.SliceStable(s.files, func(i, j int) bool { return s.files[i].first < s.files[j].first })
	for _, f := range s.files {
		s.rep.Files = append(s.rep.Files, f.name)
		if f.empty {
			s.fail(&TamperError{Kind: Truncated, File: f.name, Line: 1, Detail: "the file is empty"})
			break
		}
	}
	s.src = newLineSource(s.files, maxLine)
	return s, nil
}

func firstSeq(name string, maxLine int) (scanFile, error) {
	f, err := robustio.Open(name)
	if err != nil {
		return scanFile{}, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	sf := scanFile{name: name, empty: true}
	// As Verify: the first line that is an audit record (usually line 1).
	for {
		line, err := readLine(r, nil, maxLine)
		if len(line) > 0 {
			sf.empty = false
			if p, perr := parseLine(bytes.TrimSuffix(line, []byte{'\n'})); perr == nil {
				sf.first = p.seq
				return sf, nil
			}
		}
		if errors.Is(err, io.EOF) {
			return sf, nil
		}
		if err != nil {
			return sf, err
		}
	}
}

// MaxScanLine is the longest line a Scanner holds in memory: a longer line
// is read to its end but not kept, and is reported as not an audit record
// (the File sink never writes one that long: records are a few hundred
// bytes).
const MaxScanLine = 16 << 20

// readLine appends the next line (with its newline, if any) to dst. A line
// longer than limit (NewScanner: MaxScanLine) is cut to its first limit
// bytes (plus its newline), which parseLine then refuses; limit 0 keeps it
// whole.
func readLine(r *bufio.Reader, dst []byte, limit int) ([]byte, error) {
	for {
		chunk, err := r.ReadSlice('\n')
		nl := len(chunk) > 0 && chunk[len(chunk)-1] == '\n'
		if limit <= 0 {
			dst = append(dst, chunk...)
		} else if room := limit - len(dst); room > 0 {
			dst = append(dst, chunk[:min(len(chunk), room)]...)
		}
		if nl && dst[len(dst)-1] != '\n' {
			dst = append(dst, '\n') // a line cut short keeps its end
		}
		if err != bufio.ErrBufferFull {
			return dst, err
		}
	}
}

// Next advances to the next verified record. It returns false at the end of
// the chain or at the first fault; Err tells which.
func (s *Scanner) Next() bool {
	if s.done {
		return false
	}
	l, err := s.src.next()
	if err != nil {
		s.fail(fmt.Errorf("audit: %s: %w", s.op, err))
		return false
	}
	if l == nil {
		s.finish()
		return false
	}
	if !s.started {
		l = s.begin(l)
	} else {
		l = s.check(l)
	}
	if l == nil {
		return false
	}
	p := l.p
	if p.msg == MsgOpen && p.reason == ReasonActiveMissing {
		s.rep.Warnings = append(s.rep.Warnings, fmt.Sprintf("%s line %d: record %d: the writer found its active file missing when it started; records after %d may have been deleted", l.file, l.line, p.seq, p.seq-1))
	}
	s.rep.Records++
	s.rep.LastSeq = p.seq
	s.rep.LastHash = hex.EncodeToString(p.hash[:])
	s.prevPrev = s.prev
	s.expect, s.prev = p.seq+1, p.hash
	s.last = l
	s.cur = ScannedRecord{Seq: p.seq, Msg: p.msg, File: l.file, Line: l.line, JSON: bytes.TrimSuffix(l.b, []byte{'\n'})}
	if l.final && l.fi < len(s.files)-1 && p.msg != MsgSeal && !s.restart(l, false) {
		s.fail(&TamperError{Kind: Truncated, File: l.file, Line: l.line + 1, Seq: s.expect,
			Detail: "the file ends without an audit.seal record but the chain goes on in the next file"})
		// The record itself verified: yield it, stop at the next call.
		s.done = true
	}
	return true
}

// peek returns the next line, nil at the end or a read error (which
// the next call to Next reports).
func (s *Scanner) peek() *scanLine {
	n, err := s.src.peek()
	if err != nil {
		return nil
	}
	return n
}

// restart reports whether the file that ends at l (its last whole record,
// or its torn last line) is followed by a file resuming the chain, and
// records the restart. Without ScanConfig.Restarts only a break the writer
// recorded (an audit.open record with reason crash or recover naming the
// last record before it) is accepted, as Verify accepts it, and the
// record's link is checked when the Scanner reaches it; with it, any
// audit.open record linked to the last record is.
func (s *Scanner) restart(l *scanLine, torn bool) bool {
	next := s.peek()
	if next == nil || next.fi != l.fi+1 || next.line != 1 || next.p == nil {
		return false
	}
	n := next.p
	recorded := gapOpen(n) && n.lastSeq == s.expect-1 && n.lastHash == s.rep.LastHash
	if s.cfg.Restarts {
		if n.msg != MsgOpen || n.seq != s.expect || n.prev != s.prev || !s.selfOK(n) {
			return false
		}
	} else if !recorded {
		return false
	}
	seq := s.expect - 1
	if recorded {
		s.rep.Gaps = append(s.rep.Gaps, Gap{File: l.file, Reason: n.reason, LastSeq: seq, LastHash: s.rep.LastHash, Torn: torn, At: n.seq})
	}
	s.restarts = append(s.restarts, Restart{File: l.file, Seq: seq, Torn: torn, Reason: n.reason})
	return true
}

// setAside reports whether Verify's rules set the torn last line l aside
// given next, the line after it: l's file holds a record before it and
// next begins the next file by recording a break (l is the record being
// written when the writer broke off).
func (s *Scanner) setAside(l, next *scanLine) bool {
	return !s.cfg.Restarts && l.torn && l.line > 1 && next != nil && next.fi == l.fi+1 && next.line == 1 && gapOpen(next.p)
}

func (s *Scanner) selfOK(p *parsedLine) bool {
	sum := s.c.sum(p.signed)
	return hmac.Equal(sum[:], p.hash[:])
}

// begin checks the first record of the chain and returns it, or nil at a
// fault.
func (s *Scanner) begin(l *scanLine) *scanLine {
	s.started = true
	if l.p == nil {
		kind := Edited
		if l.torn {
			kind = Truncated
		}
		return s.failAt(&TamperError{Kind: kind, File: l.file, Line: l.line, Detail: "the first line is not an audit record"})
	}
	p := l.p
	if p.msg != MsgOpen {
		return s.failAt(&TamperError{Kind: Removed, File: l.file, Line: l.line, Seq: p.seq - 1, Found: p.seq,
			Detail: "the chain does not begin with an audit.open record; records before it are missing"})
	}
	s.rep.Alg = p.alg
	switch {
	case p.alg == AlgHMACSHA256 && len(s.cfg.Key) == 0:
		return s.failAt(ErrKeyRequired)
	case p.alg == AlgSHA256 && len(s.cfg.Key) > 0:
		return s.failAt(&TamperError{Kind: Edited, File: l.file, Line: l.line, Seq: p.seq, Found: p.seq,
			Detail: "a key was given but the chain is plain SHA-256, which anyone can recompute"})
	case p.alg != AlgHMACSHA256 && p.alg != AlgSHA256:
		return s.failAt(&TamperError{Kind: Edited, File: l.file, Line: l.line, Seq: p.seq, Found: p.seq,
			Detail: fmt.Sprintf("unknown algorithm %q", p.alg)})
	}
	var zero [32]byte
	s.rep.FirstSeq = p.seq
	s.rep.Anchored = p.seq == 1 && p.prev == zero
	s.expect, s.prev = p.seq, p.prev
	return s.check(l)
}

// check applies Verify's rules to the line at the expected position and
// returns the record accepted there, or nil at a fault.
func (s *Scanner) check(l *scanLine) *scanLine {
	fail := func(k Kind, detail string) *scanLine {
		te := &TamperError{Kind: k, File: l.file, Line: l.line, Seq: s.expect, Detail: detail}
		if l.p != nil {
			te.Found = l.p.seq
		}
		return s.failAt(te)
	}
	p := l.p
	switch {
	case l.torn:
		switch {
		case s.setAside(l, s.peek()):
			// Strict: the break must be recorded at the record before,
			// unless that is a seal (then no break is checked).
			if s.last.p.msg == MsgSeal || s.restart(l, true) {
				return s.skip()
			}
			return s.failAt(&TamperError{Kind: Truncated, File: l.file, Line: l.line, Seq: s.expect,
				Detail: "the file ends without an audit.seal record but the chain goes on in the next file"})
		case s.cfg.Restarts && l.final && s.last != nil && s.last.fi == l.fi && s.restart(l, true):
			// The torn line is skipped; the resumed file comes next.
			return s.skip()
		}
		return fail(Truncated, "the last line of the file is incomplete")
	case p == nil || !s.selfOK(p):
		if n := s.following(); n != nil && n.p != nil && n.p.seq == s.expect && n.p.prev == s.prev && s.selfOK(n.p) {
			return fail(Inserted, "a record that does not belong precedes the genuine one")
		}
		if p == nil {
			return fail(Edited, "the line is not a well-formed audit record")
		}
		return fail(Edited, "the hash does not match the record's content")
	case p.seq == s.expect && p.prev != s.prev:
		return fail(Spliced, "the record does not chain to the record before it")
	case p.seq > s.expect:
		if later, ok := s.findLater(s.expect, p.seq); ok {
			return fail(Reordered, fmt.Sprintf("found record %d; record %d comes later", p.seq, later))
		}
		if p.seq-s.expect == 1 {
			return fail(Removed, fmt.Sprintf("record %d is missing", s.expect))
		}
		return fail(Removed, fmt.Sprintf("records %d to %d are missing", s.expect, p.seq-1))
	case p.seq < s.expect:
		if seq, ok := s.findCopy(p.hash); ok {
			return fail(Inserted, fmt.Sprintf("a copy of record %d", seq))
		}
		if s.last != nil && p.seq == s.expect-1 && p.prev == s.prevPrev {
			return s.failAt(&TamperError{Kind: Inserted, File: s.last.file, Line: s.last.line, Seq: p.seq, Found: p.seq,
				Detail: fmt.Sprintf("two records claim seq %d and chain to the same record; the first was inserted", p.seq)})
		}
		return fail(Reordered, fmt.Sprintf("found record %d after record %d", p.seq, s.expect-1))
	}
	return l
}

// skip moves past a torn line to the next record (after a restart).
func (s *Scanner) skip() *scanLine {
	l, err := s.src.next()
	if err != nil || l == nil {
		return s.failAt(fmt.Errorf("audit: %s: the resumed file vanished: %v", s.op, err))
	}
	return s.check(l)
}

// following returns the line after the current one as Verify's rules
// see it: the next line, or the one after it when that is a torn last line
// set aside (see setAside).
func (s *Scanner) following() *scanLine {
	var out *scanLine
	s.rest(func(l *scanLine) bool {
		out = l
		return false
	})
	return out
}

// rest calls fn for every line after the current one (the peeked line
// included) without moving the source, until fn returns false; a torn
// last line set aside (see setAside) is passed over.
func (s *Scanner) rest(fn func(*scanLine) bool) {
	var torn *scanLine // a torn last line, until the next line tells
	more := true
	s.src.scanRest(func(l *scanLine) bool {
		if torn != nil {
			if !s.setAside(torn, l) && !fn(torn) {
				more = false
				return false
			}
			torn = nil
		}
		if l.torn {
			torn = l
			return true
		}
		more = fn(l)
		return more
	})
	if more && torn != nil {
		fn(torn)
	}
}

// findLater looks, from the current position on, for the lowest sequence
// number in [from, to) that occurs later in the trail (a second pass over the
// rest of the files, at a fault only).
func (s *Scanner) findLater(from, to uint64) (uint64, bool) {
	if to-from > 1<<20 {
		to = from + 1<<20
	}
	best, found := uint64(0), false
	s.rest(func(l *scanLine) bool {
		if l.p != nil && l.p.seq >= from && l.p.seq < to && (!found || l.p.seq < best) {
			best, found = l.p.seq, true
		}
		return true
	})
	return best, found
}

// findCopy looks for an earlier record with the given hash (a pass over the
// files from the beginning, at a fault only).
func (s *Scanner) findCopy(h [32]byte) (uint64, bool) {
	var seq uint64
	found := false
	src := newLineSource(s.files, s.src.limit)
	defer src.close()
	cur := s.src.pos()
	for {
		l, err := src.next()
		if err != nil || l == nil || src.pos() >= cur {
			return seq, found
		}
		// Every whole line before this one is a record of the chain; a
		// torn one Verify set aside is not (with Restarts it counts).
		if (!l.torn || s.cfg.Restarts) && l.p != nil && l.p.hash == h && s.selfOK(l.p) {
			return l.p.seq, true
		}
	}
}

// finish checks the end of the chain.
func (s *Scanner) finish() {
	s.done = true
	if s.err != nil {
		return
	}
	if !s.started {
		s.err = errors.New("audit: scan: no records")
		return
	}
	l := s.last
	switch {
	case l.p.msg != MsgSeal:
		s.err = &TamperError{Kind: Truncated, File: l.file, Line: l.line + 1, Seq: s.expect, Tail: true,
			Detail: "the chain ends without an audit.seal record (cut short, still being written, or the writer crashed)"}
	case l.p.reason != "close":
		s.err = &TamperError{Kind: Truncated, File: l.file, Line: l.line + 1, Seq: s.expect,
			Detail: "the last file was sealed for rotation: the chain goes on in a file that was not given"}
	default:
		s.rep.Sealed = true
	}
}

func (s *Scanner) failAt(err error) *scanLine {
	s.fail(err)
	return nil
}

func (s *Scanner) fail(err error) bool {
	if s.err == nil {
		s.err = err
	}
	s.done = true
	return false
}

// Record returns the record Next moved to.
func (s *Scanner) Record() ScannedRecord { return s.cur }

// Err returns nil when the whole chain verified and ends with its closing
// seal; otherwise what Verify would return: a *TamperError (a Truncated
// one with Tail set for a trail still open), ErrKeyRequired, or a read
// error. It is meaningful once Next returned false.
func (s *Scanner) Err() error { return s.err }

// Report describes what was checked so far, as Verify's Report does.
func (s *Scanner) Report() *Report {
	r := s.rep
	r.Files = append([]string(nil), s.rep.Files...)
	r.Warnings = append([]string(nil), s.rep.Warnings...)
	r.Gaps = append([]Gap(nil), s.rep.Gaps...)
	return &r
}

// Restarts lists the restarts accepted (ScanConfig.Restarts) so far.
func (s *Scanner) Restarts() []Restart { return append([]Restart(nil), s.restarts...) }

// Close releases the open file.
func (s *Scanner) Close() error {
	s.done = true
	return s.src.close()
}

// lineSource reads the lines of files one after the other, with one line
// of lookahead.
type lineSource struct {
	files  []scanFile
	limit  int // the longest line kept (readLine)
	fi     int
	f      *os.File
	r      *bufio.Reader
	line   int
	n      int64 // lines returned, across files
	peeked *scanLine
	err    error
}

func newLineSource(files []scanFile, limit int) *lineSource {
	return &lineSource{files: files, limit: limit, fi: -1}
}

// pos is the number of lines returned so far.
func (ls *lineSource) pos() int64 { return ls.n }

func (ls *lineSource) next() (*scanLine, error) {
	if ls.peeked != nil {
		l := ls.peeked
		ls.peeked = nil
		ls.n++
		return l, nil
	}
	l, err := ls.read()
	if l != nil {
		ls.n++
	}
	return l, err
}

func (ls *lineSource) peek() (*scanLine, error) {
	if ls.peeked == nil {
		l, err := ls.read()
		if err != nil || l == nil {
			return nil, err
		}
		ls.peeked = l
	}
	return ls.peeked, nil
}

func (ls *lineSource) read() (*scanLine, error) {
	if ls.err != nil {
		return nil, ls.err
	}
	for {
		if ls.r == nil {
			if ls.fi+1 >= len(ls.files) {
				return nil, nil
			}
			ls.fi++
			f, err := robustio.Open(ls.files[ls.fi].name)
			if err != nil {
				ls.err = err
				return nil, err
			}
			ls.f, ls.r, ls.line = f, bufio.NewReaderSize(f, 64<<10), 0
		}
		b, err := readLine(ls.r, nil, ls.limit)
		if err != nil && !errors.Is(err, io.EOF) {
			ls.err = err
			return nil, err
		}
		if len(b) == 0 {
			ls.f.Close()
			ls.f, ls.r = nil, nil
			continue
		}
		ls.line++
		l := &scanLine{file: ls.files[ls.fi].name, fi: ls.fi, line: ls.line, b: b}
		l.torn = b[len(b)-1] != '\n'
		if !l.torn {
			if _, perr := ls.r.Peek(1); perr != nil {
				l.final = true
			}
		} else {
			l.final = true
		}
		if p, perr := parseLine(bytes.TrimSuffix(b, []byte{'\n'})); perr == nil {
			l.p = p
		}
		return l, nil
	}
}

// scanRest calls fn for every line after the current one (the peeked line
// included) without moving the source, until fn returns false.
func (ls *lineSource) scanRest(fn func(*scanLine) bool) {
	if ls.peeked != nil && !fn(ls.peeked) {
		return
	}
	rest := &lineSource{files: ls.files, limit: ls.limit, fi: ls.fi, line: ls.line}
	if ls.f != nil {
		// Continue where the buffered reader stands in the current file,
		// through a separate handle, then the files after it.
		off, err := ls.f.Seek(0, io.SeekCurrent)
		if err != nil {
			return
		}
		off -= int64(ls.r.Buffered())
		f, err := robustio.Open(ls.files[ls.fi].name)
		if err != nil {
			return
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return
		}
		rest.f, rest.r = f, bufio.NewReaderSize(f, 64<<10)
	}
	defer rest.close()
	for {
		l, err := rest.next()
		if err != nil || l == nil || !fn(l) {
			return
		}
	}
}

func (ls *lineSource) close() error {
	if ls.f != nil {
		err := ls.f.Close()
		ls.f, ls.r = nil, nil
		return err
	}
	return nil
}
