// Package mailwarden sends alert and report mail the way an administrator
// configured it: a Profile names the relays, TLS, authentication, proxy,
// S/MIME and audit settings, and a Sender made from it sends, probes ("Test
// connection") and sends test messages ("Send test email").
//
// The packages below do the work and can be used alone: headers and
// envelope build messages, smime signs and encrypts them, transport speaks
// SMTP, authmech holds the SASL mechanisms, firewall reaches relays through
// proxies, and audit keeps a tamper-evident trail. This package only wires a
// Profile into them.
//
// Secrets are never part of a Profile: it holds SecretRefs (env:NAME,
// file:PATH, or a reference an embedding product's SecretSource resolves).
//
// A Sender is safe for concurrent use. Its audit trail is fail-closed by
// default: a send the trail cannot record is refused before anything is
// sent, and the error wraps ErrAuditFailed.
package mailwarden
