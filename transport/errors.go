package transport

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"mailwarden/authmech"
)

// Stage names the step of a session where an error happened.
type Stage string

// Stages.
const (
	StageDial     Stage = "dial"
	StageTLS      Stage = "tls"
	StageGreeting Stage = "greeting"
	StageEHLO     Stage = "ehlo"
	StageSTARTTLS Stage = "starttls"
	StageAuth     Stage = "auth"
	StageMail     Stage = "mail"
	StageRcpt     Stage = "rcpt"
	StageData     Stage = "data"
	StageReset    Stage = "rset"
	StageQuit     Stage = "quit"
)

// EnhancedCode is an RFC 3463 enhanced status code class.subject.detail;
// the zero value means the server sent none.
type EnhancedCode [3]int

// IsZero reports whether the server sent no enhanced code.
func (e EnhancedCode) IsZero() bool { return e == EnhancedCode{} }

// String returns "x.y.z", or "" for the zero value.
func (e EnhancedCode) String() string {
	if e.IsZero() {
		return ""
	}
	if uint(e[0]) < 10 && uint(e[1]) < 10 && uint(e[2]) < 10 {
		// One digit each, as nearly every reply has: a slice of a table
		// instead of a new string per call.
		i := 5 * (e[0]*100 + e[1]*10 + e[2])
		return enhancedDigits()[i : i+5]
	}
	return strconv.Itoa(e[0]) + "." + strconv.Itoa(e[1]) + "." + strconv.Itoa(e[2])
}

// enhancedDigits is "0.0.0" to "9.9.9", five bytes each, made on first use.
var enhancedDigits = sync.OnceValue(func() string {
	b := make([]byte, 0, 5000)
	for i := range 1000 {
		b = append(b, byte('0'+i/100), '.', byte('0'+i/10%10), '.', byte('0'+i%10))
	}
	return string(b)
})

// ParseEnhancedCode parses "x.y.z" (class 2, 4 or 5; subject 0-999; detail
// 0-999, RFC 3463 section 2).
func ParseEnhancedCode(s string) (EnhancedCode, error) {
	e, ok := parseEnhanced(s)
	if !ok {
		return EnhancedCode{}, fmt.Errorf("transport: malformed enhanced status code %q", s)
	}
	return e, nil
}

// parseEnhanced is ParseEnhancedCode without the error value: it scans s
// once and allocates nothing.
func parseEnhanced(s string) (EnhancedCode, bool) {
	var e EnhancedCode
	part, digits := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if digits == 0 || part == 2 {
				return EnhancedCode{}, false
			}
			part++
			digits = 0
			continue
		}
		if c < '0' || c > '9' {
			return EnhancedCode{}, false
		}
		digits++
		if digits > 3 || (part == 0 && digits > 1) {
			return EnhancedCode{}, false
		}
		e[part] = e[part]*10 + int(c-'0')
	}
	if part != 2 || digits == 0 {
		return EnhancedCode{}, false
	}
	if e[0] != 2 && e[0] != 4 && e[0] != 5 {
		return EnhancedCode{}, false
	}
	return e, true
}

// A Reply is one SMTP reply.
type Reply struct {
	Code     int
	Enhanced EnhancedCode // zero when the server sent none
	// Text is the reply's text with the code, the enhanced code and the
	// separators removed, lines joined with "\n".
	Text string
}

// String returns the reply as "250 2.0.0 text" on one line.
func (r Reply) String() string {
	s := strconv.Itoa(r.Code)
	if !r.Enhanced.IsZero() {
		s += " " + r.Enhanced.String()
	}
	if r.Text != "" {
		s += " " + strings.ReplaceAll(r.Text, "\n", " / ")
	}
	return s
}

