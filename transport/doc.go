// Package transport is Mailwarden's SMTP client: one session (Client) and a
// pool with reconnect and failover (Relay), built to be hard to fool.
//
// A Client dials through any ContextDialer (direct, SOCKS, HTTP CONNECT),
// reads the greeting, says EHLO (HELO when EHLO is refused), upgrades with
// STARTTLS or speaks TLS from the first byte, says EHLO again over TLS and
// forgets everything learned in plaintext, authenticates with an
// authmech.Client, and sends messages: MAIL, RCPT and DATA pipelined in one
// flight when the server offers PIPELINING (RFC 2920), the body in BDAT
// chunks when it offers CHUNKING (RFC 3030), otherwise dot-stuffed DATA with
// every bare CR and bare LF turned into CRLF first, so no content can end
// the message early or smuggle a second one.
//
// TLS modes: TLSNone, TLSImplicit, TLSExplicit (STARTTLS required, never a
// fallback) and TLSAuto (STARTTLS when offered; ConnInfo says which
// happened). The zero mode, TLSDefault, means implicit on port 465 and
// explicit everywhere else, so a zero Config never sends mail or
// credentials in clear by accident. An address suffix ("host:587-starttls",
// "host:465-ssl", "host:25-nossl") overrides Config.TLS.
//
// Probe runs the opening of a session, with AUTH when the Config has
// credentials (so a probe proves them too), says QUIT, and reports each
// step with its timing, the TLS details and the capabilities, for
// diagnostics.
//
// A Relay reuses sessions and retries: Relay.Send takes an Opener (a
// function returning a fresh reader) because a message may have to be
// read again after a reconnect or on the next server.
//
// Config.Progress, when set, is told the phase of each send (connecting,
// transferring, done) and the body's bytes written of Envelope.Size, at
// most every 64 KiB or 100 ms, the last event always at the total; unset,
// no counting writer is put in the path (see progress.go).
//
// Security properties:
//
//   - STARTTLS is always sent alone and any bytes the server sent after its
//     220 reply are treated as a response-injection attempt: the session
//     fails closed (ErrResponseInjection).
//   - Certificates are verified (TLS 1.2 minimum, SNI from the address, never
//     from a proxy). Config.InsecureSkipVerify exists, and every use is
//     reported in ConnInfo and in the "smtp.tls" event.
//   - Envelope addresses are checked where they enter (AddressError): no CR,
//     LF, NUL, angle brackets, spaces, or ESMTP parameters hidden in quoted
//     local parts, and no non-ASCII rune whose low byte is CR or LF, nor,
//     unless the server announces SMTPUTF8, one whose low byte is NUL,
//     space, '<', '>', ':' or '=' (see CheckAddress).
//   - Every read and write has a deadline from the context and from the
//     per-command timeouts; replies have line and size limits.
//   - The optional transcript never contains AUTH payloads.
//
// Errors are *Error values carrying the stage, the reply code, the RFC 3463
// enhanced code, the server's text and a Hint for known cases; Classify
// maps any error to a Class for exit codes.
//
// RFCs: 5321 (SMTP), 1869/5321 (EHLO), 3207 (STARTTLS), 8314 (implicit TLS),
// 4954 (AUTH), 2920 (PIPELINING), 3030 (CHUNKING), 1870 (SIZE), 6152
// (8BITMIME), 6531 (SMTPUTF8), 3461 (DSN), 3463 and 5248 (enhanced status
// codes), 2034 (ENHANCEDSTATUSCODES).
//
// Out of scope: message composition (package envelope), S/MIME, the audit
// handler (package audit supplies the slog.Handler), proxy dialers (package
// firewall), SASL mechanisms (package authmech), LMTP, and MX lookup: the
// transport talks to the relay it is given.
package transport
