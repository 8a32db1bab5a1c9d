package report

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"mailwarden/audit"
)

// An Anchor is a record's sequence number and hash stored apart from the
// trail (audit verify's "last hash", File.State): the report checks that
// the trail still holds that record, unchanged.
type Anchor struct {
	Seq  uint64
	Hash string // lower-case hex
}

// Status is the one-word result of the verification.
type Status string

const (
	// StatusIntact: every record verified and the trail ends with the
	// seal written on close.
	StatusIntact Status = "intact"
	// StatusOpen: every record verified but the trail has no closing seal
	// (still being written, or its writer stopped for good): only an
	// anchor tells whether records were cut off the end.
	StatusOpen Status = "open"
	// StatusTampered: a record was edited, removed, inserted, reordered or
	// spliced, or the trail was cut short; Verdict.Fault names the first.
	StatusTampered Status = "tampered"
	// StatusUnverified: the chain could not be checked (no key for a keyed
	// trail, an unreadable file).
	StatusUnverified Status = "unverified"
)

// A Verdict is what the check of the hash chain found, in the terms a
// reviewer reads first.
type Verdict struct {
	Status Status `json:"status"`
	// Summary says the same in one sentence.
	Summary string `json:"summary"`
	// Fault is the first bad record (StatusTampered), as audit.Verify
	// reports it.
	Fault *Fault `json:"fault,omitempty"`
	// Problem is why the chain could not be checked (StatusUnverified).
	Problem string `json:"problem,omitempty"`

	Files    []string `json:"files"`
	Records  int      `json:"records"`
	FirstSeq uint64   `json:"first_seq"`
	LastSeq  uint64   `json:"last_seq"`
	// FirstHash and LastHash are the hashes of the first and last records
	// verified, for the file record.
	FirstHash string    `json:"first_hash"`
	LastHash  string    `json:"last_hash"`
	FirstTime time.Time `json:"first_time"`
	LastTime  time.Time `json:"last_time"`
	// Alg is the chain's algorithm: hmac-sha256 (keyed) or sha256.
	Alg string `json:"alg"`
	// KeyID identifies the HMAC key used, without revealing it: the first
	// 16 hex digits of SHA-256 over the key. Empty without a key.
	KeyID string `json:"key_id,omitempty"`
	// Sealed: the trail ends with the seal written on close.
	Sealed bool `json:"sealed"`
	// FromStart: the chain starts at its first record (seq 1); false when
	// retention removed older files.
	FromStart bool `json:"from_start"`

	// AnchorChecked is set when an anchor was given; AnchorOK when the
	// trail holds the anchored record unchanged; AnchorDetail says what
	// was found.
	AnchorChecked bool   `json:"anchor_checked"`
	AnchorOK      bool   `json:"anchor_ok"`
	AnchorDetail  string `json:"anchor_detail,omitempty"`

	// Crashes are the places a writer stopped without sealing its file and
	// a later one resumed the chain (nothing is missing there, the link
	// proves it).
	Crashes []Crash `json:"crashes"`
	// Events are the trail's own records other than open and seal (gap
	// and crash records, a writer recovering from a failed write, an
	// active file found missing), with their seq numbers.
	Events []TrailEvent `json:"events"`
	// Warnings are audit.Verify's warnings.
	Warnings []string `json:"warnings"`
}

