// Package report turns an audit trail (the hash-chained files of
// audit.File) into the document a compliance reviewer reads: the
// verification verdict first, in words; a summary of the messages by
// outcome, transport, profile and relay; charts of the activity and of the
// delivery latency; the failures grouped by class with a hint; the
// operators' actions; the silent stretches of the period; and every
// message in a table. WriteHTML writes it as one self-contained HTML file
// (no script, no remote resource: inline SVG and CSS, print styles for
// PDF); WriteCSV and WriteJSON write the same message table for the
// reviewer's own tools. The field names it reads are those of
// docs/audit-fields.md.
//
// # Verdict
//
// The chain is checked with audit.Scanner, which reports the same first
// fault as audit.Verify. One difference: a file that ends without its seal
// and is followed by a file whose audit.open record links to its last
// record is a writer that stopped (crash, kill, power loss) and a later
// one that resumed the chain; the link proves nothing is missing there, so
// the report lists it under Crashes, with the seq, instead of calling the
// trail truncated. The trail's own records other than open and seal (a
// writer that recovered from a failed write, an active file found missing,
// gap or crash records) are listed with their seq numbers. An Anchor (a
// seq and hash kept elsewhere) is checked when given. A tampered trail is
// reported up to its first bad record: nothing after it can be trusted.
//
// # Memory
//
// Build reads the files once, as a stream: the aggregates (counts, chart
// buckets per hour, failure groups, a histogram of the gaps between records
// and the longest gaps) are bounded by the number of distinct profiles,
// relays and failure kinds and by the length of the period, not by the
// number of records. The message table needs every message's records
// joined: a message is held in memory only while it is open (queued and not
// yet delivered, dead-lettered or purged; a direct send between its intent
// and its summary), and its row is written to a temporary file (deleted at
// Close) as soon as its outcome is recorded. The table is therefore in the
// order the outcomes were recorded, with the messages still open at the end
// of the period last, and memory is bounded by the outbox's depth, not by
// the trail. Operator actions beyond 10,000 and failure kinds beyond 500
// are counted but not listed.
//
// # Secrets and escaping
//
// The trail holds no secret (the audit package redacts them) and the report
// adds none: the HMAC key is named by a key id, the first 16 hex digits of
// SHA-256 over the key. Every value from the trail goes through
// html/template's contextual escaping in HTML, encoding/json in JSON, and
// encoding/csv in CSV, where a value a spreadsheet would run as a formula
// is prefixed with an apostrophe.
//
// Out of scope: joining records that carry no Message-ID beyond the rule
// above (a direct send's connection failure is joined to the latest intent
// of the same profile), telling an at-least-once duplicate delivery from a
// new message, and reading syslog or Event Log copies of the trail.
package report
