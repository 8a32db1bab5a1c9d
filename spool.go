package mailwarden

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"mailwarden/internal/msgenv"
	"mailwarden/internal/robustio"
)

// A spooled message is the bytes Send sends, kept so that a retry or a
// failover sends them again unchanged: in memory up to the Sender's
// spoolMem, else in a temporary file.
type spooled struct {
	buf  *bytes.Buffer // the message, when in memory; from spoolBufs
	file string        // the temporary file, when not
	size int64
	max  int64 // the Sender's spoolMem
	// readers counts the readers open returned and not closed yet: the
	// buffer goes back to the pool only when no reader can read it.
	readers atomic.Int64
	// w writes the spool (in the same allocation).
	w spoolWriter
	// env is the envelope of the message written, when an
	// envelope.Message was (see msgenv.Receiver).
	env    msgenv.Envelope
	hasEnv bool
	// first is the reader of the first open, in the same allocation (a
	// retry or a failover opens more).
	first     memReader
	firstUsed atomic.Bool
}

// spoolBufs holds the buffers of in-memory spools, so a steady stream of
// small messages reuses a few buffers instead of allocating each time.
var spoolBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// spool writes a message through write, in memory while it fits s.spoolMem
// and to a temporary file beyond. When write writes an envelope.Message,
// the spool keeps its envelope (env) and calls valid, when not nil, once
// the message is found valid and before it is written.
func (s *Sender) spool(write func(io.Writer) error, valid func()) (*spooled, error) {
	sp := &spooled{}
	w := &sp.w
	w.sp, w.max, w.valid = sp, s.spoolMem, valid
	if w.max > 0 {
		w.buf = spoolBufs.Get().(*bytes.Buffer)
		w.buf.Reset()
	}
	err := write(w)
	ferr := w.finish()
	w.valid, w.buf = nil, nil // sp.buf has the buffer, released by sp.release
	if err != nil || ferr != nil {
		sp.release()
		if ferr == nil {
			return nil, err // as the writer gave it (an *envelope.Error, say)
		}
		return nil, errors.Join(err, ferr)
	}
	return sp, nil
}

// spoolWriter fills the buffer and moves to a file once the message
// passes max.
type spoolWriter struct {
	sp *spooled
	// valid is called when the message written is found valid (see spool).
	valid func()
	max   int64
	buf   *bytes.Buffer
	f     *os.File
	name  string
	bw    *bufio.Writer
	n     int64
	err   error // a failure to create or write the file, sticky
}

// SetEnvelope keeps the envelope of the message written (see
// msgenv.Receiver).
func (w *spoolWriter) SetEnvelope(e msgenv.Envelope) {
	w.sp.env, w.sp.hasEnv = e, true
	if w.valid != nil {
		w.valid()
	}
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.f == nil && w.buf != nil && int64(w.buf.Len()+len(p)) <= w.max {
		w.n += int64(len(p))
		return w.buf.Write(p)
	}
	if w.f == nil {
		if w.err = w.toFile(); w.err != nil {
			return 0, w.err
		}
	}
	n, err := w.bw.Write(p)
	w.n += int64(n)
	w.err = err
	return n, err
}

// toFile creates the temporary file and moves what the buffer holds to it.
func (w *spoolWriter) toFile() error {
	f, err := os.CreateTemp("", "mailwarden-spool-*.eml")
	if err != nil {
		return fmt.Errorf("mailwarden: spool: %w", err)
	}
	w.f, w.name = f, f.Name()
	w.bw = bufio.NewWriterSize(f, 64<<10)
	if w.buf != nil {
		_, err = w.bw.Write(w.buf.Bytes())
		w.buf.Reset()
	}
	return err
}

// finish flushes and closes the file, if any, and completes the spool.
func (w *spoolWriter) finish() error {
	sp := w.sp
	sp.buf, sp.file, sp.size, sp.max = w.buf, w.name, w.n, w.max
	if w.f == nil {
		if w.buf == nil { // an empty message with SpoolInMemory < 0
			w.err = w.toFile()
			if w.f == nil {
				return w.err
			}
			sp.file = w.name
		} else {
			return w.err
		}
	}
	err := w.err
	if err == nil {
		err = w.bw.Flush()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f, w.bw = nil, nil // the spool lives on: let the 64 KiB buffer go
	return err
}

// open returns a new reader over the whole message; the reader is an
// io.Closer (the relay closes it).
func (sp *spooled) open() (io.Reader, error) {
	if sp.file != "" {
		return robustio.Open(sp.file)
	}
	sp.readers.Add(1)
	r := &sp.first
	if !sp.firstUsed.CompareAndSwap(false, true) {
		r = &memReader{}
	}
	r.sp = sp
	r.r.Reset(sp.buf.Bytes())
	return r, nil
}

// release removes the file, or gives the buffer back to the pool when
// every reader was closed (a reader still open, say in an HTTP request
// that outlived its call, keeps the buffer out of the pool for good).
// A buffer grown past twice the in-memory limit (by a message that then
// went to a file) is left to the garbage collector.
func (sp *spooled) release() {
	if sp.file != "" {
		robustio.Remove(sp.file)
	}
	if sp.buf != nil && sp.readers.Load() == 0 && int64(sp.buf.Cap()) <= 2*sp.max {
		sp.buf.Reset()
		spoolBufs.Put(sp.buf)
	}
	sp.buf = nil
}

// memReader reads an in-memory spool. Once closed it reads nothing more
// (the buffer may then be reused for another message).
type memReader struct {
	mu     sync.Mutex
	r      bytes.Reader
	sp     *spooled
	closed bool
}

func (r *memReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, os.ErrClosed
	}
	return r.r.Read(p)
}

// WriteTo lets io.Copy write the message in one call.
func (r *memReader) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, os.ErrClosed
	}
	return r.r.WriteTo(w)
}

func (r *memReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.sp.readers.Add(-1)
	}
	return nil
}
