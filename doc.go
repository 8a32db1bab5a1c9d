// Package mailwarden sends alert and report mail the way an administrator
// configured it: a Profile names the relays (or Microsoft Graph), TLS,
// authentication, proxy, sender identity and message defaults, S/MIME and
// audit settings, and a Sender made from it sends, probes ("Test
// connection") and sends test messages ("Send test email").
//
// Profiles come from Go code or from a JSON configuration file
// (LoadConfig: several named profiles, one active; every error names the
// file, the profile and the field), optionally filled in from a provider
// preset (Presets: Exchange Online and its national clouds, Gmail,
// Outlook.com, Yahoo), or imported from an XML <SMTP> block
// (ImportSMTPXML).
//
// OAuth 2.0 tokens for XOAUTH2, OAUTHBEARER and the Graph transport are
// obtained as Profile.Auth.OAuth says (client credentials with a secret or
// a certificate, a one-time PKCE or device login, a Google service
// account) and kept in an encrypted cache; see Login and package oauth.
//
// Sender.OpenOutbox puts a durable queue in front of a Sender, so that an
// alert sent while the relay, the proxy or the network is down is stored
// on disk and delivered once the way is clear.
//
// Options.Progress lets an embedding program show a long send's progress:
// the phases (building, signing, encrypting, spooling, connecting,
// transferring, done) and the bytes written of the total (ProgressEvent).
//
// The packages below do the work and can be used alone: headers and
// envelope build messages, smime signs and encrypts them, transport speaks
// SMTP, graph speaks Microsoft Graph sendMail, authmech holds the SASL
// mechanisms, oauth obtains tokens, firewall reaches relays through
// proxies, outbox queues durably, and audit keeps a tamper-evident trail.
// This package only wires a Profile into them.
//
// Secrets are never part of a Profile: it holds SecretRefs (env:NAME,
// file:PATH, or a reference an embedding product's SecretSource resolves).
// Once resolved, every secret of a Sender (and every OAuth access token it
// obtains) is scrubbed, in plain, base64 and hex forms, from what servers,
// proxies and identity providers send back, before it reaches an error, a
// transcript or the audit trail: a relay that echoes the password in its
// 535 does not get it logged.
//
// A Sender is safe for concurrent use. Its audit trail is fail-closed by
// default: a send the trail cannot record is refused before anything is
// sent, and the error wraps ErrAuditFailed (an *AuditError).
//
// Send returns a Result for either transport. Every error a Sender, an
// Outbox or OAuthToken returns has one Class (Classify: connection, tls,
// auth, rejected, temporary, usage, audit) and, for the failures an
// administrator meets, a Hint naming the setting to change; Explain gives
// both with the server's own reply for a program's output. The outbox
// retries by the same classification.
//
// The default TLS mode (Profile.TLS empty) is auto: STARTTLS when offered,
// implicit TLS on port 465; credentials are never sent unencrypted unless
// Auth.AllowPlaintext says so. (The transport package's own zero mode is
// stricter: STARTTLS required.)
package mailwarden
