package pgstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mailwarden/outbox"
)

// notifyChannel is the channel Enqueue and Retry notify and Run listens on.
const notifyChannel = "mailwarden_outbox"

// Config configures a Store: the outbox.Config fields the spool has (Dir,
// MaxBytes and MaxMessages excepted: the database is the limit; the
// MeterProvider's gauges read the database) and the
// cluster's own. The zero value of every field is a safe default.
type Config struct {
	outbox.Config

	// NodeID names this node in leases and events; empty means
	// host-name/pid/random.
	NodeID string
	// Lease is how long a claimed entry stays this node's without a
	// renewal (renewed every third of it while delivering); after it
	// another node may take the entry. Zero means one minute.
	Lease time.Duration
	// RateKey names the mailbox or relay whose RateLimit all nodes share;
	// empty means "default".
	RateKey string
	// ChunkSize is the size of the rows a message is stored in; zero
	// means 256 KiB.
	ChunkSize int
	// NoMigrate skips the migration at Open (the schema is managed
	// elsewhere, e.g. by 'smtpcheck outbox migrate').
	NoMigrate bool
}

// A Store is an outbox in PostgreSQL. It is safe for concurrent use, and
// any number of Stores (nodes) may run on one database. Run keeps one
// connection of the pool for LISTEN, and each delivery uses one at a time:
// give the pool at least Concurrency+2 connections.
type Store struct {
	cfg    Config
	pool   *pgxpool.Pool
	log    *slog.Logger
	m      *Metrics
	mu     sync.Mutex
	closed bool
}

var _ outbox.Store = (*Store)(nil)

// Open returns a Store on pool, migrating the schema first unless
// cfg.NoMigrate. The pool stays the caller's (Close does not close it).
// Errors are *outbox.Error.
func Open(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Store, error) {
	cfg.Config.FillDefaults()
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.RateKey == "" {
		cfg.RateKey = "default"
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 256 << 10
	}
	if cfg.NodeID == "" {
		h, _ := os.Hostname()
		var r [3]byte
		rand.Read(r[:])
		cfg.NodeID = fmt.Sprintf("%s/%d/%s", h, os.Getpid(), hex.EncodeToString(r[:]))
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if pool == nil {
		return nil, &outbox.Error{Op: "open", Err: errors.New("no database pool")}
	}
	if !cfg.NoMigrate {
		if _, _, err := Migrate(ctx, pool); err != nil {
			return nil, err
		}
	}
	s := &Store{cfg: cfg, pool: pool, log: log}
	m, err := NewMetrics(cfg.MeterProvider, s)
	if err != nil {
		return nil, &outbox.Error{Op: "open", Err: err}
	}
	s.m = m
	return s, nil
}

// NodeID returns the name this node uses in leases and events.
func (s *Store) NodeID() string { return s.cfg.NodeID }

// Close stops new Enqueues; it neither stops Run (cancel its context) nor
// closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// dbtx is what Enqueue needs of a transaction, from pgx or database/sql.
type dbtx interface {
	exec(ctx context.Context, q string, args ...any) error
	scan(ctx context.Context, q string, args []any, dest ...any) error
}

type pgxTx struct{ tx pgx.Tx }

func (t pgxTx) exec(ctx context.Context, q string, args ...any) error {
	_, err := t.tx.Exec(ctx, q, args...)
	return err
}
func (t pgxTx) scan(ctx context.Context, q string, args []any, dest ...any) error {
	return t.tx.QueryRow(ctx, q, args...).Scan(dest...)
}

type sqlTx struct{ tx *sql.Tx }

func (t sqlTx) exec(ctx context.Context, q string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, q, args...)
	return err
}
func (t sqlTx) scan(ctx context.Context, q string, args []any, dest ...any) error {
	return t.tx.QueryRowContext(ctx, q, args...).Scan(dest...)
}

// Enqueue stores a message in its own transaction and returns once it is
// committed (durable). write writes the message exactly as it will be
// sent; it is streamed to the database in chunks. Errors are
// *outbox.Error; nothing is queued when Enqueue fails.
func (s *Store) Enqueue(ctx context.Context, env outbox.Envelope, write func(io.Writer) error) (outbox.Entry, error) {
	var e outbox.Entry
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		e, err = s.enqueue(ctx, pgxTx{tx}, env, write, false)
		return err
	})
	if err != nil {
		return outbox.Entry{}, enqueueError(err)
	}
	s.queued(ctx, e, false)
	return e, nil
}

