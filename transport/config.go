package transport

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"time"

	"mailwarden/authmech"
)

// A ContextDialer makes the TCP connection to the server. firewall's proxy
// dialers implement it; a *net.Dialer does too. If the dialer also has a
// method Proxy() string (the proxy as a URL without credentials, "" for
// direct), the transport reports it in ConnInfo and in its events.
type ContextDialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// RecipientPolicy decides what happens when the server refuses some but not
// all recipients.
type RecipientPolicy uint8

const (
	// AllRecipients (the zero value) sends nothing unless every recipient
	// is accepted: the transaction is reset and Send returns an error
	// listing the refused ones.
	AllRecipients RecipientPolicy = iota
	// AcceptedRecipients sends to the recipients the server accepted and
	// reports the refused ones in Result.Recipients; Send fails only when
	// none was accepted.
	AcceptedRecipients
)

// Default timeouts and limits, used where the Config field is zero.
const (
	DefaultDialTimeout    = 30 * time.Second
	DefaultCommandTimeout = 2 * time.Minute  // each command's reply
	DefaultDataTimeout    = 10 * time.Minute // the final reply after the body (RFC 5321 4.5.3.2.6)
	DefaultMaxReplyLine   = 4096             // bytes per reply line, CRLF included
	DefaultMaxReplySize   = 64 << 10         // bytes per whole (multi-line) reply
	DefaultChunkSize      = 1 << 20          // BDAT chunk size
)

// Config configures sessions. The zero Config is usable: explicit TLS
// (STARTTLS required, implicit on port 465) with the system roots, no AUTH,
// the host's name in EHLO and the default timeouts and limits. A Config
// must not be modified after it is passed to Dial, NewClient or NewRelay;
// the transport copies what it keeps, including the tls.Config.
type Config struct {
	// HeloName is the name sent in EHLO/HELO. Empty means this host's
	// fully qualified domain name (os.Hostname, or the resolver's
	// canonical name for it), else the address literal of the connection's
	// local address, e.g. "[192.0.2.1]" (RFC 5321 section 4.1.4), or
	// "localhost" through a proxy. It must be a domain name or an address
	// literal; anything else is refused with ErrBadConfig.
	HeloName string

	// TLS is the TLS mode for addresses whose own TLS is TLSDefault.
	TLS TLSMode

	// TLSConfig is cloned for every connection. Nil is the zero
	// tls.Config: system roots. ServerName defaults to the address's host
	// (never a proxy's), MinVersion is raised to TLS 1.2, and RootCAs and
	// Certificates (a client certificate) are used as given.
	TLSConfig *tls.Config

	// InsecureSkipVerify turns off certificate verification. It exists for
	// diagnosis only; every session that uses it says so in
	// ConnInfo.InsecureSkipVerify and logs a warning "smtp.tls" event.
	// InsecureSkipVerify set inside TLSConfig is honoured and reported the
	// same way.
	InsecureSkipVerify bool

	// Dialer makes the TCP connection; nil means a net.Dialer.
	Dialer ContextDialer

	// Auth authenticates the session after the last EHLO; nil means no
	// AUTH. An authmech.Client is good for one exchange, so Auth serves a
	// single Dial; a Relay (which opens many connections) needs NewAuth.
	// If the client has a method User() string, the user is reported in
	// ConnInfo and events.
	Auth authmech.Client

	// NewAuth, when not nil, is called once per connection for a fresh
	// authmech.Client and takes precedence over Auth.
	NewAuth func() (authmech.Client, error)

	// AllowPlaintextAuth lets mechanisms authenticate on a connection
	// without TLS (authmech.ServerInfo.AllowPlaintext): PLAIN and LOGIN
	// (the password itself), XOAUTH2 and OAUTHBEARER (a bearer token),
	// CRAM-MD5, SCRAM and NTLM (crackable offline from a recording) and
	// GSSAPI (no security layer). Off, each refuses with an
	// *authmech.PlaintextError that says why.
	AllowPlaintextAuth bool

	// DialTimeout bounds the TCP connect plus TLS handshake and greeting;
	// CommandTimeout bounds each command's write and reply; DataTimeout
	// bounds the body's transfer and the final reply. Zero means the
	// defaults above. The context's deadline applies as well: whichever is
	// earlier wins.
	DialTimeout    time.Duration
	CommandTimeout time.Duration
	DataTimeout    time.Duration

	// MaxReplyLine and MaxReplySize limit a reply line and a whole reply in
	// bytes; zero means the defaults. A longer reply ends the session with
	// ErrReplyTooLong.
	MaxReplyLine int
	MaxReplySize int

	// ChunkSize is the BDAT chunk size; zero means DefaultChunkSize. A
	// short end of the message (up to ChunkSize/16, at most 32 KiB) goes
	// in the last chunk rather than a chunk of its own.
	ChunkSize int

	// DisablePipelining, DisableChunking stop the client from using those
	// extensions even when offered (for diagnosis and benchmarks).
	DisablePipelining bool
	DisableChunking   bool

	// DSN is used for envelopes whose own DSN is nil.
	DSN *DSN

	// Recipients decides what to do when some recipients are refused.
	Recipients RecipientPolicy

	// Logger receives the events listed in events.go; nil discards them.
	Logger *slog.Logger

	// Scrub, when not nil, rewrites the text of every server reply line
	// before it is stored in a Reply or an error, logged or written to the
	// Transcript (SASL challenges excepted: the mechanism needs them, and
	// the transcript redacts them anyway). A sender passes one that removes
	// the session's secrets, in plain and encoded forms, so that a server
	// echoing the credentials in its 535 puts them nowhere.
	Scrub func(string) string
	// QuitAfter, for diagnosis, ends the opening of a session after the
	// step it names (see QuitAfter and Rehearse); empty runs it all. A
	// Client or Relay whose opening ended early cannot send.
	QuitAfter QuitAfter

	// Transcript, when not nil, receives the protocol conversation, one
	// line per command or reply line, prefixed "C: " or "S: ". AUTH
	// payloads (initial responses, challenges and responses) are replaced
	// by "[redacted]"; there is no way to turn that off. Message bodies are
	// summarised, not copied. Writes are serialised per session; a writer
	// shared by several sessions must be safe for concurrent use.
	Transcript io.Writer

	// Progress, when not nil, is called with the progress of each send
	// (see ProgressEvent): PhaseConnecting before a Relay opens a session,
	// PhaseTransferring with the bytes written (at most every 64 KiB or
	// 100 ms, the last one with Written == Total) and PhaseDone. It is
	// called on the sending goroutine and must return quickly; sends on
	// several sessions call it concurrently. Nil costs nothing: no
	// goroutine, no wrapper, no allocation.
	Progress func(ProgressEvent)
}

