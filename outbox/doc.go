// Package outbox is a durable queue of outgoing messages: a spool
// directory that survives crashes, restarts and relay outages, and a
// delivery worker that drains it.
//
// Enqueue returns only once the message is on disk: it is written to a
// temporary file, fsync'd, renamed into place and the directory fsync'd.
// Each entry is one file, <id>.msg, holding a checksummed header (the SMTP
// envelope, the Message-ID, the creation time) and the message exactly as
// it will be sent; a small sidecar, <id>.state, holds what changes: the
// attempts so far, the next attempt's time, the last error, and whether the
// entry is dead. A torn or corrupt entry is detected by its checksum and
// moved to the quarantine subdirectory, reported and never retried; it
// never stops the worker.
//
// Run delivers due entries through a Deliverer (the root package adapts
// its Sender's relay, which reuses connections and fails over). A failure
// whose error chain has a Temporary method returning true, or that is a
// network error or timeout, is temporary: the entry is deferred with
// exponential backoff and jitter, up to Config.MaxAge. Anything else is
// permanent, and the entry, like an expired one, is dead-lettered with its
// last error kept. Config limits concurrent deliveries and paces sends to a
// rate (providers have quotas: Exchange Online allows 30 messages a minute
// per mailbox).
//
// Delivery is at least once: an entry is removed only after the relay has
// accepted it, so a crash between acceptance and removal sends it again
// with the same Message-ID, which lets the recipient recognise the
// duplicate. No entry is ever dropped silently: every state change is a
// slog record (outbox.queued, outbox.attempt, outbox.deferred,
// outbox.delivered, outbox.dead, outbox.quarantined, outbox.retry,
// outbox.purged) on Config.Logger.
//
// One process at a time should run the worker on a spool directory;
// listing, retrying and purging from another process is safe (a retry is
// seen at the worker's next poll).
//
// Metrics go through the OpenTelemetry metrics API (Config.MeterProvider;
// none by default), with the same names for every Store: see Metrics.
//
// Out of scope: building messages (see envelope), SMTP itself (see
// transport), and DSN processing of bounces that arrive later.
package outbox
