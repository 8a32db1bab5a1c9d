package graph

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Local errors, wrapped in an *Error (as its Err) where they happen.
var (
	// ErrInvalidSender reports a sender that cannot be put in the request
	// path: empty, or with a control character, '/', '?', '#', '\\' or '%'.
	ErrInvalidSender = errors.New("graph: invalid sender mailbox")
	// ErrToken reports that the TokenSource gave no token.
	ErrToken = errors.New("graph: no access token")
	// ErrMessageTooLarge reports a message whose request body would exceed
	// Client.MaxRequestSize; nothing was sent.
	ErrMessageTooLarge = errors.New("graph: message exceeds the sendMail request size limit")
	// ErrBadConfig reports an unusable Client.
	ErrBadConfig = errors.New("graph: invalid configuration")
	// ErrUnexpectedStatus reports a success status other than 202 Accepted.
	ErrUnexpectedStatus = errors.New("graph: unexpected response status")
)

// An Error is a failed Graph request: a refusal by Graph (Status != 0,
// with the code and message of its error JSON) or a local, network or
// token failure (Status == 0, Err set). Every error SendMail and Check
// return is an *Error.
type Error struct {
	Op              string // "sendMail" or "check"
	Status          int    // HTTP status, 0 when no response
	Code            string // Graph error code, e.g. "ErrorAccessDenied"
	Message         string // Graph's error message or a description
	RequestID       string // request-id (response header or innerError)
	ClientRequestID string // client-request-id this client sent
	// RetryAfter is how long Graph asked to wait (429, 503), zero when it
	// did not say.
	RetryAfter time.Duration
	Attempts   int   // requests made, retries included
	Err        error // the cause, for errors.Is/As; nil for plain refusals
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("graph: ")
	if e.Op != "" {
		b.WriteString(e.Op + ": ")
	}
	if e.Status != 0 {
		b.WriteString(strconv.Itoa(e.Status))
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		if e.Message != "" {
			b.WriteString(": " + oneLine(e.Message))
		}
		if e.Err != nil {
			b.WriteString(": " + e.Err.Error())
		}
	} else {
		switch {
		case e.Message != "" && e.Err != nil:
			b.WriteString(e.Message + ": " + e.Err.Error())
		case e.Err != nil:
			b.WriteString(e.Err.Error())
		default:
			b.WriteString(e.Message)
		}
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after " + e.RetryAfter.String() + ")")
	}
	if e.RequestID != "" {
		b.WriteString(" (request-id " + e.RequestID + ")")
	}
	return b.String()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether trying again later may succeed: 429, any 5xx,
// a network failure or timeout, or a token failure that is itself
// temporary.
func (e *Error) Temporary() bool {
	if e.Status != 0 {
		return e.Status == 429 || e.Status >= 500
	}
	if e.Err == nil || errors.Is(e.Err, context.Canceled) {
		return false
	}
	if errors.Is(e.Err, ErrInvalidSender) || errors.Is(e.Err, ErrMessageTooLarge) || errors.Is(e.Err, ErrBadConfig) {
		return false
	}
	var t interface{ Temporary() bool }
	if errors.Is(e.Err, ErrToken) {
		return errors.As(e.Err, &t) && t.Temporary()
	}
	var ne net.Error
	if errors.As(e.Err, &ne) && ne.Timeout() || errors.Is(e.Err, context.DeadlineExceeded) {
		return true
	}
	var oe *net.OpError
	return errors.As(e.Err, &oe) && !isDNSNotFound(e.Err)
}

// Class groups errors by what the operator has to fix. The values mean what
// transport.Class's do, and smtpcheck maps both to the same exit codes.
type Class int

// Classes.
const (
	ClassNone       Class = iota // no error
	ClassConnection              // connect, DNS, proxy, TLS, timeout, malformed reply
	ClassAuth                    // token missing or refused, permission denied
	ClassRejected                // a permanent refusal of the message (4xx other than 401, 403, 429)
	ClassTemporary               // 429 throttling or a 5xx
	ClassUsage                   // bad configuration or arguments (sender, size)
)

// String returns the class name ("connection", "auth", ...), as
// transport.Class does.
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

// Class classifies e: 401 and 403 (and a token failure) are ClassAuth; 429
// and 5xx ClassTemporary; 413 and other 4xx ClassRejected, as is a message
// refused locally for its size; an invalid sender or configuration is
// ClassUsage; every failure without a response is ClassConnection.
func (e *Error) Class() Class {
	switch {
	case e.Status == 401 || e.Status == 403:
		return ClassAuth
	case e.Status == 429 || e.Status >= 500:
		return ClassTemporary
	case e.Status >= 400:
		return ClassRejected
	case e.Status != 0:
		return ClassConnection // an unexpected non-error status
	case errors.Is(e.Err, ErrInvalidSender), errors.Is(e.Err, ErrBadConfig):
		return ClassUsage
	case errors.Is(e.Err, ErrMessageTooLarge):
		return ClassRejected
	case errors.Is(e.Err, ErrToken):
		return ClassAuth
	}
	return ClassConnection
}

// Classify returns the Class of err: ClassNone for nil, the Class of the
// *Error it wraps, and ClassConnection for anything else.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class()
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

func codeIs(e *Error, codes ...string) bool {
	for _, c := range codes {
		if strings.EqualFold(e.Code, c) {
			return true
		}
	}
	return false
}

func has(s, sub string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(sub)) }

