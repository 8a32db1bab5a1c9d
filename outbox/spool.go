package outbox

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailwarden/internal/robustio"
)

// The spool file format. An entry <id>.msg is
//
//	MWOUTBOX1 <size, 20 digits> <sha256, 64 hex digits>\n
//	<header JSON>\n
//	<the message, byte for byte as it will be sent>
//
// where size and sha256 cover everything after the first line. The first
// line is written last (the file is written with a placeholder, then the
// line is overwritten), then the file is fsync'd, renamed from its
// temporary name and the directory fsync'd: an entry is either complete and
// verifiable or absent. <id>.state is one JSON line followed by a line with
// its hex SHA-256.
const (
	magic       = "MWOUTBOX1"
	firstLen    = len(magic) + 1 + 20 + 1 + 64 + 1
	msgExt      = ".msg"
	stateExt    = ".state"
	tmpPrefix   = ".tmp-"
	quarantine  = "quarantine"
	maxHeader   = 1 << 20 // the longest header line (the envelope as JSON)
	staleTmpAge = 10 * time.Minute
)

// header is the immutable part of an entry.
type header struct {
	ID        string    `json:"id"`
	MessageID string    `json:"message_id,omitempty"`
	From      string    `json:"from"`
	To        []string  `json:"to"`
	SMTPUTF8  bool      `json:"smtputf8,omitempty"`
	Created   time.Time `json:"created"`
}

// state is the mutable part, kept in the sidecar.
type state struct {
	Attempts  int       `json:"attempts"`
	Next      time.Time `json:"next,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	Dead      bool      `json:"dead,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Retried   time.Time `json:"retried,omitempty"`
	// Delivered: the relay accepted the message but its record could
	// not be written; only the record is retried (see Accepted).
	Delivered   bool   `json:"delivered,omitempty"`
	QueueID     string `json:"queue_id,omitempty"`
	RecordTries int    `json:"record_tries,omitempty"`
	// Removing (with Delivered): the message was sent and recorded but
	// its file could not be removed (on Windows, another process held it
	// open past the retries); only the removal is tried again.
	Removing    bool `json:"removing,omitempty"`
	RemoveTries int  `json:"remove_tries,omitempty"`

	// onDisk: read from a state file (not stored). An entry whose state
	// was not on disk when its attempt began has no state file to remove
	// once delivered; one written meanwhile by another process (a retry)
	// is an orphan that the next scan removes.
	onDisk bool
}

// loaded is a verified entry file.
type loaded struct {
	hdr      header
	hdrLine  []byte // the JSON line with its newline, hashed before the body
	bodyOff  int64
	bodySize int64
	sum      [32]byte
	fileSize int64
}