// EnqueueTx stores a message inside the application's own transaction:
// the entry exists if and only if tx commits, and workers see it only
// then. The outbox.queued event is logged when EnqueueTx returns, with
// in_transaction=true (the commit is the application's). Errors are
// *outbox.Error; after one, the application should roll tx back.
func (s *Store) EnqueueTx(ctx context.Context, tx pgx.Tx, env outbox.Envelope, write func(io.Writer) error) (outbox.Entry, error) {
	e, err := s.enqueue(ctx, pgxTx{tx}, env, write, true)
	if err != nil {
		return outbox.Entry{}, enqueueError(err)
	}
	s.queued(ctx, e, true)
	return e, nil
}

// EnqueueSQLTx is EnqueueTx for a database/sql transaction on the same
// database (any PostgreSQL driver: pgx's stdlib, lib/pq).
func (s *Store) EnqueueSQLTx(ctx context.Context, tx *sql.Tx, env outbox.Envelope, write func(io.Writer) error) (outbox.Entry, error) {
	e, err := s.enqueue(ctx, sqlTx{tx}, env, write, true)
	if err != nil {
		return outbox.Entry{}, enqueueError(err)
	}
	s.queued(ctx, e, true)
	return e, nil
}

func enqueueError(err error) error {
	var oe *outbox.Error
	if errors.As(err, &oe) {
		return err
	}
	return &outbox.Error{Op: "enqueue", Err: err, Hint: "check that the database is reachable and writable"}
}

func (s *Store) queued(ctx context.Context, e outbox.Entry, inTx bool) {
	g := []slog.Attr{slog.String("spool_id", e.ID), slog.String("store", "postgres")}
	if inTx {
		g = append(g, slog.Bool("in_transaction", true))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "outbox.queued", slog.String("message_id", e.Envelope.MessageID),
		slog.String("from", e.Envelope.From), slog.Any("rcpts", e.Envelope.To), slog.Int64("size", e.Envelope.Size),
		slog.Attr{Key: "outbox", Value: slog.GroupValue(g...)})
	s.m.Enqueued(ctx)
}

func (s *Store) enqueue(ctx context.Context, tx dbtx, env outbox.Envelope, write func(io.Writer) error, inTx bool) (outbox.Entry, error) {
	fail := func(err error) (outbox.Entry, error) { return outbox.Entry{}, &outbox.Error{Op: "enqueue", Err: err} }
	if len(env.To) == 0 {
		return fail(errors.New("no recipient"))
	}
	for _, a := range append([]string{env.From, env.MessageID}, env.To...) {
		if strings.ContainsAny(a, "\r\n") {
			return fail(errors.New("CR or LF in an envelope address or Message-ID"))
		}
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return fail(outbox.ErrClosed)
	}
	rcpts, err := json.Marshal(env.To)
	if err != nil {
		return fail(err)
	}
	var id int64
	var created time.Time
	if err := tx.scan(ctx, `INSERT INTO mailwarden_outbox (message_id, mail_from, rcpt_to, smtputf8)
		VALUES ($1, $2, $3, $4) RETURNING id, created`, []any{env.MessageID, env.From, string(rcpts), env.SMTPUTF8}, &id, &created); err != nil {
		return outbox.Entry{}, err
	}
	cw := newChunkWriter(ctx, tx, id, s.cfg.ChunkSize)
	if err := write(cw); err != nil {
		return outbox.Entry{}, err
	}
	if err := cw.flush(); err != nil {
		return outbox.Entry{}, err
	}
	if err := tx.exec(ctx, `UPDATE mailwarden_outbox SET size = $2, sha256 = $3 WHERE id = $1`, id, cw.n, cw.h.Sum(nil)); err != nil {
		return outbox.Entry{}, err
	}
	// Workers LISTENing are told at commit (never for a rollback).
	if err := tx.exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel); err != nil {
		return outbox.Entry{}, err
	}
	env.Size = cw.n
	return outbox.Entry{ID: strconv.FormatInt(id, 10), State: outbox.StateQueued, Envelope: env, Created: created, NextAttempt: created}, nil
}

