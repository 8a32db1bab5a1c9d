package pgstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mailwarden/outbox"
)

// chunkWriter stores what is written as rows of at most size bytes, one
// INSERT per full chunk: only one chunk is ever in memory.
type chunkWriter struct {
	ctx  context.Context
	tx   dbtx
	id   int64
	seq  int
	buf  []byte
	n    int64
	h    hash.Hash
	err  error
	size int
}

func newChunkWriter(ctx context.Context, tx dbtx, id int64, size int) *chunkWriter {
	return &chunkWriter{ctx: ctx, tx: tx, id: id, buf: make([]byte, 0, size), h: sha256.New(), size: size}
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		k := min(len(p), w.size-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		w.h.Write(p[:k])
		w.n += int64(k)
		p = p[k:]
		written += k
		if len(w.buf) == w.size {
			if err := w.flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (w *chunkWriter) flush() error {
	if w.err != nil || len(w.buf) == 0 {
		return w.err
	}
	w.err = w.tx.exec(w.ctx, `INSERT INTO mailwarden_outbox_chunk (entry_id, seq, data) VALUES ($1, $2, $3)`, w.id, w.seq, w.buf)
	w.seq++
	w.buf = w.buf[:0]
	return w.err
}

// chunkReader streams an entry's message from the database, one chunk per
// query, and checks its size and SHA-256 at the end: a mismatch (or a
// missing chunk) is an error wrapping outbox.ErrCorrupt instead of io.EOF,
// so a transport that aborts on a read error never sends it altered.
type chunkReader struct {
	ctx  context.Context
	pool *pgxpool.Pool
	id   int64
	seq  int
	cur  []byte
	n    int64
	size int64
	sum  []byte
	h    hash.Hash
	done bool
}

func (s *Store) openBody(ctx context.Context, id, size int64, sum []byte) (io.Reader, error) {
	return &chunkReader{ctx: ctx, pool: s.pool, id: id, size: size, sum: sum, h: sha256.New()}, nil
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.done {
			return 0, io.EOF
		}
		var data []byte
		err := r.pool.QueryRow(r.ctx, `SELECT data FROM mailwarden_outbox_chunk WHERE entry_id = $1 AND seq = $2`, r.id, r.seq).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			r.done = true
			if r.n != r.size || !bytes.Equal(r.h.Sum(nil), r.sum) {
				return 0, fmt.Errorf("%w: the message read back (%d bytes) is not the one queued (%d bytes)", outbox.ErrCorrupt, r.n, r.size)
			}
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		r.seq++
		r.cur = data
	}
	k := copy(p, r.cur)
	r.h.Write(p[:k])
	r.n += int64(k)
	r.cur = r.cur[k:]
	if r.n > r.size {
		return k, fmt.Errorf("%w: the message is longer than queued", outbox.ErrCorrupt)
	}
	return k, nil
}

// Close releases nothing: each chunk's query is already finished.
func (r *chunkReader) Close() error { return nil }