func validID(id string) bool {
	if len(id) != 24 {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// loadMsg reads and verifies an entry file end to end.
func loadMsg(path string) (*loaded, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// A buffer the size of the file, up to 64 KiB: a fresh 64 KiB per
	// entry was most of a drain's allocation for small messages.
	br := bufio.NewReaderSize(f, int(min(st.Size()+1, 64<<10)))
	first := make([]byte, firstLen)
	if _, err := io.ReadFull(br, first); err != nil {
		return nil, corrupt("short file (%d bytes)", st.Size())
	}
	size, sum, err := parseFirst(first)
	if err != nil {
		return nil, err
	}
	if st.Size() != int64(firstLen)+size {
		return nil, corrupt("file is %d bytes, its header says %d", st.Size(), int64(firstLen)+size)
	}
	// The header line may be longer than the reader's buffer (an envelope
	// with thousands of recipients); Enqueue bounds it by maxHeader.
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull || len(line) > maxHeader {
			return nil, corrupt("no header line")
		}
	}
	l := &loaded{hdrLine: line, fileSize: st.Size(), sum: sum}
	h := sha256.New()
	h.Write(l.hdrLine)
	n, err := io.Copy(h, br)
	if err != nil {
		return nil, err
	}
	if int64(len(l.hdrLine))+n != size || !bytes.Equal(h.Sum(nil), sum[:]) {
		return nil, corrupt("checksum mismatch")
	}
	if err := json.Unmarshal(l.hdrLine, &l.hdr); err != nil {
		return nil, corrupt("header: %v", err)
	}
	if len(l.hdr.To) == 0 {
		return nil, corrupt("header has no recipient")
	}
	l.bodyOff = int64(firstLen + len(l.hdrLine))
	l.bodySize = size - int64(len(l.hdrLine))
	return l, nil
}

func parseFirst(b []byte) (int64, [32]byte, error) {
	var sum [32]byte
	s := string(b)
	if !strings.HasPrefix(s, magic+" ") || s[len(s)-1] != '\n' {
		return 0, sum, corrupt("not a spool file (bad magic)")
	}
	fields := strings.Fields(s[len(magic):])
	if len(fields) != 2 {
		return 0, sum, corrupt("bad first line")
	}
	size, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || size < 0 {
		return 0, sum, corrupt("bad size")
	}
	if _, err := hex.Decode(sum[:], []byte(fields[1])); err != nil || len(fields[1]) != 64 {
		return 0, sum, corrupt("bad checksum field")
	}
	// Exactly as written, byte for byte (no other case, spacing or sign).
	if firstLine(size, sum[:]) != s {
		return 0, sum, corrupt("bad first line")
	}
	return size, sum, nil
}

func firstLine(size int64, sum []byte) string {
	return fmt.Sprintf("%s %020d %s\n", magic, size, hex.EncodeToString(sum))
}

// bodyReader streams the message and checks the entry's checksum at the
// end: a mismatch replaces io.EOF with an ErrCorrupt error, so a transport
// that aborts on a read error never sends an altered message.
type bodyReader struct {
	f      *os.File
	r      io.Reader
	h      hash.Hash
	n, max int64
	sum    [32]byte
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	b.n += int64(n)
	if err == io.EOF {
		if b.n != b.max || !bytes.Equal(b.h.Sum(nil), b.sum[:]) {
			return n, corrupt("the message changed on disk after it was queued")
		}
	}
	return n, err
}

func (b *bodyReader) Close() error { return b.f.Close() }

func openBody(path string, l *loaded) (io.Reader, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(l.hdrLine)
	return &bodyReader{f: f, r: io.NewSectionReader(f, l.bodyOff, l.bodySize+1), h: h, max: l.bodySize, sum: l.sum}, nil
}

func marshalState(s state) []byte {
	j, _ := json.Marshal(s)
	sum := sha256.Sum256(j)
	return []byte(string(j) + "\n" + hex.EncodeToString(sum[:]) + "\n")
}

func parseState(b []byte) (state, error) {
	var s state
	j, rest, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return s, corrupt("state file has no checksum line")
	}
	sum := sha256.Sum256(j)
	if string(bytes.TrimSpace(rest)) != hex.EncodeToString(sum[:]) {
		return s, corrupt("state checksum mismatch")
	}
	if err := json.Unmarshal(j, &s); err != nil {
		return s, corrupt("state: %v", err)
	}
	return s, nil
}

// writeAtomic writes a file under dir through a temporary file: write,
// fsync, rename, fsync the directory.
func writeAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = robustio.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		robustio.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// syncDir makes renames and removals in dir durable. Windows cannot fsync
// a directory (NTFS journals the rename itself).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := openRead(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// A dirSyncer groups the directory fsyncs of concurrent removals: a
// caller that has unlinked or renamed files calls sync, which returns once
// an fsync started after the call has finished. While one fsync runs, the
// callers that arrive wait together for the next one, so n removals in the
// time of one fsync cost two fsyncs, not n, and each caller still returns
// only when its own change is durable.
type dirSyncer struct {
	dir     string
	mu      sync.Mutex
	cond    *sync.Cond
	gen     uint64 // changes registered so far
	done    uint64 // the changes up to done are durable (or failed)
	running bool
	failGen uint64 // the changes up to failGen were in a failed fsync...
	failErr error  // ...and this is its error
	rounds  uint64 // fsyncs done (benchmarks report them per message)
}

func newDirSyncer(dir string) *dirSyncer {
	s := &dirSyncer{dir: dir}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// sync makes the changes the caller made in the directory before calling
// it durable. A failed fsync fails every caller it covered (and, being
// conservative, earlier callers that had not returned yet).
func (s *dirSyncer) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	my := s.gen
	for s.done < my {
		if s.running {
			s.cond.Wait()
			continue
		}
		s.running = true
		target := s.gen
		s.mu.Unlock()
		err := syncDir(s.dir)
		s.mu.Lock()
		s.running = false
		s.done = target
		s.rounds++
		if err != nil {
			s.failGen, s.failErr = target, err
		}
		s.cond.Broadcast()
	}
	if s.failGen >= my {
		return s.failErr
	}
	return nil
}

// limitWriter fails with a FullError once more than max bytes are written.
type limitWriter struct {
	w    io.Writer
	left int64
	full error
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.full != nil {
		if int64(len(p)) > l.left {
			return 0, l.full
		}
		l.left -= int64(len(p))
	}
	return l.w.Write(p)
}

// removeIfExists removes a file, ignoring its absence.
func removeIfExists(path string) error {
	err := robustio.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
