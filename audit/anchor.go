package audit

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailwarden/internal/robustio"
)

// An Anchor is the head of a trail, (Seq, Hash), kept in a second place:
// the anchor file the File sink keeps up to date (FileConfig.AnchorFile),
// the chain_seq and chain_hash members of the records sent to syslog, or a
// pair an operator copied down. Verify alone cannot tell a trail whose
// newest files were deleted from a complete one (every writer leaves a
// sealed end); VerifyAnchor can, as long as the anchor was not rewritten
// too.
type Anchor struct {
	Seq  uint64
	Hash [32]byte
	// Source says where the anchor was read from (a file name, "argument").
	Source string
}

func (a Anchor) String() string {
	return strconv.FormatUint(a.Seq, 10) + ":" + hex.EncodeToString(a.Hash[:])
}

// anchorMagic names the anchor file format.
const anchorMagic = "mailwarden-audit-anchor"

// anchorJSON is the content of an anchor file: one JSON line.
type anchorJSON struct {
	Anchor string `json:"anchor"`
	Seq    uint64 `json:"seq"`
	Hash   string `json:"hash"`
	Alg    string `json:"alg,omitempty"`
	File   string `json:"file,omitempty"`
	Time   string `json:"time,omitempty"`
}

// ErrNoAnchor is returned (wrapped) by ReadAnchor for a file that holds no
// anchor: neither an anchor file nor a log with chain_seq and chain_hash.
var ErrNoAnchor = errors.New("audit: anchor: no anchor found")

// literalAnchor is SEQ:HASH.
var literalAnchor = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([1-9][0-9]{0,19}):([0-9a-f]{64})$`) })

// chainMembers finds the chain members of a syslog record in a collector's
// log line (the JSON may be escaped once by the collector's template).
var chainMembers = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\\?"chain_seq\\?":([1-9][0-9]{0,19}),\\?"chain_hash\\?":\\?"([0-9a-f]{64})\\?"`)
})

// ParseAnchor reads an anchor given as SEQ:HASH (the hash in lower-case
// hex), as "smtpcheck audit verify" prints it.
func ParseAnchor(s string) (Anchor, error) {
	m := literalAnchor().FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Anchor{}, fmt.Errorf("%w: %q is not SEQ:HASH (a sequence number, a colon and 64 lower-case hex digits)", ErrNoAnchor, shorten(s))
	}
	return anchorFrom(m[1], m[2], "argument")
}

func anchorFrom(seq, h, source string) (Anchor, error) {
	a := Anchor{Source: source}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil || n == 0 {
		return a, fmt.Errorf("%w: bad sequence number %q in %s", ErrNoAnchor, shorten(seq), source)
	}
	a.Seq = n
	if !decodeHex(a.Hash[:], []byte(h)) {
		return a, fmt.Errorf("%w: bad hash in %s", ErrNoAnchor, source)
	}
	return a, nil
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// ReadAnchor reads the anchor in path: an anchor file written by the File
// sink (FileConfig.AnchorFile), or a collector's log holding the syslog
// records of a trail, whose last anchor is the highest chain_seq found (with
// its chain_hash). A log that mixes several trails gives the head of the
// one with the highest number; keep one trail per log file.
func ReadAnchor(path string) (Anchor, error) {
	fh, err := robustio.Open(path)
	if err != nil {
		return Anchor{}, fmt.Errorf("audit: anchor: %w", err)
	}
	defer fh.Close()
	br := bufio.NewReaderSize(fh, 64<<10)
	var best Anchor
	found := false
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: look at its start only
			// (copied: the next read reuses the buffer).
			line = bytes.Clone(line)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
		}
		if len(line) > 0 {
			if a, ok, perr := anchorInLine(line, path); perr != nil {
				return Anchor{}, fmt.Errorf("%w (line %d)", perr, lineNo)
			} else if ok && (!found || a.Seq > best.Seq) {
				best, found = a, true
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return Anchor{}, fmt.Errorf("audit: anchor: %w", err)
			}
			break
		}
	}
	if !found {
		return Anchor{}, fmt.Errorf("%w in %s", ErrNoAnchor, path)
	}
	return best, nil
}

