// Package audit writes Mailwarden's audit trail: what was sent, to whom,
// how, and proof that the record was not edited afterwards.
//
// It is a leaf built on log/slog. The transport and the root package log
// events ("smtp.connect", "smtp.tls", "smtp.auth", "smtp.rcpt",
// "smtp.error" and one "smtp.send" or "smtp.probe" summary per message or
// session) to a *slog.Logger; this package supplies the slog.Handler that
// turns each record into an audit entry and hands it to one or more sinks.
// The field names are listed, once, in docs/audit-fields.md.
//
// # Entries and secrets
//
// A Handler writes every record as one JSON object: time (UTC, RFC 3339 with
// microseconds), level, msg, then all attributes, groups as nested objects.
// slog.LogValuer values are resolved first, so a value that redacts itself
// (authmech.Secret) is safe under any key. Then any attribute whose key looks
// like a secret (IsSecretKey: password, passwd, secret, token, authorization,
// auth_payload, credential, private_key, cookie, ...) is replaced by
// Redacted, whatever its value, at any depth, including object keys inside
// JSON marshalled from slog.Any values. The JSON is ASCII only (other
// characters are \u escapes), so an entry is always one line.
//
// # Sinks
//
//   - File: JSON lines, hash-chained, rotated by size and age, with a
//     retention count and an fsync policy (every record, interval, none).
//   - Syslog: RFC 5424 over the local socket (unixgram, unix), UDP (RFC
//     5426), TCP with octet counting (RFC 6587), TLS (RFC 5425) and RELP
//     (rsyslog's Reliable Event Logging Protocol, plain or over TLS, each
//     record acknowledged), JSON in MSG; it reconnects when the connection
//     breaks. Only RELP can hold a fail-closed trail (see
//     SyslogConfig.CanFailClose); New refuses UDP under FailClosed. With a
//     File in the same Config, each syslog record carries the file's
//     chain_seq and chain_hash: the collector holds an anchor.
//   - EventLog: the Windows Event Log (Windows only, see below).
//   - Multi fans out to several sinks; Async puts a sink behind a bounded
//     queue so a slow sink cannot stall a sender; Named labels a sink's
//     errors. Async writes a record as soon as it is queued; records that
//     pile up meanwhile (concurrent senders) go to a File as one block:
//     one write, and under SyncEvery one fsync and anchor update, each
//     record reported written only after that (group commit). A
//     Handler.Wait on a queue in front of a File writes what is queued
//     itself when no write is under way; under SyncInterval and SyncNone
//     a record that finds its queue idle is written by the caller at
//     once, without a wake-up of the queue's goroutine, and a tracked
//     Handler can Hold its records until its Wait writes them as one
//     block (a send's records after its intent). New builds all of this from a
//     Config, each sink behind its own queue (DefaultQueue records) unless
//     Config.Queue is negative; a File and a Syslog share one queue, the
//     syslog record written after the file's so it can carry the file's
//     chain_seq and chain_hash.
//
// # Failure policy
//
// FailClosed (the default) hands every sink failure to the caller; FailOpen
// counts it (Stats), passes it to Options.OnError and carries on. Because
// slog.Logger throws away the error a Handler returns, a sender that must
// refuse to send without an audit record does this:
//
//	tr := h.Track() // remembers the failures of this send's records only
//	logger := slog.New(tr).With("profile", name)
//	if err := tr.Record(ctx, slog.LevelInfo, "smtp.intent", ...); err != nil {
//		return err // nothing sent: the trail cannot record it
//	}
//	if err := tr.Wait(ctx); err != nil { // queued records written?
//		return err
//	}
//	tr.Hold() // optional: the send's records written together by the next Wait
//	... send with logger as the transport's Config.Logger ...
//	if err := tr.Wait(ctx); err != nil {
//		// sent, but the summary record was not written: tell the caller
//	}
//
// An Async queue that is full refuses the record at once with ErrQueueFull:
// an error under FailClosed, a counted drop (Stats.Dropped) under FailOpen.
//
// # Hash chain and tamper evidence
//
// Each line of a File is
//
//	{"seq":N,"prev":"<hex>",<time, level, msg, attributes>,"hash":"<hex>"}
//
// where hash is HMAC-SHA-256 (with FileConfig.Key) or SHA-256 (without) of
// the line's bytes up to the hash member, closed with '}', and prev is the
// hash of the record before it. seq counts up by one across files. Each file
// starts with an "audit.open" record (alg, file, reason start, resume,
// rotate, recover or active-missing) linked to the last record of the previous file, and a
// file rotated or closed cleanly ends with an "audit.seal" record. Verify
// (and "smtpcheck audit verify") checks every hash, link and number and
// reports the first record edited, removed, inserted, reordered or spliced
// in from another chain, as a *TamperError with its file, line and record
// number.
//
// Truncation: cutting records off the end of a file removes no link, so
// the chain itself cannot show it. The seal records can: a trail must end
// with the seal written by Close, and every file but the last with a seal
// written on rotation; a file that ends otherwise is reported as Truncated.
// With a key, nobody without it can forge a seal. A trail still being
// written (or left by a crash) has no final seal either: Verify reports
// that as Truncated with TamperError.Tail set, and only an anchor kept
// elsewhere (Report.LastSeq and LastHash, or File.State, copied to another
// system) can tell such a tail from a cut one. Deleting the oldest files
// (retention) leaves a chain that starts later: Verify accepts it and
// reports Anchored false.
//
// # Anchors
//
// Every writer seals its end, so deleting the newest files, or all the
// files of the last run, leaves a chain Verify accepts. An Anchor, the
// head (seq, hash) kept in a second place, catches that:
// FileConfig.AnchorFile is replaced atomically with the head as records
// reach the disk (once per block of records written together), and syslog
// records carry chain_seq and chain_hash.
// VerifyAnchor fails with an *AnchorError when the trail ends before the
// anchor (AnchorAhead) or has another hash at its seq (AnchorMismatch), and
// OpenFile refuses to continue a trail that is behind its anchor file.
// ReadAnchor reads an anchor file or a collector's log, ParseAnchor the
// SEQ:HASH form. An anchor proves that nothing up to its record was cut or
// replaced; it proves nothing about later records, nor against someone
// who can rewrite both the trail and the anchor.
//
// Without a key the chain proves nothing against someone who rewrites the
// whole file and recomputes every hash; it still catches careless edits,
// lost lines and damaged disks. Use a key held apart from the log for
// evidence. Verify refuses a plain chain when given a key, so a keyed trail
// cannot be silently replaced by a recomputed plain one.
//
// OpenFile never appends to a file an earlier process wrote: it rotates the
// old active file away untouched and continues the chain in a new one. One
// process writes a trail at a time: on Unix OpenFile takes a lock on a
// hidden file next to the active one (.audit.log.lock) and a second writer
// gets an error. A
// write that fails leaves the file as it is (a torn line stays as evidence)
// and the next write continues the chain in a new file.
//
// # Reading a trail
//
// A Scanner reads a trail record by record in chain order and checks it as
// Verify does, in memory bounded by the longest line, yielding only
// records that verified; ScanConfig.Restarts accepts (and lists) a writer
// that stopped without its seal and a later one that resumed the chain.
// Package audit/report builds the reviewers' report on it.
//
// # Windows Event Log
//
// On Windows, OpenEventLog(source) writes each entry as an event in the
// Application log. The source must be registered once, by an administrator,
// for example at installation: InstallEventSource(source) registers it with
// EventCreate.exe as message file (eventlog.InstallAsEventCreate), which
// displays the event's text as is. Event IDs are EventIDInfo (100),
// EventIDWarning (200) and EventIDError (300). On other systems
// OpenEventLog returns ErrNoEventLog.
//
// # Transcript
//
// Transcript filters the transport's opt-in protocol transcript into its
// own file: AUTH initial responses, the client's lines of an AUTH exchange,
// challenge texts, Authorization headers and password= parameters are
// replaced by Redacted. The transport redacts already; this is defence in
// depth.
//
// Out of scope: shipping logs to a SIEM (point syslog at it), reading or
// querying a trail beyond Verify, and key management:
// the HMAC key is read from a file (LoadKey), and a trail is verified with
// one key, so to change the key move the old trail away first (OpenFile
// then starts a new chain).
package audit