// An Error is a failed session step: a refusal by the server (Code != 0)
// or a local or network failure (Code == 0, Err set). Every error the
// Client and Relay return is, or wraps, an *Error, except for argument
// errors such as *AddressError and context errors before any I/O.
type Error struct {
	Stage    Stage
	Server   string       // the address as dialled, host:port
	Code     int          // reply code, 0 when none
	Enhanced EnhancedCode // RFC 3463 code, zero when none
	Message  string       // the server's text (lines joined with "\n") or a description
	Command  string       // the command that failed, AUTH payloads removed
	Err      error        // the cause, for errors.Is/As; nil for plain refusals
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("transport: ")
	b.WriteString(string(e.Stage))
	if e.Server != "" {
		b.WriteString(" " + e.Server)
	}
	b.WriteString(": ")
	if e.Code != 0 {
		b.WriteString(Reply{Code: e.Code, Enhanced: e.Enhanced, Text: e.Message}.String())
		if e.Err != nil {
			b.WriteString(": " + e.Err.Error())
		}
		return b.String()
	}
	switch {
	case e.Message != "" && e.Err != nil:
		b.WriteString(e.Message + ": " + e.Err.Error())
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether trying again later (or with another server)
// may succeed: a 4xx reply, or a network failure or timeout.
func (e *Error) Temporary() bool {
	if e.Code != 0 {
		return e.Code >= 400 && e.Code < 500
	}
	if e.Err == nil {
		return false
	}
	if errors.Is(e.Err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(e.Err, &ne) && ne.Timeout() {
		return true
	}
	if errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, ErrConnectionClosed) {
		return true
	}
	return e.Stage == StageDial && !isDNSNotFound(e.Err)
}

// Is matches e against a sentinel *Error: the target's non-zero Code,
// Enhanced and Stage must all equal e's. So errors.Is(err, ErrServiceClosing)
// is true for any 421 the server sent.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t == nil {
		return false
	}
	if t.Code == 0 && t.Enhanced.IsZero() && t.Stage == "" {
		return false
	}
	return (t.Code == 0 || t.Code == e.Code) &&
		(t.Enhanced.IsZero() || t.Enhanced == e.Enhanced) &&
		(t.Stage == "" || t.Stage == e.Stage)
}

// Sentinels for errors.Is on server replies.
var (
	ErrServiceClosing     = &Error{Code: 421}                                  // 421: the server is closing the connection
	ErrAuthFailed         = &Error{Code: 535}                                  // 535: authentication credentials invalid
	ErrAuthRequired       = &Error{Code: 530}                                  // 530: authentication (or STARTTLS) required
	ErrMailboxUnavailable = &Error{Code: 550}                                  // 550: mailbox unavailable / policy refusal
	ErrRelayDenied        = &Error{Code: 550, Enhanced: EnhancedCode{5, 7, 1}} // 550 5.7.1
	ErrMessageTooBig      = &Error{Code: 552}                                  // 552: exceeded storage allocation
)

// Local errors, wrapped in an *Error with the stage where they happened.
var (
	ErrSTARTTLSNotOffered      = errors.New("transport: server does not offer STARTTLS and TLS mode is explicit")
	ErrResponseInjection       = errors.New("transport: server sent data after its reply before the client spoke (response injection)")
	ErrReplyTooLong            = errors.New("transport: reply exceeds the size limit")
	ErrMalformedReply          = errors.New("transport: malformed reply")
	ErrConnectionClosed        = errors.New("transport: connection closed by the server")
	ErrSizeExceeded            = errors.New("transport: message exceeds the server's SIZE limit")
	ErrSMTPUTF8NotSupported    = errors.New("transport: message needs SMTPUTF8, which the server does not offer")
	Err8BitMIMENotSupported    = errors.New("transport: message has 8-bit data and the server offers neither 8BITMIME nor BINARYMIME")
	ErrDSNNotSupported         = errors.New("transport: DSN requested as required and the server does not offer it")
	ErrAuthNotOffered          = errors.New("transport: server offers no AUTH on this connection")
	ErrRecipientsRefused       = errors.New("transport: recipients refused")
	ErrNoRecipients            = errors.New("transport: envelope has no recipients")
	ErrBadConfig               = errors.New("transport: invalid configuration")
	ErrClientClosed            = errors.New("transport: client is closed")
	ErrBusy                    = errors.New("transport: a transaction is in progress or the session is broken")
	ErrInsecureSkipVerifyInUse = errors.New("transport: certificate verification is disabled") // reported, not returned
)

// An AddressError is an envelope address refused before it reached the
// wire: it could have injected commands or parameters.
type AddressError struct {
	Address string // quoted with %q when printed
	Reason  string
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("transport: invalid envelope address %q: %s", e.Address, e.Reason)
}

// A RecipientsError lists the recipients the server refused (all of them,
// or some under AllRecipients). It is the Err of an *Error at StageRcpt and
// matches ErrRecipientsRefused.
type RecipientsError struct {
	Refused []RcptResult
}

func (e *RecipientsError) Error() string {
	if len(e.Refused) == 1 {
		return "transport: recipient <" + e.Refused[0].Addr + "> refused"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "transport: %d recipient(s) refused", len(e.Refused))
	for _, r := range e.Refused {
		fmt.Fprintf(&b, "; <%s>: %s", r.Addr, r.Reply)
	}
	return b.String()
}

// Is matches ErrRecipientsRefused.
func (e *RecipientsError) Is(target error) bool { return target == ErrRecipientsRefused }

// Class groups errors by what the operator has to fix; the CLI maps it to
// exit codes.
type Class int

