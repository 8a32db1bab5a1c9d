package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"mailwarden/internal/robustio"
)

// SyncPolicy says when the File sink forces written records to stable
// storage with fsync.
type SyncPolicy int

const (
	// SyncEvery, the zero value and default, fsyncs after every record: a
	// record Write returned nil for survives a power failure. Records an
	// Async queue hands over together (they piled up while the previous
	// ones were written) are written and fsynced together: one fsync for
	// the lot, each reported written only after it.
	SyncEvery SyncPolicy = iota
	// SyncInterval fsyncs every FileConfig.SyncInterval when something was
	// written; a crash of the machine loses at most that much.
	SyncInterval
	// SyncNone leaves flushing to the operating system. Records are still
	// written to the file (not buffered in the process) as they come, so a
	// crash of the process loses nothing; a crash of the machine may.
	SyncNone
)

func (p SyncPolicy) String() string {
	switch p {
	case SyncEvery:
		return "every"
	case SyncInterval:
		return "interval"
	case SyncNone:
		return "none"
	}
	return "SyncPolicy(?)"
}

// FileConfig configures a File sink. Only Path is required; the zero value
// of every other field is the safe default.
type FileConfig struct {
	// Path is the active file, e.g. /var/log/mailwarden/audit.log. Rotated
	// files are renamed next to it as <name>-<UTC time><ext>, e.g.
	// audit-20261122T183700.000000000Z.log.
	Path string
	// Key, when not empty, makes the chain HMAC-SHA-256 with this key;
	// otherwise the chain is plain SHA-256, which detects edits by anyone
	// who does not recompute the chain but proves nothing against someone
	// who does. Use at least 32 random bytes (LoadKey reads a key file).
	Key []byte
	// MaxSize rotates the file before a record would make it larger than
	// this many bytes; 0 means no size limit.
	MaxSize int64
	// MaxAge rotates the file when it is older than this at the time of a
	// record; 0 means no age limit.
	MaxAge time.Duration
	// MaxFiles is how many rotated files to keep; older ones are removed.
	// 0 keeps them all.
	MaxFiles int
	// Sync is the fsync policy; the zero value is SyncEvery.
	Sync SyncPolicy
	// SyncInterval is the period for SyncInterval; 0 means one second.
	SyncInterval time.Duration
	// Perm is the mode of new files; 0 means 0600.
	Perm os.FileMode
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AnchorFile, when set, is a second place where the sink keeps the
	// head of the chain (the last record's seq and hash, see Anchor): it
	// is replaced atomically (a temporary file renamed over it) once the
	// records are on disk as Sync says: after every record, or every block
	// of records written together (SyncEvery, synced too), at each
	// interval sync (SyncInterval), after every record or block without
	// fsync (SyncNone); and when a file is opened, rotated or closed. Keep it where the trail's directory is not (another disk,
	// a mount only this writer and the auditors reach). OpenFile refuses
	// to continue a trail that ends before the anchor (its newest files
	// were deleted): an *AnchorError.
	AnchorFile string
}

// A File is a Sink that appends entries as JSON lines to a file, chaining
// them with sequence numbers and hashes (see the package documentation) and
// rotating the file by size and age.
//
// Every file begins with an audit.open record whose prev is the hash of the
// last record of the previous file, so the chain runs on across rotations
// and restarts, and ends with an audit.seal record when it is rotated or
// closed. OpenFile never appends to a file an earlier process wrote: it
// rotates it away and continues the chain in a fresh file.
type File struct {
	cfg   FileConfig
	chain *chain

	mu      sync.Mutex
	f       *os.File
	size    int64
	opened  time.Time
	records int // records in the current file, open record included
	dirty   bool
	broken  error // a write failed; the next write starts a new file
	closed  bool
	buf     []byte
	res     []fileResult // writeBatch's results
	fsyncs  int          // fsyncs of records (after blocks), for tests
	blocks  int          // blocks of records written (one write each), for tests

	lock *os.File // held while open, see lockFile

	// anchor is the anchor file's content found at OpenFile, checked
	// against the chain before the first file is created, then nil.
	anchor *Anchor
	// anchored is the seq the anchor file holds now.
	anchored uint64

	stop chan struct{}
	wg   sync.WaitGroup
}