// A Fault is the first bad record of a tampered trail.
type Fault struct {
	Kind   string `json:"kind"`
	Seq    uint64 `json:"seq"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Detail string `json:"detail"`
}

// A Crash is a writer that stopped without sealing its file (audit.Restart).
type Crash struct {
	// Seq is the last record before the stop; the chain resumes at Seq+1.
	Seq    uint64 `json:"seq"`
	File   string `json:"file"`
	Torn   bool   `json:"torn"`
	Reason string `json:"reason"`
}

// A TrailEvent is one of the trail's own records (msg "audit.*") other than
// an ordinary open or seal.
type TrailEvent struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Msg    string    `json:"msg"`
	Detail string    `json:"detail"`
}

// keyID is the public identifier of an HMAC key.
func keyID(key []byte) string {
	if len(key) == 0 {
		return ""
	}
	s := sha256.Sum256(key)
	return hex.EncodeToString(s[:8])
}

// finishVerdict fills the verdict from the scanner's end state.
func (v *Verdict) finish(rep *audit.Report, err error, restarts []audit.Restart, anchor *Anchor) {
	v.Files, v.Records, v.FirstSeq, v.LastSeq = rep.Files, rep.Records, rep.FirstSeq, rep.LastSeq
	v.LastHash, v.Alg, v.Sealed, v.FromStart = rep.LastHash, rep.Alg, rep.Sealed, rep.Anchored
	v.Warnings = append(v.Warnings, rep.Warnings...)
	for _, r := range restarts {
		v.Crashes = append(v.Crashes, Crash{Seq: r.Seq, File: r.File, Torn: r.Torn, Reason: r.Reason})
	}
	var te *audit.TamperError
	switch {
	case err == nil:
		v.Status = StatusIntact
	case errors.As(err, &te) && te.Tail:
		v.Status = StatusOpen
	case te != nil:
		v.Status = StatusTampered
		v.Fault = &Fault{Kind: te.Kind.String(), Seq: te.Seq, File: te.File, Line: te.Line, Detail: te.Detail}
	case errors.Is(err, audit.ErrKeyRequired):
		v.Status, v.Problem = StatusUnverified, "the trail is keyed (HMAC-SHA-256) and no key was given"
	default:
		v.Status, v.Problem = StatusUnverified, err.Error()
	}
	if anchor != nil {
		v.AnchorChecked = true
		switch {
		case v.AnchorOK:
		case v.AnchorDetail != "":
		case v.Status == StatusTampered && v.Fault.Seq <= anchor.Seq:
			v.AnchorDetail = fmt.Sprintf("the chain breaks at record %d, before the anchored record %d", v.Fault.Seq, anchor.Seq)
		case rep.LastSeq < anchor.Seq:
			v.AnchorDetail = fmt.Sprintf("the trail ends at record %d but the anchor names record %d: records were cut off the end", rep.LastSeq, anchor.Seq)
		default:
			v.AnchorDetail = fmt.Sprintf("record %d is not among the verified records", anchor.Seq)
		}
		if !v.AnchorOK && v.Status != StatusUnverified {
			v.Status = StatusTampered
			if v.Fault == nil {
				v.Fault = &Fault{Kind: "anchor", Seq: anchor.Seq, Detail: v.AnchorDetail}
			}
		}
	}
	v.Summary = v.sentence()
}

// checkAnchor compares the anchor with a verified record.
func (v *Verdict) checkAnchor(a *Anchor, seq uint64, hash string) {
	if a == nil || seq != a.Seq {
		return
	}
	if strings.EqualFold(hash, a.Hash) {
		v.AnchorOK = true
		v.AnchorDetail = fmt.Sprintf("record %d has the anchored hash", seq)
		return
	}
	v.AnchorDetail = fmt.Sprintf("record %d has hash %s, not the anchored %s: the chain was rewritten from there on", seq, hash, a.Hash)
}

func (v *Verdict) sentence() string {
	var b strings.Builder
	switch v.Status {
	case StatusIntact:
		fmt.Fprintf(&b, "Intact: all %d records verified (seq %d to %d) and the trail is sealed.", v.Records, v.FirstSeq, v.LastSeq)
	case StatusOpen:
		fmt.Fprintf(&b, "Intact but open: all %d records verified (seq %d to %d); the trail has no closing seal (still being written, or its writer stopped), so only an anchor can show that nothing was cut off the end.", v.Records, v.FirstSeq, v.LastSeq)
	case StatusTampered:
		if v.Fault.Kind == "anchor" {
			fmt.Fprintf(&b, "TAMPERED: %s.", v.AnchorDetail)
		} else {
			fmt.Fprintf(&b, "TAMPERED: record %d (%s line %d) %s: %s.", v.Fault.Seq, v.Fault.File, v.Fault.Line, v.Fault.Kind, v.Fault.Detail)
		}
		if v.Records > 0 {
			fmt.Fprintf(&b, " The %d records before it verified (seq %d to %d); nothing after it is trustworthy.", v.Records, v.FirstSeq, v.LastSeq)
		}
	case StatusUnverified:
		fmt.Fprintf(&b, "NOT VERIFIED: %s.", v.Problem)
	}
	return b.String()
}
