package mailwarden

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mailwarden/envelope"
	"mailwarden/outbox"
	"mailwarden/outbox/pgstore"
)

// A PostgresOutbox is an Outbox kept in PostgreSQL (see outbox/pgstore):
// several application nodes on one database share its queue, its leases
// and its rate limit, and Enqueue can join the application's own
// transaction (EnqueueTx, EnqueueSQLTx). Messages are built as Send builds
// them and delivered through the Sender's relays with the same
// classification as the spool's Outbox.
type PostgresOutbox struct {
	*pgstore.Store
	s *Sender
}

// The PostgreSQL store's types, so that a program works with it through
// this package alone.
type (
	// PostgresConfig configures a PostgreSQL outbox (see pgstore.Config).
	PostgresConfig = pgstore.Config
	// PostgresStore is a PostgreSQL outbox opened without a Sender, to
	// list and act on its entries (see pgstore.Store).
	PostgresStore = pgstore.Store
)

// OpenPostgresOutbox opens the outbox in the database behind pool for this
// Sender, migrating its schema first unless cfg.NoMigrate. When
// cfg.Deliverer is nil the Sender delivers; the outbox's records go where
// the Sender's go, and to cfg.Logger too when it is set. The pool stays
// the caller's. Errors are *outbox.Error.
func (s *Sender) OpenPostgresOutbox(ctx context.Context, pool *pgxpool.Pool, cfg PostgresConfig) (*PostgresOutbox, error) {
	if cfg.Deliverer == nil {
		cfg.Deliverer = senderDeliverer{s}
	}
	cfg.Logger = s.outboxLogger(cfg.Logger)
	st, err := pgstore.Open(ctx, pool, cfg)
	if err != nil {
		return nil, err
	}
	return &PostgresOutbox{Store: st, s: s}, nil
}

// outboxLogger is the logger of an outbox of this Sender: the Sender's
// trail and logger, and extra too when not nil.
func (s *Sender) outboxLogger(extra *slog.Logger) *slog.Logger {
	if rh, ok := s.logger.Handler().(*routeHandler); ok && extra != nil {
		c := *rh
		if c.extra != nil {
			c.extra = slog.NewMultiHandler(c.extra, extra.Handler())
		} else {
			c.extra = extra.Handler()
		}
		return slog.New(&c)
	}
	if extra == nil {
		return s.logger
	}
	return extra
}

// build prepares m as Send does and returns its envelope and writer.
func (o *PostgresOutbox) build(ctx context.Context, m *envelope.Message) (context.Context, outbox.Envelope, func(io.Writer) error, error) {
	mm, env, extra, err := o.s.prepare(m, nil)
	if err != nil {
		return ctx, outbox.Envelope{}, nil, err
	}
	ctx = withScope(ctx, &sendScope{attrs: extra})
	return ctx, outbox.Envelope{From: env.From, To: env.To, SMTPUTF8: env.SMTPUTF8, MessageID: env.MessageID},
		func(w io.Writer) error { _, err := mm.WriteTo(w); return err }, nil
}

// Enqueue builds m as Send does and stores it in its own transaction,
// returning once it is committed. Errors are a *envelope.Error for a
// message that cannot be built, or an *outbox.Error.
func (o *PostgresOutbox) Enqueue(ctx context.Context, m *envelope.Message) (outbox.Entry, error) {
	ctx, env, write, err := o.build(ctx, m)
	if err != nil {
		return outbox.Entry{}, err
	}
	o.s.reportBuild(env.MessageID)
	e, err := o.Store.Enqueue(ctx, env, write)
	if err == nil {
		o.s.report(PhaseSpooling, env.MessageID, e.Envelope.Size)
	}
	return e, err
}

// EnqueueTx builds m and stores it inside the application's transaction
// tx: it is queued if and only if tx commits.
func (o *PostgresOutbox) EnqueueTx(ctx context.Context, tx pgx.Tx, m *envelope.Message) (outbox.Entry, error) {
	ctx, env, write, err := o.build(ctx, m)
	if err != nil {
		return outbox.Entry{}, err
	}
	return o.Store.EnqueueTx(ctx, tx, env, write)
}

// EnqueueSQLTx is EnqueueTx for a database/sql transaction.
func (o *PostgresOutbox) EnqueueSQLTx(ctx context.Context, tx *sql.Tx, m *envelope.Message) (outbox.Entry, error) {
	ctx, env, write, err := o.build(ctx, m)
	if err != nil {
		return outbox.Entry{}, err
	}
	return o.Store.EnqueueSQLTx(ctx, tx, env, write)
}

// OpenPostgresStore opens the outbox in the database behind pool without a
// Sender (cfg.Deliverer may be nil: Run then fails), to list, retry and
// purge entries. Errors are *outbox.Error.
func OpenPostgresStore(ctx context.Context, pool *pgxpool.Pool, cfg PostgresConfig) (*PostgresStore, error) {
	return pgstore.Open(ctx, pool, cfg)
}

// MigratePostgres creates or upgrades the outbox's schema (see
// pgstore.Migrate) and returns the versions before and after.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool) (from, to int, err error) {
	return pgstore.Migrate(ctx, pool)
}

// PostgresConn says how to reach the outbox's database.
type PostgresConn struct {
	// Store is the connection string or a secret reference to it
	// (env:NAME, file:PATH, or a scheme the SecretSource resolves). A
	// postgres:// URL given literally must not hold a password (give it
	// through a reference, PGPASSWORD or a .pgpass file).
	Store string
	// AllowUnverifiedTLS accepts a database on another host without
	// sslmode=verify-full.
	AllowUnverifiedTLS bool
	// MaxConns, when above the connection string's pool_max_conns (or
	// pgx's default), raises it: a worker needs Concurrency+2.
	MaxConns int32
	// Getenv and Source resolve references (nil: os.Getenv, none).
	Getenv func(string) string
	Source SecretSource
}

// OpenPostgresPool resolves c.Store and connects. The errors never show
// the connection string.
func OpenPostgresPool(ctx context.Context, c PostgresConn) (*pgxpool.Pool, error) {
	conn := c.Store
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		if u, err := url.Parse(conn); err == nil && u.User != nil {
			if _, set := u.User.Password(); set {
				return nil, fmt.Errorf("%w: the database URL holds a password; secrets are never written inline: give the URL as env:NAME or file:PATH, or the password through PGPASSWORD or a .pgpass file", ErrSecretUnresolved)
			}
		}
	} else {
		v, err := SecretRef(conn).Resolve(ctx, c.Getenv, c.Source)
		if err != nil {
			return nil, err
		}
		conn = v
	}
	pc, err := pgstore.ParseConfig(conn, c.AllowUnverifiedTLS)
	if err != nil {
		return nil, err
	}
	if c.MaxConns > pc.MaxConns {
		pc.MaxConns = c.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("outbox: cannot connect to the database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("outbox: cannot connect to the database: %w", err)
	}
	return pool, nil
}