var (
	_ Syncer  = (*File)(nil)
	_ Settler = (*File)(nil)
)

// OpenFile opens the File sink described by cfg. When the active file or
// rotated files exist, the chain continues from the last complete record of
// the newest of them; an existing active file is first rotated away
// untouched. It returns an error when that last record cannot be read (the
// file is not an audit file, or was damaged): the sink refuses to start a
// chain that would not verify.
func OpenFile(cfg FileConfig) (*File, error) {
	if cfg.Path == "" {
		return nil, errors.New("audit: file: no path")
	}
	if cfg.MaxSize < 0 || cfg.MaxAge < 0 || cfg.MaxFiles < 0 || cfg.SyncInterval < 0 {
		return nil, errors.New("audit: file: negative limit")
	}
	if cfg.Sync < SyncEvery || cfg.Sync > SyncNone {
		return nil, fmt.Errorf("audit: file: unknown sync policy %d", cfg.Sync)
	}
	if cfg.Perm == 0 {
		cfg.Perm = 0o600
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = time.Second
	}
	cfg.Key = bytes.Clone(cfg.Key)
	lock, err := lockFile(cfg.Path, cfg.Perm)
	if err != nil {
		return nil, err
	}
	f := &File{cfg: cfg, chain: newChain(cfg.Key), lock: lock}
	if cfg.AnchorFile != "" {
		if err := f.readAnchor(); err != nil {
			if lock != nil {
				lock.Close()
			}
			return nil, err
		}
	}
	if err := f.open(); err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	if cfg.Sync == SyncInterval {
		f.stop = make(chan struct{})
		f.wg.Add(1)
		go f.syncLoop()
	}
	return f, nil
}

// open finds where the chain stands and creates the active file.
func (f *File) open() error {
	cfg := f.cfg

	reason := "start"
	st, err := os.Stat(cfg.Path)
	switch {
	case err == nil && st.Size() > 0:
		sealed, err := f.resume(cfg.Path)
		if err != nil {
			return err
		}
		if err := f.moveAway(); err != nil {
			return err
		}
		if !sealed {
			return f.create(ReasonCrash)
		}
		return f.create("resume")
	case err == nil:
		// An empty active file: the writer never leaves one, so it was
		// emptied. Keep it (as evidence, Verify reports it) and go on
		// from the rotated files.
		if err := f.moveAway(); err != nil {
			return err
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("audit: file: %w", err)
	}
	if rotated, err := f.rotatedFiles(); err != nil {
		return err
	} else if len(rotated) > 0 {
		// Continue from the rotated file that ends with the highest
		// sequence number (not the newest name: the clock may have gone
		// back).
		var best *parsedLine
		nonEmpty := 0
		for _, r := range rotated {
			if st, err := os.Stat(r); err == nil && st.Size() == 0 {
				continue
			}
			nonEmpty++
			line, err := lastLine(r)
			if err != nil {
				continue
			}
			if p, err := parseLine(line); err == nil && (best == nil || p.seq > best.seq) {
				best = p
			}
		}
		if best == nil && nonEmpty > 0 {
			return fmt.Errorf("audit: file: no rotated file next to %s ends with an audit record; move them away to start a new chain", cfg.Path)
		}
		if best != nil {
			f.chain.seq, f.chain.prev = best.seq, best.hash
		}
		// OpenFile and Close always leave an active file behind: its
		// absence means it was moved or deleted, and records may be gone.
		reason = ReasonActiveMissing
	}
	return f.create(reason)
}

func (f *File) now() time.Time {
	if f.cfg.Now != nil {
		return f.cfg.Now()
	}
	return time.Now()
}

// resume sets the chain state from the last complete line of path and
// reports whether that line is the seal a writer leaves on Close.
func (f *File) resume(path string) (sealed bool, err error) {
	line, err := lastLine(path)
	if err != nil {
		return false, fmt.Errorf("audit: file: reading the end of %s: %w", path, err)
	}
	p, err := parseLine(line)
	if err != nil {
		return false, fmt.Errorf("audit: file: %s does not end with an audit record; move it away to start a new chain", path)
	}
	f.chain.seq, f.chain.prev = p.seq, p.hash
	return p.msg == MsgSeal, nil
}

// openAttrs are the attributes of the audit.open record of a new file;
// after a break (ReasonCrash, ReasonRecover) they name the last intact
// record.
func (f *File) openAttrs(reason string) []slog.Attr {
	a := []slog.Attr{slog.String("alg", f.chain.alg), slog.String("file", filepath.Base(f.cfg.Path)), slog.String("reason", reason)}
	if reason == ReasonCrash || reason == ReasonRecover {
		a = append(a, slog.Uint64("last_seq", f.chain.seq), slog.String("last_hash", hex.EncodeToString(f.chain.prev[:])))
	}
	return a
}

// lastLine returns the last complete ('\n'-terminated) line of path, reading
// backwards from the end. A torn last line (a crash in mid-write) is skipped.
func lastLine(path string) ([]byte, error) {
	fh, err := robustio.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	for chunk := int64(64 << 10); ; chunk *= 4 {
		off := max(size-chunk, 0)
		buf := make([]byte, size-off)
		if _, err := fh.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if end := bytes.LastIndexByte(buf, '\n'); end >= 0 {
			start := bytes.LastIndexByte(buf[:end], '\n')
			if start >= 0 || off == 0 {
				return buf[start+1 : end], nil
			}
		}
		if off == 0 {
			return nil, errors.New("no complete line")
		}
	}
}

// rotatedFiles returns the rotated files of the sink, oldest first.
func (f *File) rotatedFiles() ([]string, error) {
	dir, base := filepath.Split(f.cfg.Path)
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext) + "-"
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: file: %w", err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(n, stem) || !strings.HasSuffix(n, ext) {
			continue
		}
		ts := strings.TrimSuffix(strings.TrimPrefix(n, stem), ext)
		if i := strings.IndexByte(ts, '-'); i >= 0 {
			ts = ts[:i] // collision suffix
		}
		if _, err := time.Parse(rotateLayout, ts); err != nil {
			continue
		}
		out = append(out, filepath.Join(dir, n))
	}
	sort.Strings(out)
	return out, nil
}