// anchorInLine finds an anchor in one line of an anchor file or a log.
func anchorInLine(line []byte, source string) (Anchor, bool, error) {
	t := bytes.TrimSpace(line)
	if bytes.HasPrefix(t, []byte(`{"anchor":`)) {
		var j anchorJSON
		if err := json.Unmarshal(t, &j); err != nil || j.Anchor != anchorMagic {
			return Anchor{}, false, fmt.Errorf("%w: %s is not a valid anchor file", ErrNoAnchor, source)
		}
		a, err := anchorFrom(strconv.FormatUint(j.Seq, 10), j.Hash, source)
		return a, err == nil, err
	}
	if m := literalAnchor().FindSubmatch(t); m != nil {
		a, err := anchorFrom(string(m[1]), string(m[2]), source)
		return a, err == nil, err
	}
	ms := chainMembers().FindAllSubmatch(line, -1)
	if len(ms) == 0 {
		return Anchor{}, false, nil
	}
	m := ms[len(ms)-1]
	a, err := anchorFrom(string(m[1]), string(m[2]), source)
	return a, err == nil, nil
}

// writeAnchor replaces the anchor file at path atomically: the new content
// goes to a temporary file next to it, which is synced (when durable) and
// renamed over the old one, and the directory is synced.
func writeAnchor(path string, perm os.FileMode, seq uint64, h [32]byte, alg, file string, now time.Time, durable bool) error {
	b, _ := json.Marshal(anchorJSON{Anchor: anchorMagic, Seq: seq, Hash: hex.EncodeToString(h[:]), Alg: alg, File: file, Time: now.UTC().Format(timeFormat)})
	b = append(b, '\n')
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	fh, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("audit: anchor: %w", err)
	}
	_, err = fh.Write(b)
	if err == nil && durable {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = robustio.Rename(tmp, path)
	}
	if err != nil {
		robustio.Remove(tmp)
		return fmt.Errorf("audit: anchor: %w", err)
	}
	if durable {
		syncDir(path)
	}
	return nil
}

// AnchorKind says how a trail disagrees with its anchor.
type AnchorKind int

const (
	// AnchorAhead: the trail ends before the anchor's record: records at
	// the end (newest files, or the end of one) were removed, or the
	// anchor belongs to another trail.
	AnchorAhead AnchorKind = iota + 1
	// AnchorMismatch: the trail has a record with the anchor's sequence
	// number but a different hash: that part of the trail was replaced
	// (or the anchor belongs to another trail).
	AnchorMismatch
	// AnchorUnchecked: the anchor's record is older than the first record
	// among the files (retention removed it), so the anchor proves
	// nothing about them.
	AnchorUnchecked
)

func (k AnchorKind) String() string {
	switch k {
	case AnchorAhead:
		return "ahead"
	case AnchorMismatch:
		return "mismatch"
	case AnchorUnchecked:
		return "unchecked"
	}
	return fmt.Sprintf("AnchorKind(%d)", int(k))
}

// An AnchorError is a trail that does not reach, or does not match, its
// anchor. VerifyAnchor returns it, and OpenFile refuses to continue a trail
// its anchor file is ahead of.
type AnchorError struct {
	Kind   AnchorKind
	Anchor Anchor
	// LastSeq and LastHash are where the trail ends (FirstSeq where it
	// starts, for AnchorUnchecked); Found is the hash of the trail's record
	// at the anchor's sequence number (AnchorMismatch).
	FirstSeq, LastSeq uint64
	LastHash          string
	Found             string
	// Path is the active file of the writer that refused to start (OpenFile
	// only).
	Path string
}

