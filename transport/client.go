package transport

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"mailwarden/transport/internal/wire"
)

// ConnInfo describes a session as established: what a probe prints.
type ConnInfo struct {
	Server     string  // the host the session was opened for (the certificate name)
	Address    Address // as given to Dial
	Addr       string  // host:port dialled
	RemoteAddr string  // the socket's remote address (a proxy's, when one is used)
	LocalAddr  string
	Proxy      string // proxy URL without credentials, "" when direct or unknown

	Mode     TLSMode // the mode in effect (never TLSDefault)
	StartTLS bool    // STARTTLS was used (explicit, or auto when offered)
	// TLS is the TLS state, nil for plaintext sessions.
	TLS *tls.ConnectionState
	// InsecureSkipVerify is true when the certificate was not verified.
	InsecureSkipVerify bool

	Greeting Reply // the 220 greeting
	// Extensions maps each EHLO keyword (upper-case) to its parameters,
	// from the last EHLO (after TLS when TLS was negotiated). Nil after a
	// HELO fallback.
	Extensions map[string]string
	// EHLOLines are the last EHLO reply's lines after the first: the
	// capabilities as the server wrote them.
	EHLOLines []string
	// HELO is true when the server refused EHLO and HELO was used.
	HELO bool
	// AuthMechanisms lists the AUTH mechanisms from the last EHLO.
	AuthMechanisms []string
	// AuthMechanism and AuthUser describe a successful AUTH ("" without;
	// AuthUser only when the authmech.Client has a User() string method).
	AuthMechanism string
	AuthUser      string
	// Steps lists each step with its duration, in order.
	Steps []Step
}

// TLSModeUsed returns the TLS actually used, as the audit trail names it:
// "implicit", "starttls" or "none".
func (ci *ConnInfo) TLSModeUsed() string {
	switch {
	case ci.TLS != nil && ci.StartTLS:
		return "starttls"
	case ci.TLS != nil:
		return "implicit"
	}
	return "none"
}

// Extension reports whether the server advertised the EHLO keyword ext
// (case-insensitive) in the last EHLO, and its parameters.
func (ci *ConnInfo) Extension(ext string) (bool, string) {
	if ci == nil || ci.Extensions == nil {
		return false, ""
	}
	p, ok := ci.Extensions[upper(ext)]
	return ok, p
}

// A Step is one timed step of a session.
type Step struct {
	Name     string // "dial", "tls", "greeting", "ehlo", "starttls", "auth", "quit"
	Duration time.Duration
	Detail   string // e.g. the reply ("250 ..."), the TLS version, or the error
}

// A Client is one SMTP session. Its methods are safe for concurrent use
// but serialised: one command sequence at a time. After an error that
// leaves the protocol state unknown (a timeout, a malformed reply, a closed
// connection, a 421) the Client is broken and every later call fails with
// ErrBusy; Close it.
type Client struct {
	cfg    *Config // normalised copy
	addr   Address
	server string // host:port dialled
	log    *slog.Logger

	mu   sync.Mutex // serialises command sequences
	wc   *wire.Conn
	info ConnInfo
	// tlsGroup is tlsAttr's last result, and tlsFor what it was built
	// from: every send logs it, and the fingerprint is a hash.
	tlsGroup slog.Attr
	tlsFor   tlsKey
	ext      map[string]string
	broken   error
	needRset bool
	rbuf     []byte    // read buffer for message bodies, reused
	cbuf     chunkBuf  // BDAT chunk buffer, reused
	chunk    chunker   // the message being read into BDAT chunks
	body     wire.Body // the body encoder of the message being sent
	lines    []string  // reply lines, reused by readReply
	watch    ctxWatch  // interrupts I/O when the context is done
	txn      txn       // Send's transaction, reused
	lastMail string    // the last MAIL line, reused when the next is equal
	prog     *meter    // Config.Progress's meter during a send, else nil

	closeOnce sync.Once
	conn      net.Conn // the raw connection, closed by Close
	closed    atomic.Bool
	traceMu   sync.Mutex
}

var _ io.Closer = (*Client)(nil)