const rotateLayout = "20060102T150405.000000000Z"

// moveAway renames the active file to a rotated name.
func (f *File) moveAway() error {
	dir, base := filepath.Split(f.cfg.Path)
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	name := stem + "-" + f.now().UTC().Format(rotateLayout)
	target := filepath.Join(dir, name+ext)
	for i := 2; ; i++ {
		if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
			break
		}
		target = filepath.Join(dir, fmt.Sprintf("%s-%d%s", name, i, ext))
	}
	if err := robustio.Rename(f.cfg.Path, target); err != nil {
		return fmt.Errorf("audit: file: rotating: %w", err)
	}
	return nil
}

// create makes a new active file and writes its audit.open record.
func (f *File) create(reason string) error {
	if f.anchor != nil {
		// The first file of this writer: the chain state is known now.
		if err := f.checkAnchor(); err != nil {
			return err
		}
	}
	fh, err := os.OpenFile(f.cfg.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, f.cfg.Perm)
	if err != nil {
		return fmt.Errorf("audit: file: %w", err)
	}
	f.f, f.size, f.records, f.opened, f.broken = fh, 0, 0, f.now(), nil
	if err := f.writeOwn(MsgOpen, f.openAttrs(reason)...); err != nil {
		// Nothing of the chain is in it (at most a torn open record): take
		// it away, or the next try would find it in the way (O_EXCL) for
		// as long as the process runs, and Verify would find it empty.
		fh.Close()
		f.f = nil
		robustio.Remove(f.cfg.Path)
		return err
	}
	if f.cfg.Sync != SyncNone {
		if err := f.f.Sync(); err != nil {
			f.broken = fmt.Errorf("audit: file: %w", err)
			return f.broken
		}
		syncDir(f.cfg.Path)
	}
	return f.writeAnchor(f.cfg.Sync != SyncNone)
}