func (e *AnchorError) Error() string {
	src := e.Anchor.Source
	if src == "" {
		src = "the anchor"
	}
	switch e.Kind {
	case AnchorAhead:
		if e.Path != "" {
			return fmt.Sprintf("audit: anchor %s is at record %d but the trail of %s ends at record %d: records after %d were removed (or the anchor belongs to another trail); refusing to continue the trail (run \"smtpcheck audit verify --anchor\"; move the anchor file away only to start over knowingly)",
				src, e.Anchor.Seq, e.Path, e.LastSeq, e.LastSeq)
		}
		return fmt.Sprintf("audit: the trail ends at record %d, before its anchor (record %d, from %s): records %d to %d (at least) were removed, or the anchor belongs to another trail",
			e.LastSeq, e.Anchor.Seq, src, e.LastSeq+1, e.Anchor.Seq)
	case AnchorMismatch:
		where := "the trail's"
		if e.Path != "" {
			where = "the trail of " + e.Path + ": its"
		}
		return fmt.Sprintf("audit: anchor %s does not match %s record %d (hash %s, the anchor says %s): the trail was replaced from there on, or the anchor belongs to another trail",
			src, where, e.Anchor.Seq, short(e.Found), short(hex.EncodeToString(e.Anchor.Hash[:])))
	case AnchorUnchecked:
		return fmt.Sprintf("audit: anchor %s names record %d, older than the first record among the files (%d): it cannot be checked (use a newer anchor)",
			src, e.Anchor.Seq, e.FirstSeq)
	}
	return "audit: anchor: " + e.Kind.String()
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "..."
	}
	return h
}

// VerifyAnchor is Verify, plus a check that the trail reaches the anchor
// and has the anchor's hash at its sequence number. A chain fault comes
// first: it returns Verify's *TamperError unless the only fault is a
// missing final seal (TamperError.Tail), in which case an *AnchorError
// takes its place; nil means the chain verified (or is only open, then
// the Tail error is returned) and matches the anchor.
//
// What it proves: no record up to the anchor was removed from the end or
// replaced since the anchor was taken. It proves nothing about records
// written after the anchor, nor against someone who rewrote both the trail
// and the anchor (keep the anchor where the trail's writer cannot write
// over it: another host, a collector, a ticket).
func VerifyAnchor(key []byte, a Anchor, files ...string) (*Report, error) {
	return VerifyAnchorProgress(key, a, nil, files...)
}

// VerifyAnchorProgress is VerifyAnchor that calls progress with each record
// once it verified, as VerifyProgress does. A nil progress makes it
// VerifyAnchor.
func VerifyAnchorProgress(key []byte, a Anchor, progress func(ScannedRecord), files ...string) (*Report, error) {
	if len(files) == 0 {
		return nil, errors.New("audit: verify: no files")
	}
	if a.Seq == 0 {
		return nil, fmt.Errorf("%w: sequence number 0", ErrNoAnchor)
	}
	s, err := newScanner(ScanConfig{Key: key}, "verify", 0, files)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var at *[32]byte
	for s.Next() {
		if s.cur.Seq == a.Seq {
			h := s.prev
			at = &h
		}
		if progress != nil {
			progress(s.Record())
		}
	}
	rep := s.Report()
	err = s.Err()
	var te *TamperError
	if err != nil && !(errors.As(err, &te) && te.Tail) {
		if te == nil && !errors.Is(err, ErrKeyRequired) {
			return nil, err
		}
		return rep, err
	}
	switch {
	case at != nil && *at != a.Hash:
		return rep, &AnchorError{Kind: AnchorMismatch, Anchor: a, FirstSeq: rep.FirstSeq, LastSeq: rep.LastSeq, LastHash: rep.LastHash, Found: hex.EncodeToString(at[:])}
	case at != nil:
		return rep, err
	case rep.Records == 0 || rep.LastSeq < a.Seq:
		return rep, &AnchorError{Kind: AnchorAhead, Anchor: a, FirstSeq: rep.FirstSeq, LastSeq: rep.LastSeq, LastHash: rep.LastHash}
	default:
		return rep, &AnchorError{Kind: AnchorUnchecked, Anchor: a, FirstSeq: rep.FirstSeq, LastSeq: rep.LastSeq, LastHash: rep.LastHash}
	}
}
