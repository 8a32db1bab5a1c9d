// Package graph sends complete MIME messages through Microsoft Graph
// (POST /v1.0/users/{sender}/sendMail), for Microsoft 365 tenants where
// SMTP AUTH is switched off.
//
// The message is posted as Graph's MIME format requires: the RFC 5322
// message, base64-encoded (RFC 4648 section 4, no line breaks), as a body
// with Content-Type text/plain. Graph keeps the MIME as it is, so an S/MIME
// signature made before the send still verifies; recipients are taken from
// the To, Cc and Bcc header fields of the message (Graph removes Bcc before
// delivery), and the message is saved to the sender's Sent Items (the MIME
// format has no saveToSentItems switch). A successful send is 202 Accepted
// with an empty body; Graph reports delivery failures later, by a
// non-delivery report to the sender mailbox, never in the reply.
//
// Authentication is an OAuth 2.0 access token (RFC 6750 Bearer) from a
// TokenSource, normally an app-only token of the client-credentials flow
// for the scope https://graph.microsoft.com/.default (or the national
// cloud's own host), with the Mail.Send application permission. This
// package does not acquire tokens itself.
//
// National clouds have their own endpoints; see Cloud. Throttling (429) and
// service unavailability (503) are retried as Graph asks, honouring
// Retry-After (RFC 9110 section 10.2.3); a 504 is not resent (the message
// may have gone out) but is a temporary error. Every failure is an *Error with a
// Class the smtpcheck exit codes follow and, for known failures, a Hint.
//
// Out of scope: the JSON message format, drafts and upload sessions for
// messages above the sendMail request limit (about 4 MB), delegated (/me)
// sends, and token acquisition.
package graph