// syncDir makes a rename or create in path's directory durable. Errors are
// ignored: not every platform can fsync a directory.
func syncDir(path string) {
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
}

// writeOwn writes a record of the sink's own (audit.open, audit.seal).
func (f *File) writeOwn(msg string, attrs ...slog.Attr) error {
	var enc encoder
	t := f.now().UTC()
	b := append([]byte(`"time":`), appendString(nil, t.Format(timeFormat))...)
	b = append(b, `,"level":"INFO","msg":`...)
	b = appendString(b, msg)
	b, _ = enc.appendAttrs(b, attrs, true, false)
	return f.writeMembers(b)
}

// writeMembers appends one chained line. The caller holds mu.
func (f *File) writeMembers(members []byte) error {
	line, seq, sum := f.chain.appendLine(f.buf[:0], members)
	f.buf = line[:0]
	n, err := f.f.Write(line)
	f.size += int64(n)
	if err != nil {
		// The line may be torn. Leave it as evidence and continue the chain
		// from the last whole record in a new file on the next write.
		f.broken = fmt.Errorf("audit: file: %w", err)
		return f.broken
	}
	f.chain.commit(seq, sum)
	f.records++
	f.dirty = true
	return nil
}

// Write appends e to the chain, rotating first when the file is too big or
// too old, and fsyncs according to the policy.
func (f *File) Write(_ context.Context, e *Entry) error {
	_, _, err := f.write(e)
	return err
}

// write is Write, returning the record's seq and hash once it is in the
// file (seq 0 when it is not).
func (f *File) write(e *Entry) (uint64, [32]byte, error) {
	items := [1]asyncItem{{e: e}}
	var res [1]fileResult
	f.writeEntries(items[:], res[:])
	return res[0].seq, res[0].sum, res[0].err
}

// writeBatch writes items as consecutive records of the chain: one write
// for all their lines and, under SyncEvery, one fsync and one anchor update
// for all of them (group commit). See writeEntries.
func (f *File) writeBatch(items []asyncItem, errs []error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.res = grow(f.res, len(items))
	f.writeEntriesLocked(items, f.res)
	for i := range items {
		errs[i] = f.res[i].err
	}
	clear(f.res)
}

// local is true: an Async's Sync may write a File's batch itself.
func (f *File) local() bool { return true }

// inline is true unless every record is fsynced: an Async's Write may then
// write an entry itself when its queue is idle.
func (f *File) inline() bool { return f.cfg.Sync != SyncEvery }

// grow returns s resized to n elements, reusing its array when it can.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// fileResult is what writeEntries did with one entry: its seq and hash
// (seq 0 when its line is not in the file) and its error.
type fileResult struct {
	seq uint64
	sum [32]byte
	err error
	end int // offset of the end of its line in the block being written
}

// writeEntries appends the entries of items to the chain in order and sets
// res[i] to the outcome of items[i].
//
// The lines go to the file as blocks, one write each: a block ends where
// the next record would need a rotation (the file is rotated between two
// blocks, never in the middle of one). A block's records are reported
// written only once the whole block is written and, under SyncEvery,
// fsynced, and the anchor updated once per block. A failing write fails
// every entry not yet reported, the block's and the later ones; the lines
// of the block that are whole in the file stay in the chain (the next
// write continues after them in a new file, as after any failed write).
func (f *File) writeEntries(items []asyncItem, res []fileResult) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeEntriesLocked(items, res)
}

func (f *File) writeEntriesLocked(items []asyncItem, res []fileResult) {
	fail := func(from int, err error) {
		for i := from; i < len(items); i++ {
			res[i] = fileResult{err: err}
		}
	}
	if f.closed {
		fail(0, ErrClosed)
		return
	}
	for i := 0; i < len(items); {
		if f.broken != nil || f.f == nil {
			if err := f.restart(); err != nil {
				fail(i, err)
				return
			}
		} else if f.needRotate(len(items[i].e.members), 0) {
			if err := f.rotate(); err != nil {
				fail(i, err)
				return
			}
		}
		n, err := f.writeBlock(items[i:], res[i:])
		if err != nil {
			fail(i+n, err)
			return
		}
		i += n
	}
}

