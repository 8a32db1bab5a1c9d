package mailwarden

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// TestSpoolMemoryAndFile: a message up to the limit stays in memory, a
// larger one (or any, with a negative limit) goes to a temporary file that
// release removes; every reader reads the same bytes.
func TestSpoolMemoryAndFile(t *testing.T) {
	for _, c := range []struct {
		name   string
		max    int64
		size   int
		inFile bool
	}{
		{"small in memory", 1 << 10, 1000, false},
		{"exactly the limit", 1 << 10, 1 << 10, false},
		{"one byte over", 1 << 10, 1<<10 + 1, true},
		{"large", 1 << 10, 300 << 10, true},
		{"files only", -1, 10, true},
		{"empty, files only", -1, 0, true},
		{"empty", 1 << 10, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &Sender{spoolMem: c.max}
			msg := bytes.Repeat([]byte("0123456789abcde\n"), c.size/16+1)[:c.size]
			sp, err := s.spool(func(w io.Writer) error {
				// in uneven pieces, as a writer would
				for rest := msg; len(rest) > 0; {
					n := min(len(rest), 333)
					if _, err := w.Write(rest[:n]); err != nil {
						return err
					}
					rest = rest[n:]
				}
				return nil
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if (sp.file != "") != c.inFile || sp.size != int64(c.size) {
				t.Fatalf("file %q, size %d; want in a file: %v, size %d", sp.file, sp.size, c.inFile, c.size)
			}
			for range 2 { // a retry reads it again
				r, err := sp.open()
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				r.(io.Closer).Close()
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("read %d bytes (%v), want the %d written", len(got), err, len(msg))
				}
			}
			file := sp.file
			sp.release()
			if file != "" {
				if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("the spool file is still there after release: %v", err)
				}
			}
		})
	}
}

// TestSpoolReaderClosedReadsNothing: a reader of an in-memory spool reads
// nothing once closed, and a reader left open keeps the buffer from being
// reused for another message.
func TestSpoolReaderClosedReadsNothing(t *testing.T) {
	s := &Sender{spoolMem: 1 << 10}
	sp, err := s.spool(func(w io.Writer) error { _, err := io.WriteString(w, "secret message"); return err }, nil)
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := sp.open()
	r2, _ := sp.open()
	r1.(io.Closer).Close()
	if n, err := r1.Read(make([]byte, 10)); n != 0 || !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read after close: %d bytes, %v", n, err)
	}
	buf := sp.buf
	sp.release() // r2 still open: the buffer must not be reused
	if buf.String() != "secret message" {
		t.Fatalf("the buffer was reset while a reader was open: %q", buf.String())
	}
	got, err := io.ReadAll(r2)
	if err != nil || string(got) != "secret message" {
		t.Fatalf("open reader read %q, %v", got, err)
	}
}

// TestSpoolWriteErrorIsReturned: the writer's error is returned and
// nothing is left behind.
func TestSpoolWriteErrorIsReturned(t *testing.T) {
	s := &Sender{spoolMem: 8}
	boom := errors.New("attachment unreadable")
	_, err := s.spool(func(w io.Writer) error {
		io.WriteString(w, strings.Repeat("x", 100)) // spills to a file
		return boom
	}, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the writer's error", err)
	}
}
