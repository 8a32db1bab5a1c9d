package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mailwarden/outbox"
)

// migrationLock is the advisory lock key held while migrating.
const migrationLock int64 = 0x6d77_6f75_7462_0001

// migrations are applied in order; each is applied once, and a database
// records the highest applied in mailwarden_outbox_schema. Never edit a
// released migration: append a new one.
var migrations = []string{
	// 1: entries, their message chunks, the shared rate-limit slots.
	`CREATE TABLE mailwarden_outbox (
		id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		message_id   text NOT NULL DEFAULT '',
		mail_from    text NOT NULL,
		rcpt_to      text NOT NULL,
		smtputf8     boolean NOT NULL DEFAULT false,
		size         bigint NOT NULL DEFAULT 0,
		sha256       bytea,
		created      timestamptz NOT NULL DEFAULT now(),
		state        text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'deferred', 'dead')),
		attempts     integer NOT NULL DEFAULT 0,
		next_attempt timestamptz NOT NULL DEFAULT now(),
		last_error   text NOT NULL DEFAULT '',
		reason       text NOT NULL DEFAULT '',
		retried      timestamptz,
		lease_owner  text,
		lease_until  timestamptz,
		lease_token  bigint NOT NULL DEFAULT 0
	);
	CREATE INDEX mailwarden_outbox_due ON mailwarden_outbox (next_attempt, id) WHERE state <> 'dead';
	CREATE TABLE mailwarden_outbox_chunk (
		entry_id bigint NOT NULL REFERENCES mailwarden_outbox (id) ON DELETE CASCADE,
		seq      integer NOT NULL,
		data     bytea NOT NULL,
		PRIMARY KEY (entry_id, seq)
	);
	CREATE TABLE mailwarden_outbox_send (
		id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		key text NOT NULL,
		at  timestamptz NOT NULL
	);
	CREATE INDEX mailwarden_outbox_send_key ON mailwarden_outbox_send (key, at);`,
	// 2: an entry the relay accepted whose audit record failed stays,
	// as 'delivered', until its record is written (never sent again).
	`ALTER TABLE mailwarden_outbox DROP CONSTRAINT mailwarden_outbox_state_check;
	ALTER TABLE mailwarden_outbox ADD CONSTRAINT mailwarden_outbox_state_check
		CHECK (state IN ('queued', 'deferred', 'dead', 'delivered'));
	ALTER TABLE mailwarden_outbox ADD COLUMN queue_id text NOT NULL DEFAULT '',
		ADD COLUMN record_tries integer NOT NULL DEFAULT 0;`,
}

// SchemaVersion is the schema version this package migrates to.
var SchemaVersion = len(migrations)

// Migrate creates or upgrades the outbox's tables and returns the schema
// version before and after. It holds an advisory lock for the whole
// transaction, so nodes migrating at once apply each migration once; run
// again it changes nothing. A database already at a newer version than
// this package knows is an error.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (from, to int, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS mailwarden_outbox_schema (
			version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM mailwarden_outbox_schema`).Scan(&from); err != nil {
			return err
		}
		if from > len(migrations) {
			return fmt.Errorf("the database's outbox schema is version %d, newer than this program's %d", from, len(migrations))
		}
		for v := from + 1; v <= len(migrations); v++ {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO mailwarden_outbox_schema (version) VALUES ($1)`, v); err != nil {
				return err
			}
		}
		to = len(migrations)
		return nil
	})
	if err != nil {
		return 0, 0, &outbox.Error{Op: "migrate", Err: err}
	}
	return from, to, nil
}
