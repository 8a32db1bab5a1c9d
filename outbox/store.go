package outbox

import (
	"context"
	"io"
)

// A Store keeps queued messages and delivers them. The spool directory
// (*Outbox, from Open) is the embedded default; the outbox/pgstore package
// keeps them in PostgreSQL for several worker nodes on one database. Every
// Store reports the same events (outbox.queued, outbox.attempt,
// outbox.deferred, outbox.delivered, outbox.dead, outbox.retry,
// outbox.purged) to its Logger, classifies failures with Temporary and
// Accepted, and backs off and dead-letters as Config says.
type Store interface {
	// Enqueue stores a message (see Outbox.Enqueue): write writes it
	// exactly as it will be sent, and the entry is durable when Enqueue
	// returns without error.
	Enqueue(ctx context.Context, env Envelope, write func(io.Writer) error) (Entry, error)
	// List returns the entries, oldest first.
	List(ctx context.Context) ([]Entry, error)
	// Retry makes a deferred or dead entry due now; Purge deletes one.
	// Both wrap ErrNotFound for an unknown id.
	Retry(ctx context.Context, id string) error
	Purge(ctx context.Context, id string) error
	// Run delivers entries as they fall due until ctx is done; RunOnce
	// attempts what is due now, once.
	Run(ctx context.Context) error
	RunOnce(ctx context.Context) (Stats, error)
	// Close stops new Enqueues.
	Close() error
}

var _ Store = (*Outbox)(nil)
