package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"strconv"
)

// Algorithm names written in the "alg" field of an audit.open record.
const (
	AlgHMACSHA256 = "hmac-sha256"
	AlgSHA256     = "sha256"
)

// Messages of the records the File sink writes itself.
const (
	MsgOpen = "audit.open" // first record of every file
	MsgSeal = "audit.seal" // last record of a file closed or rotated cleanly
)

// ReasonActiveMissing is the reason of an audit.open record written when
// OpenFile found rotated files but no active file: the active file was
// moved or deleted, so records after the last rotated one may be lost.
// Verify lists such records in Report.Warnings.
const ReasonActiveMissing = "active-missing"

// Reasons of an audit.open record written after a break in the chain: the
// file before it ends without its seal (and perhaps with a torn line).
// Such a record names the last intact record it found (last_seq,
// last_hash); Verify reports the break in Report.Gaps, as a fact, when the
// file before ends with exactly that record, and goes on checking.
const (
	// ReasonCrash: OpenFile found the active file without its seal: the
	// writer before was killed or the machine stopped.
	ReasonCrash = "crash"
	// ReasonRecover: a write failed (a full disk, a vanished file) and
	// the writer went on in a new file.
	ReasonRecover = "recover"
)

// chain is the running state of a hash chain: the last sequence number and
// the hash of the last record.
type chain struct {
	mac  hash.Hash
	alg  string
	seq  uint64
	prev [32]byte
	out  []byte // sum's buffer
}

func newChain(key []byte) *chain {
	if len(key) > 0 {
		return &chain{mac: hmac.New(sha256.New, key), alg: AlgHMACSHA256}
	}
	return &chain{mac: sha256.New(), alg: AlgSHA256}
}

// sum returns the hash of the signed bytes b.
func (c *chain) sum(b []byte) (s [32]byte) {
	c.mac.Reset()
	c.mac.Write(b)
	c.out = c.mac.Sum(c.out[:0])
	copy(s[:], c.out)
	return s
}

// appendLine appends the record with the given members as the chain's next
// line (with its newline) and returns the line's seq and hash without
// advancing the chain; commit does that once the line is written.
//
// The line is {"seq":N,"prev":"<hex>",<members>,"hash":"<hex>"}. The hash
// covers the line up to the hash member, closed with '}': exactly
// {"seq":N,"prev":"<hex>",<members>}.
func (c *chain) appendLine(dst, members []byte) ([]byte, uint64, [32]byte) {
	seq := c.seq + 1
	start := len(dst)
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"prev":"`...)
	dst = hex.AppendEncode(dst, c.prev[:])
	dst = append(dst, `",`...)
	dst = append(dst, members...)
	dst = append(dst, '}')
	sum := c.sum(dst[start:])
	dst = dst[:len(dst)-1]
	dst = append(dst, `,"hash":"`...)
	dst = hex.AppendEncode(dst, sum[:])
	dst = append(dst, "\"}\n"...)
	return dst, seq, sum
}

func (c *chain) commit(seq uint64, sum [32]byte) {
	c.seq = seq
	c.prev = sum
}

// parsedLine is one line of an audit file taken apart.
type parsedLine struct {
	seq    uint64
	prev   [32]byte
	hash   [32]byte
	signed []byte // the bytes the hash covers
	msg    string
	alg    string
	reason string
	// lastSeq and lastHash are an open record's account of a break
	// (ReasonCrash, ReasonRecover); lastSeq is 0 otherwise.
	lastSeq  uint64
	lastHash string
}

var errMalformed = errors.New("not an audit record")

// parseLine takes apart a line (without its newline). It checks the fixed
// framing byte for byte, so a record that parses is exactly one the File
// sink could have written.
func parseLine(line []byte) (*parsedLine, error) {
	const (
		pSeq  = `{"seq":`
		pPrev = `,"prev":"`
		sHash = `,"hash":"`
	)
	p := &parsedLine{}
	rest, ok := bytes.CutPrefix(line, []byte(pSeq))
	if !ok {
		return nil, errMalformed
	}
	i := 0
	for i < len(rest) && '0' <= rest[i] && rest[i] <= '9' {
		i++
	}
	if i == 0 || i > 20 || (rest[0] == '0') {
		return nil, errMalformed
	}
	seq, err := strconv.ParseUint(string(rest[:i]), 10, 64)
	if err != nil {
		return nil, errMalformed
	}
	p.seq = seq
	rest, ok = bytes.CutPrefix(rest[i:], []byte(pPrev))
	if !ok || len(rest) < 66 || rest[64] != '"' || rest[65] != ',' {
		return nil, errMalformed
	}
	if !decodeHex(p.prev[:], rest[:64]) {
		return nil, errMalformed
	}
	// Suffix: ,"hash":"<64 hex>"}
	n := len(line)
	if n < len(pSeq)+len(sHash)+64+2 || line[n-1] != '}' || line[n-2] != '"' {
		return nil, errMalformed
	}
	h := line[n-2-64 : n-2]
	if !bytes.Equal(line[n-2-64-len(sHash):n-2-64], []byte(sHash)) || !decodeHex(p.hash[:], h) {
		return nil, errMalformed
	}
	body := n - 2 - 64 - len(sHash)
	p.signed = make([]byte, 0, body+1)
	p.signed = append(p.signed, line[:body]...)
	p.signed = append(p.signed, '}')
	var f struct {
		Msg      string `json:"msg"`
		Alg      string `json:"alg"`
		Reason   string `json:"reason"`
		LastSeq  uint64 `json:"last_seq"`
		LastHash string `json:"last_hash"`
	}
	if err := json.Unmarshal(line, &f); err != nil {
		return nil, errMalformed
	}
	p.msg, p.alg, p.reason = f.Msg, f.Alg, f.Reason
	if p.msg == MsgOpen {
		p.lastSeq, p.lastHash = f.LastSeq, f.LastHash
	}
	return p, nil
}

// decodeHex decodes exactly len(dst)*2 lower-case hex digits.
func decodeHex(dst, src []byte) bool {
	if len(src) != 2*len(dst) {
		return false
	}
	for _, c := range src {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	_, err := hex.Decode(dst, src)
	return err == nil
}