const (
	ClassNone       Class = iota // no error
	ClassConnection              // connect, DNS, proxy, TLS, timeout, protocol violation by the server
	ClassAuth                    // authentication refused or impossible
	ClassRejected                // a permanent (5xx) refusal of the mail
	ClassTemporary               // a temporary (4xx) refusal
	ClassUsage                   // bad configuration or arguments (addresses, policy)
)

// String returns the class name.
func (c Class) String() string {
	switch c {
	case ClassNone:
		return "none"
	case ClassConnection:
		return "connection"
	case ClassAuth:
		return "auth"
	case ClassRejected:
		return "rejected"
	case ClassTemporary:
		return "temporary"
	case ClassUsage:
		return "usage"
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Classify maps an error to its Class. Any dial-stage failure (including a
// proxy's) and any TLS failure is ClassConnection; failures at StageAuth and
// the authmech errors are ClassAuth; server refusals are ClassRejected (5xx)
// or ClassTemporary (4xx), except that 530, 534, 535 and 538 at any stage
// are ClassAuth and a 5xx greeting or 5xx reply to STARTTLS is
// ClassConnection; a message this server cannot take (ErrSizeExceeded,
// ErrSMTPUTF8NotSupported, Err8BitMIMENotSupported, ErrDSNNotSupported) is
// ClassRejected; AddressError, ErrBadAddress, ErrBadConfig and ErrNoRecipients are
// ClassUsage. Other local errors (timeouts, closed connections, malformed
// replies, response injection) are ClassConnection.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var ae *AddressError
	if errors.As(err, &ae) || errors.Is(err, ErrBadAddress) || errors.Is(err, ErrNoRecipients) || errors.Is(err, ErrBadConfig) {
		return ClassUsage
	}
	if errors.Is(err, authmech.ErrPlaintextRefused) || errors.Is(err, authmech.ErrNotOffered) || errors.Is(err, ErrAuthNotOffered) {
		return ClassAuth
	}
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, ErrSizeExceeded) {
			return ClassRejected
		}
		return ClassConnection
	}
	if e.Code != 0 {
		if e.Code == 530 || e.Code == 535 || e.Code == 534 || e.Code == 538 || (e.Stage == StageAuth && e.Code >= 500) {
			return ClassAuth
		}
		// A relay that wants authentication before MAIL says so in
		// different ways: 530 5.7.0 (RFC 4954), go-smtp's "502 5.7.0
		// Please authenticate first", Exchange's 5.7.57 "Client not
		// authenticated to send mail".
		if e.Code >= 500 && (e.Enhanced == EnhancedCode{5, 7, 57} || (e.Enhanced == EnhancedCode{5, 7, 0} && has(e.Message, "authenticat"))) {
			return ClassAuth
		}
		if e.Stage == StageAuth && e.Code >= 400 && e.Code < 500 {
			return ClassTemporary
		}
		if e.Code >= 500 && (e.Stage == StageGreeting || e.Stage == StageSTARTTLS) {
			return ClassConnection // no service here, or no TLS: the connection failed
		}
		if e.Code >= 500 {
			return ClassRejected
		}
		if e.Code >= 400 {
			return ClassTemporary
		}
		return ClassConnection
	}
	switch {
	case errors.Is(e.Err, ErrSizeExceeded):
		return ClassRejected
	case errors.Is(e.Err, ErrSMTPUTF8NotSupported), errors.Is(e.Err, Err8BitMIMENotSupported), errors.Is(e.Err, ErrDSNNotSupported):
		return ClassRejected
	case e.Stage == StageAuth:
		return ClassAuth
	}
	return ClassConnection
}

func isDNSNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && (de.IsNotFound || strings.Contains(de.Err, "no such host"))
}

// Hint returns advice for the operator for known failures, "" otherwise.
func (e *Error) Hint() string {
	for _, h := range hints {
		if h.match(e) {
			return h.hint
		}
	}
	return ""
}

type hintRule struct {
	name  string
	match func(e *Error) bool
	hint  string
}

func has(s, sub string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(sub)) }