// parseID parses an entry id as List shows it.
func parseID(op, id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, &outbox.Error{Op: op, ID: id, Err: outbox.ErrNotFound, Hint: "an entry id is a positive number, as 'list' shows"}
	}
	return n, nil
}

// List returns the entries, oldest first. An entry being delivered is
// listed in its state before the attempt.
func (s *Store) List(ctx context.Context) ([]outbox.Entry, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, message_id, mail_from, rcpt_to, smtputf8, size, created, state,
		attempts, next_attempt, last_error, reason FROM mailwarden_outbox ORDER BY id`)
	if err != nil {
		return nil, &outbox.Error{Op: "list", Err: err}
	}
	defer rows.Close()
	var out []outbox.Entry
	for rows.Next() {
		var e outbox.Entry
		var id int64
		var rcpts, state string
		if err := rows.Scan(&id, &e.Envelope.MessageID, &e.Envelope.From, &rcpts, &e.Envelope.SMTPUTF8, &e.Envelope.Size,
			&e.Created, &state, &e.Attempts, &e.NextAttempt, &e.LastError, &e.Reason); err != nil {
			return nil, &outbox.Error{Op: "list", Err: err}
		}
		if err := json.Unmarshal([]byte(rcpts), &e.Envelope.To); err != nil {
			return nil, &outbox.Error{Op: "list", ID: strconv.FormatInt(id, 10), Err: fmt.Errorf("%w: recipients: %v", outbox.ErrCorrupt, err)}
		}
		e.ID, e.State = strconv.FormatInt(id, 10), outbox.State(state)
		if e.State == outbox.StateDead {
			e.NextAttempt = time.Time{}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, &outbox.Error{Op: "list", Err: err}
	}
	return out, nil
}

// Retry makes a deferred or dead entry due now, keeping its attempt count
// (its maximum age counts again from now); for a delivered entry whose
// record is pending, only the record is tried again. Errors are *outbox.Error,
// wrapping outbox.ErrNotFound for an unknown id.
func (s *Store) Retry(ctx context.Context, id string) error {
	n, err := parseID("retry", id)
	if err != nil {
		return err
	}
	var mid string
	var attempts int
	err = s.pool.QueryRow(ctx, `UPDATE mailwarden_outbox SET state = CASE WHEN state = 'delivered' THEN 'delivered' WHEN attempts > 0 THEN 'deferred' ELSE 'queued' END,
		reason = '', next_attempt = now(), retried = now() WHERE id = $1 RETURNING message_id, attempts`, n).Scan(&mid, &attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return &outbox.Error{Op: "retry", ID: id, Err: outbox.ErrNotFound}
	}
	if err != nil {
		return &outbox.Error{Op: "retry", ID: id, Err: err}
	}
	s.pool.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel)
	s.log.LogAttrs(ctx, slog.LevelInfo, "outbox.retry", slog.String("message_id", mid),
		slog.Group("outbox", slog.String("spool_id", id), slog.Int("attempt", attempts)))
	return nil
}

// Purge deletes an entry without sending it (a delivery under way on some
// node can no longer complete it). Errors are *outbox.Error, wrapping
// outbox.ErrNotFound for an unknown id.
func (s *Store) Purge(ctx context.Context, id string) error {
	n, err := parseID("purge", id)
	if err != nil {
		return err
	}
	var mid, last string
	var attempts int
	err = s.pool.QueryRow(ctx, `DELETE FROM mailwarden_outbox WHERE id = $1 RETURNING message_id, attempts, last_error`, n).Scan(&mid, &attempts, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return &outbox.Error{Op: "purge", ID: id, Err: outbox.ErrNotFound}
	}
	if err != nil {
		return &outbox.Error{Op: "purge", ID: id, Err: err}
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "outbox.purged", slog.String("message_id", mid),
		slog.Group("outbox", slog.String("spool_id", id), slog.Int("attempt", attempts), slog.String("error", last)))
	return nil
}