// Dial connects to addr and runs the session's opening: dial through
// cfg.Dialer, implicit TLS or the greeting, EHLO (HELO when EHLO is
// refused with 5xx), STARTTLS and EHLO again when the mode asks for it,
// and AUTH when cfg.Auth or cfg.NewAuth is set. A nil cfg is the zero
// Config. Errors are *Error (errors.As) with the stage that failed, or
// argument errors (ErrBadConfig, ErrBadAddress); see Classify.
func Dial(ctx context.Context, addr Address, cfg *Config) (*Client, error) {
	return dial(ctx, addr, cfg, true)
}

// NewClient runs the session's opening over conn, a connection already
// made to addr (the TLS mode and the certificate name come from addr and
// cfg). The Client owns conn from then on, also when NewClient fails.
func NewClient(ctx context.Context, conn net.Conn, addr Address, cfg *Config) (*Client, error) {
	return newClient(ctx, conn, addr, cfg, time.Now(), true)
}

// Probe runs the opening of a session, including AUTH when cfg.Auth or
// cfg.NewAuth is set (so "Test connection" proves the credentials too),
// says QUIT and returns what it learned. On failure it returns the
// information gathered up to the failing step together with the error, so
// a diagnostic tool can print both. It logs one EventProbe record.
func Probe(ctx context.Context, addr Address, cfg *Config) (ConnInfo, error) {
	return probe(ctx, addr, cfg)
}

// Info returns a copy of the session's connection information.
func (c *Client) Info() ConnInfo { return c.infoCopy() }

// Send sends one message: MAIL, RCPT for each recipient, then the body
// read from msg, using BDAT when the server offers CHUNKING and otherwise
// DATA with dot-stuffing. Either way bare CR and bare LF in msg become
// CRLF first, so no content can end the message early or smuggle a
// second one, and a missing final CRLF is added. Commands are pipelined
// when the server offers PIPELINING: MAIL, every RCPT and DATA (or the
// first BDAT chunk) go in one flight when there is one recipient or
// Config.Recipients is AcceptedRecipients; otherwise DATA waits for the
// RCPT replies, so that AllRecipients can abandon the transaction before
// any data is sent.
//
// The addresses are checked first (*AddressError). When some recipients
// are refused, Config.Recipients decides whether the rest get the message.
// On return the session is ready for the next message. The *Result is
// non-nil whenever a transaction was started, also on error: it lists
// each recipient's reply. Errors are *Error; see Classify.
func (c *Client) Send(ctx context.Context, env Envelope, msg io.Reader) (*Result, error) {
	return c.send(ctx, env, msg)
}

// Reset sends RSET, abandoning any transaction.
func (c *Client) Reset(ctx context.Context) error { return c.reset(ctx) }

// Noop sends NOOP; Relay uses it to check an idle session.
func (c *Client) Noop(ctx context.Context) error { return c.noop(ctx) }

// Quit sends QUIT, reads the reply and closes the connection. The
// connection is closed even when QUIT fails.
func (c *Client) Quit(ctx context.Context) error { return c.quit(ctx) }

// Close closes the connection without QUIT. It is safe to call more than
// once and concurrently with other methods, which it interrupts.
func (c *Client) Close() error { return c.close() }

// A Result describes one message's transaction.
type Result struct {
	Server     string       // host:port
	Recipients []RcptResult // in envelope order
	Reply      Reply        // the final reply after the body (zero if not reached)
	QueueID    string       // parsed from Reply.Text when the server names one
	Size       int64        // body bytes sent, after line-ending normalisation
	Pipelined  bool         // MAIL and every RCPT went in one flight, with DATA or the first BDAT when the recipient policy allows (see Send)
	UsedBDAT   bool         // the body went in BDAT chunks (CHUNKING)
	DSN        bool         // DSN parameters were sent
	TLS        string       // the session's TLS: "none", "starttls" or "implicit" (ConnInfo.TLSModeUsed)
	Attempts   int          // sessions tried (Relay); 1 for a Client
	Duration   time.Duration
}

// Accepted returns the recipients the server accepted.
func (r *Result) Accepted() []string {
	var out []string
	for _, rr := range r.Recipients {
		if rr.Accepted() {
			out = append(out, rr.Addr)
		}
	}
	return out
}

// A RcptResult is the server's answer to one RCPT.
type RcptResult struct {
	Addr  string
	Reply Reply
}

// Accepted reports whether the server accepted the recipient (2xx).
func (r RcptResult) Accepted() bool { return r.Reply.Code >= 200 && r.Reply.Code < 300 }