// writeBlock writes as many of items as fit before a rotation (at least
// one) with one write, then fsyncs and anchors them as the policy says. It
// returns how many it wrote, each with its result in res; an error is
// also every later entry's.
func (f *File) writeBlock(items []asyncItem, res []fileResult) (int, error) {
	start, startSum := f.chain.seq, f.chain.prev
	buf := f.buf[:0]
	n := 0
	for _, it := range items {
		if n > 0 && f.needRotate(len(buf)+len(it.e.members), n) {
			break
		}
		var seq uint64
		var sum [32]byte
		buf, seq, sum = f.chain.appendLine(buf, it.e.members)
		// Advanced now for the next line of the block; set back below if
		// the line does not reach the file.
		f.chain.commit(seq, sum)
		res[n] = fileResult{seq: seq, sum: sum, end: len(buf)}
		n++
	}
	f.buf = buf[:0]
	f.blocks++
	w, err := f.f.Write(buf)
	f.size += int64(w)
	if err != nil {
		// The last line in the file may be torn. Leave it as evidence; the
		// chain goes on from the last whole line, in a new file on the
		// next write.
		whole := 0
		for whole < n && res[whole].end <= w {
			whole++
		}
		if whole > 0 {
			f.chain.commit(res[whole-1].seq, res[whole-1].sum)
		} else {
			f.chain.commit(start, startSum)
		}
		f.records += whole
		f.dirty = f.dirty || whole > 0
		f.broken = fmt.Errorf("audit: file: %w", err)
		for k := range n {
			res[k] = fileResult{err: f.broken}
		}
		return n, f.broken
	}
	f.records += n
	f.dirty = true
	var aerr error
	switch f.cfg.Sync {
	case SyncEvery:
		f.fsyncs++
		if err := f.f.Sync(); err != nil {
			f.broken = fmt.Errorf("audit: file: %w", err)
			for k := range n {
				res[k] = fileResult{err: f.broken}
			}
			return n, f.broken
		}
		f.dirty = false
		aerr = f.writeAnchor(true)
	case SyncNone:
		aerr = f.writeAnchor(false)
	}
	if aerr != nil {
		// The records are in the file (and in the chain); only the anchor
		// is behind.
		for k := range n {
			res[k].err = aerr
		}
	}
	return n, nil
}

// readAnchor reads the anchor file, if there is one, for checkAnchor.
func (f *File) readAnchor() error {
	a, err := ReadAnchor(f.cfg.AnchorFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new anchor: nothing to compare with
	}
	if err != nil {
		return fmt.Errorf("%w; refusing to start the trail of %s (move the anchor file away only to start over knowingly)", err, f.cfg.Path)
	}
	a.Source = f.cfg.AnchorFile
	f.anchor = &a
	return nil
}

// checkAnchor compares the anchor found at OpenFile with where the chain
// stands: a trail that ends before its anchor, or has another hash at the
// anchor's seq, lost its newest records.
func (f *File) checkAnchor() error {
	a := *f.anchor
	f.anchor = nil
	switch {
	case a.Seq > f.chain.seq:
		return &AnchorError{Kind: AnchorAhead, Anchor: a, LastSeq: f.chain.seq, LastHash: hex.EncodeToString(f.chain.prev[:]), Path: f.cfg.Path}
	case a.Seq == f.chain.seq && a.Hash != f.chain.prev:
		return &AnchorError{Kind: AnchorMismatch, Anchor: a, LastSeq: f.chain.seq, LastHash: hex.EncodeToString(f.chain.prev[:]), Found: hex.EncodeToString(f.chain.prev[:]), Path: f.cfg.Path}
	}
	// An anchor behind the chain is normal (a crash between a record and
	// the anchor's update, an interval not yet synced); the records
	// between are checked by "audit verify".
	return nil
}

// writeAnchor records the chain's head in the anchor file. The caller
// holds mu (or is OpenFile) and has made the records durable as the
// policy says.
func (f *File) writeAnchor(durable bool) error {
	if f.cfg.AnchorFile == "" || f.chain.seq == f.anchored {
		return nil
	}
	if err := writeAnchor(f.cfg.AnchorFile, f.cfg.Perm, f.chain.seq, f.chain.prev, f.chain.alg, filepath.Base(f.cfg.Path), f.now(), durable); err != nil {
		return err
	}
	f.anchored = f.chain.seq
	return nil
}