// hints is the table of known failures, most specific first. Each row has a
// test in errors_test.go.
var hints = []hintRule{
	{"wrong-cloud-audience", func(e *Error) bool {
		return e.Status == 401 && (has(e.Message, "audience") || has(e.Message, "issuer")) && has(e.Message, "invalid")
	}, "the token was issued for another service or cloud: request it for the scope of this endpoint (e.g. https://graph.microsoft.us/.default for usgov) from that cloud's login host, and check the configured cloud"},
	{"invalid-token", func(e *Error) bool {
		return e.Status == 401 && (codeIs(e, "InvalidAuthenticationToken") || e.Code == "")
	}, "Graph rejected the access token: request an app-only token with the client-credentials flow for the scope https://graph.microsoft.com/.default (not https://outlook.office365.com/.default, which is for SMTP/IMAP), and check that it has not expired"},
	{"send-as-denied", func(e *Error) bool { return codeIs(e, "ErrorSendAsDenied") || has(e.Message, "SendAsDenied") },
		"the sender mailbox may not send as the message's From address: send from the mailbox's own address (graph sender = From), or grant the mailbox Send As permission on the From address"},
	{"access-denied", func(e *Error) bool {
		return e.Status == 403 || codeIs(e, "ErrorAccessDenied", "Authorization_RequestDenied")
	}, "the app may not send as this mailbox: grant it the Mail.Send application permission with admin consent, and check any Exchange application access policy (New-ApplicationAccessPolicy) that restricts which mailboxes it may use"},
	{"mailbox-not-rest-enabled", func(e *Error) bool { return codeIs(e, "MailboxNotEnabledForRESTAPI", "MailboxNotSupportedForRESTAPI") },
		"the sender mailbox cannot be used through Graph: it is on-premises, inactive, soft-deleted or has no Exchange Online licence; use a licensed cloud mailbox (or a shared mailbox)"},
	{"sender-not-found", func(e *Error) bool {
		return e.Status == 404 || codeIs(e, "ErrorInvalidUser", "ResourceNotFound", "Request_ResourceNotFound")
	}, "the sender mailbox does not exist in this tenant and cloud: check the sender (UPN or primary SMTP address), the tenant of the token and the configured cloud endpoint"},
	{"invalid-mime", func(e *Error) bool {
		return e.Status == 400 && (codeIs(e, "ErrorMimeContentInvalidBase64String", "ErrorMimeContentConversionFailed", "ErrorMimeContentInvalid") || has(e.Code, "mime") || has(e.Message, "mime"))
	}, "Graph could not read the message as base64 MIME: send a complete RFC 5322 message (CRLF line ends) and check that nothing altered the request body on the way (proxies)"},
	{"too-large", func(e *Error) bool {
		return e.Status == 413 || errors.Is(e.Err, ErrMessageTooLarge) || codeIs(e, "ErrorMessageSizeExceeded", "RequestBodyTooLarge") ||
			(e.Status == 400 && has(e.Message, "maximum request length"))
	}, "the message is too large for sendMail (about 4 MB per request, after base64 encoding, so about 3 MB of MIME): send smaller attachments or a link, or send this message by SMTP"},
	{"throttled", func(e *Error) bool { return e.Status == 429 || codeIs(e, "ApplicationThrottled", "TooManyRequests") },
		"Graph is throttling this app or mailbox (429; Exchange allows about 30 messages a minute and 10,000 recipients a day per mailbox): send more slowly, or retry after the time Graph gave"},
	{"unavailable", func(e *Error) bool { return e.Status == 503 || e.Status == 504 || e.Status == 502 },
		"Graph is temporarily unavailable: try again later"},
	{"unexpected-success", func(e *Error) bool { return e.Status == 200 || e.Status == 201 },
		"Graph answered with a success status other than 202 Accepted, which it has been reported to do for MIME messages it then did not send (around 2 MB and larger): check the sender's Sent Items, and send smaller messages"},
	{"invalid-sender", func(e *Error) bool { return errors.Is(e.Err, ErrInvalidSender) },
		"give the sender as the mailbox's user principal name or SMTP address, e.g. alerts@contoso.com"},
	{"unknown-authority", func(e *Error) bool {
		var ua x509.UnknownAuthorityError
		return errors.As(e.Err, &ua) || (e.Err != nil && has(e.Err.Error(), "certificate signed by unknown authority"))
	}, "the endpoint's certificate is not signed by a trusted CA: a TLS-inspecting proxy may be in the way; add its CA with the CA file option (--ca)"},
	{"dns", func(e *Error) bool { return isDNSNotFound(e.Err) },
		"the Graph host name does not resolve: check the cloud or endpoint setting and this machine's DNS or proxy"},
	{"refused", func(e *Error) bool { return errors.Is(e.Err, syscall.ECONNREFUSED) },
		"nothing is listening at the endpoint (connection refused): check the endpoint URL, the proxy and any firewall for outbound HTTPS (443)"},
	{"timeout", func(e *Error) bool {
		var ne net.Error
		return errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, os.ErrDeadlineExceeded) || (errors.As(e.Err, &ne) && ne.Timeout())
	}, "Graph did not answer in time: check outbound HTTPS (443) through the firewall and proxy, and the timeout"},
}

// apiError is Graph's error JSON:
// {"error":{"code":...,"message":...,"innerError":{"request-id":...,"date":...}}}.
type apiError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
			Date            string `json:"date"`
		} `json:"innerError"`
	} `json:"error"`
}