// DSNNotify is a value of the RCPT NOTIFY parameter (RFC 3461).
type DSNNotify string

// NOTIFY values.
const (
	NotifyNever   DSNNotify = "NEVER"
	NotifySuccess DSNNotify = "SUCCESS"
	NotifyFailure DSNNotify = "FAILURE"
	NotifyDelay   DSNNotify = "DELAY"
)

// DSNReturn is the MAIL RET parameter (RFC 3461).
type DSNReturn string

// RET values.
const (
	ReturnFull    DSNReturn = "FULL"
	ReturnHeaders DSNReturn = "HDRS"
)

// DSN asks for delivery status notifications. The parameters are sent only
// when the server offers DSN; otherwise they are left out and
// Result.DSN is false (set Require to fail instead).
type DSN struct {
	Notify  []DSNNotify // for every recipient; empty means the server's default
	Return  DSNReturn   // empty means the server's default
	EnvID   string      // ENVID, printable ASCII; xtext-encoded on the wire
	Require bool        // fail with ErrDSNNotSupported when DSN is not offered
}

// An Envelope is the SMTP envelope of one message.
type Envelope struct {
	// From is the reverse path (MAIL FROM); "" is the null reverse path <>.
	From string
	// To lists the forward paths (RCPT TO), at least one.
	To []string
	// SMTPUTF8 says the message needs SMTPUTF8 (internationalised
	// headers); non-ASCII envelope addresses set it implicitly. When the
	// server does not offer SMTPUTF8 the send fails before MAIL with
	// ErrSMTPUTF8NotSupported.
	SMTPUTF8 bool
	// EightBitMIME says the body contains 8-bit data: BODY=8BITMIME is
	// required and the send fails before MAIL with Err8BitMIMENotSupported
	// when the server does not offer it. When false, BODY=8BITMIME is
	// still declared whenever the server offers it; if it does not and an
	// 8-bit byte turns up in the body, the session is aborted before the
	// message is complete (nothing is delivered) with
	// Err8BitMIMENotSupported.
	EightBitMIME bool
	// Size is the message size in bytes if known: sent as the SIZE
	// parameter and checked against the server's SIZE limit before MAIL.
	// 0 means unknown. A hint only: the body is sent as read.
	Size int64
	// DSN overrides Config.DSN when not nil.
	DSN *DSN
	// MessageID is reported in events only (the transport never parses
	// the message).
	MessageID string
}