// needRotate reports whether the file must be rotated before n more bytes
// are written to it, of which the lines of buffered records are not in
// the file yet.
func (f *File) needRotate(n, buffered int) bool {
	if f.records+buffered <= 1 {
		return false // never leave a file with just its open record
	}
	if f.cfg.MaxSize > 0 && f.size+int64(n)+200 > f.cfg.MaxSize {
		return true
	}
	return f.cfg.MaxAge > 0 && f.now().Sub(f.opened) >= f.cfg.MaxAge
}

// rotate seals the active file, renames it, prunes old files and starts a
// new one. The caller holds mu.
func (f *File) rotate() error {
	if err := f.seal("rotate"); err != nil {
		return err
	}
	if err := f.moveAway(); err != nil {
		return err
	}
	if err := f.prune(); err != nil {
		return err
	}
	return f.create("rotate")
}

// restart starts a new file after a failed write, leaving the damaged one
// in place under a rotated name.
func (f *File) restart() error {
	if f.f != nil {
		f.f.Close()
		f.f = nil
		if err := f.moveAway(); err != nil {
			return err
		}
	} else if st, err := os.Stat(f.cfg.Path); err == nil {
		// A file an earlier failed create could not remove.
		if st.Size() == 0 {
			robustio.Remove(f.cfg.Path)
		} else if err := f.moveAway(); err != nil {
			return err
		}
	}
	if err := f.create(ReasonRecover); err != nil {
		return err
	}
	return f.prune()
}

func (f *File) seal(reason string) error {
	err := f.writeOwn(MsgSeal, slog.String("reason", reason), slog.Int("records", f.records+1))
	if err == nil && f.cfg.Sync != SyncNone {
		err = f.f.Sync()
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	f.f = nil
	if err != nil {
		return fmt.Errorf("audit: file: sealing: %w", err)
	}
	return f.writeAnchor(f.cfg.Sync != SyncNone)
}

func (f *File) prune() error {
	if f.cfg.MaxFiles <= 0 {
		return nil
	}
	files, err := f.rotatedFiles()
	if err != nil {
		return err
	}
	for len(files) > f.cfg.MaxFiles {
		if err := robustio.Remove(files[0]); err != nil {
			return fmt.Errorf("audit: file: retention: %w", err)
		}
		files = files[1:]
	}
	return nil
}

// Sync forces what was written to stable storage, whatever the policy.
func (f *File) Sync(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.broken != nil {
		return f.broken
	}
	if f.f == nil || !f.dirty {
		return nil
	}
	if err := f.f.Sync(); err != nil {
		return fmt.Errorf("audit: file: %w", err)
	}
	f.dirty = false
	return f.writeAnchor(true)
}

// Settle is Sync under SyncEvery; under SyncInterval and SyncNone, whose
// records are written to the operating system as they come, it only
// reports a broken file and leaves the fsync to the policy.
func (f *File) Settle(ctx context.Context) error {
	if f.cfg.Sync == SyncEvery {
		return f.Sync(ctx)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.broken
}

func (f *File) syncLoop() {
	defer f.wg.Done()
	t := time.NewTicker(f.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
			f.Sync(context.Background())
		}
	}
}

// Close writes the audit.seal record, syncs and closes the file. Later
// writes return ErrClosed.
func (f *File) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	var err error
	if f.f != nil {
		if f.broken != nil {
			f.f.Close()
			f.f = nil
			err = f.broken
		} else {
			err = f.seal("close")
		}
	}
	f.mu.Unlock()
	if f.stop != nil {
		close(f.stop)
		f.wg.Wait()
	}
	if f.lock != nil {
		f.lock.Close() // releases the lock
	}
	return err
}

// State returns the sequence number and hash of the last record written: the
// anchor an operator can store elsewhere (see Report.LastHash).
func (f *File) State() (seq uint64, hash [32]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.chain.seq, f.chain.prev
}