// hints is the table of known failures, most specific first. Each row has a
// test in errors_test.go.
var hints = []hintRule{
	{"exchange-online-smtp-auth-disabled", func(e *Error) bool {
		return e.Code == 535 && e.Enhanced == EnhancedCode{5, 7, 139} && has(e.Message, "SmtpClientAuthentication is disabled")
	}, "Authenticated SMTP (SMTP AUTH) is disabled for this mailbox or tenant in Exchange Online: enable it for the mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false) or use OAuth2 (XOAUTH2: auth.oauth with flow client_credentials for an Entra app, or authorization_code after 'smtpcheck oauth login'); where SMTP AUTH stays off, use the graph transport"},
	{"entra-security-defaults", func(e *Error) bool {
		return e.Code == 535 && e.Enhanced == EnhancedCode{5, 7, 139} && has(e.Message, "security defaults")
	}, "Microsoft Entra ID security defaults block basic SMTP AUTH: use OAuth2 (XOAUTH2: auth.oauth, see 'smtpcheck oauth login') or the graph transport, or have an administrator change the policy"},
	{"exchange-online-auth-5.7.139", func(e *Error) bool {
		return e.Code == 535 && e.Enhanced == EnhancedCode{5, 7, 139}
	}, "Exchange Online refused the authentication (5.7.139): check the account, MFA/conditional-access policies and whether SMTP AUTH is allowed; OAuth2 (XOAUTH2) avoids basic-auth policies"},
	{"starttls-first", func(e *Error) bool {
		return e.Code == 530 && (e.Enhanced == EnhancedCode{5, 7, 0}) && has(e.Message, "STARTTLS")
	}, "the server requires TLS before this command: use TLS mode explicit (STARTTLS) or implicit on port 465"},
	{"client-not-authenticated", func(e *Error) bool {
		return e.Enhanced == EnhancedCode{5, 7, 57}
	}, "the server requires authentication before accepting mail (5.7.57): configure credentials (and TLS) for this relay"},
	{"send-as-denied-storedrv", func(e *Error) bool {
		return e.Code == 554 && e.Enhanced == EnhancedCode{5, 2, 0} && has(e.Message, "SendAsDenied")
	}, "the authenticated account may not send as this From address (SendAsDeniedException): send from the account's own address or grant it Send As permission"},
	{"send-as-denied", func(e *Error) bool {
		return e.Enhanced == EnhancedCode{5, 7, 60} || has(e.Message, "SendAsDenied")
	}, "the authenticated account may not send as this From address (SendAsDenied): use the account's own address or grant it Send As permission"},
	{"relay-denied", func(e *Error) bool {
		return e.Code >= 550 && e.Code <= 554 && e.Enhanced == EnhancedCode{5, 7, 1} ||
			(e.Code >= 550 && e.Code <= 554 && (has(e.Message, "relay") && (has(e.Message, "denied") || has(e.Message, "not permitted") || has(e.Message, "access"))))
	}, "the server refused to relay for this sender or recipient: authenticate, send from an address or client IP the relay accepts, or ask its administrator to allow relaying"},
	{"auth-failed", func(e *Error) bool { return e.Code == 535 },
		"the server rejected the credentials: check the user name and password (or token), and whether the account may use SMTP AUTH"},
	{"service-closing", func(e *Error) bool { return e.Code == 421 },
		"the server is closing the connection (421: overloaded, rate limit, or shutting down): try again later or use another relay"},
	{"unknown-authority", func(e *Error) bool {
		var ua x509.UnknownAuthorityError
		return errors.As(e.Err, &ua) || (e.Err != nil && has(e.Err.Error(), "certificate signed by unknown authority"))
	}, "the server's certificate is not signed by a trusted CA: add the CA that issued it with the CA file option (--ca)"},
	{"expired-certificate", func(e *Error) bool {
		var ci x509.CertificateInvalidError
		return errors.As(e.Err, &ci) && ci.Reason == x509.Expired
	}, "the server's certificate has expired or is not yet valid: renew it on the server, or check this machine's clock"},
	{"wrong-host", func(e *Error) bool {
		var hn x509.HostnameError
		return errors.As(e.Err, &hn)
	}, "the server's certificate does not name the host you connected to: connect by a name the certificate lists, or fix the certificate"},
	{"dns", func(e *Error) bool { return isDNSNotFound(e.Err) },
		"the server's host name does not resolve: check the spelling and this machine's DNS"},
	{"refused", func(e *Error) bool { return errors.Is(e.Err, syscall.ECONNREFUSED) },
		"nothing is listening on that port (connection refused): check the host, the port and the TLS mode (465 implicit, 587 STARTTLS, 25 relay), and any firewall"},
	{"timeout", func(e *Error) bool {
		var ne net.Error
		return errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, os.ErrDeadlineExceeded) || (errors.As(e.Err, &ne) && ne.Timeout())
	}, "the server did not answer in time: check that the port is reachable (firewalls often drop port 25), the proxy settings, and the timeouts"},
	{"starttls-not-offered", func(e *Error) bool { return errors.Is(e.Err, ErrSTARTTLSNotOffered) },
		"the server does not offer STARTTLS: use implicit TLS if it listens for it (port 465), or TLS mode none only on a trusted network"},
	{"response-injection", func(e *Error) bool { return errors.Is(e.Err, ErrResponseInjection) },
		"the server (or something on the path) sent data before the client asked for it; this is how response-injection attacks work: do not use this path"},
}
