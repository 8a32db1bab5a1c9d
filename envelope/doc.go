// Package envelope builds the Internet message (RFC 5322, MIME RFC 2045-2049)
// that an alert or report e-mail is, and streams it to an io.Writer.
//
// A Message is a plain, documented struct: From, Organization, Sender,
// Reply-To, To, Cc, Bcc, Subject, Date, Message-ID, a text body, an HTML body
// (sent as multipart/alternative with the text), inline parts with a
// Content-ID (multipart/related) and attachments (multipart/mixed) read
// from an io.Reader, Priority/Importance/Sensitivity, read and return
// receipts (RFC 8098 Disposition-Notification-To, Return-Receipt-To) and an
// ordered list of custom header fields.
//
// Message.WriteTo validates the whole message first and writes nothing when
// it is invalid; then it streams: attachments are copied from their readers
// through a base64 encoder in small blocks, so the memory a write needs
// (under 100 KB) does not grow with the size of the attachments. Every line
// ends in CRLF, no line exceeds 998 octets and no field can carry a CR or LF
// from its input. Bcc never appears in the header; Message.Envelope returns
// the SMTP reverse-path, every recipient including Bcc, and whether SMTPUTF8
// (RFC 6531) is needed.
//
// Message.Wrap lets S/MIME (or any other MIME security wrapper) take over
// the body: the top-level header fields go to the destination, then the
// inner entity (its Content-* fields, a blank line and the body) is written
// into the io.WriteCloser Wrap returns, which writes the outer entity.
//
// Date, Message-ID and MIME boundaries come from Message.Clock and
// Message.Rand when set, so output can be made reproducible.
//
// It builds on github.com/emersion/go-message (textproto multipart writer)
// and package headers; long or non-ASCII file names are written as RFC 2231
// parameter continuations. Out of scope: sending (package transport),
// signing and encryption (package smime), reading messages, and charsets
// other than UTF-8.
package envelope
