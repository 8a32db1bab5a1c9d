package graph

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func hintRow(e *Error) string {
	for _, h := range hints {
		if h.match(e) {
			return h.name
		}
	}
	return ""
}

// TestHints has one case per row of the hints table, and fails when a row
// has none.
func TestHints(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		row string
		err *Error
	}{
		{"wrong-cloud-audience", &Error{Status: 401, Code: "InvalidAuthenticationToken", Message: "Access token validation failure. Invalid audience."}},
		{"invalid-token", &Error{Status: 401, Code: "InvalidAuthenticationToken", Message: "Access token has expired or is not yet valid."}},
		{"access-denied", &Error{Status: 403, Code: "ErrorAccessDenied", Message: "Access is denied. Check credentials and try again."}},
		{"mailbox-not-rest-enabled", &Error{Status: 404, Code: "MailboxNotEnabledForRESTAPI", Message: "The mailbox is either inactive, soft-deleted, or is hosted on-premise."}},
		{"sender-not-found", &Error{Status: 404, Code: "ErrorInvalidUser", Message: "The requested user 'x@contoso.com' is invalid."}},
		{"send-as-denied", &Error{Status: 403, Code: "ErrorSendAsDenied", Message: "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account."}},
		{"invalid-mime", &Error{Status: 400, Code: "ErrorMimeContentInvalidBase64String", Message: "Invalid base64 string for MIME content."}},
		{"too-large", &Error{Status: 413, Code: "RequestBodyTooLarge"}},
		{"too-large", &Error{Status: 400, Code: "BadRequest", Message: "Maximum request length exceeded."}},
		{"unexpected-success", &Error{Status: 200, Err: ErrUnexpectedStatus}},
		{"throttled", &Error{Status: 429, Code: "ApplicationThrottled", RetryAfter: 10 * time.Second}},
		{"unavailable", &Error{Status: 503, Code: "ServiceNotAvailable"}},
		{"invalid-sender", &Error{Err: fmt.Errorf("%w: empty", ErrInvalidSender)}},
		{"unknown-authority", &Error{Err: &x509.UnknownAuthorityError{}}},
		{"dns", &Error{Err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "graph.microsoft.invalid", IsNotFound: true}}}},
		{"refused", &Error{Err: dial}},
		{"timeout", &Error{Err: context.DeadlineExceeded}},
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		if got := hintRow(tc.err); got != tc.row {
			t.Errorf("%s: matched row %q", tc.row, got)
		}
		if tc.err.Hint() == "" {
			t.Errorf("%s: empty hint", tc.row)
		}
		covered[tc.row] = true
	}
	for _, h := range hints {
		if !covered[h.name] {
			t.Errorf("hint row %q has no test", h.name)
		}
	}
	if h := (&Error{Status: 418}).Hint(); h != "" {
		t.Errorf("unknown failure got hint %q", h)
	}
}

func TestClassAndTemporary(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		err       *Error
		class     Class
		temporary bool
	}{
		{&Error{Status: 401}, ClassAuth, false},
		{&Error{Status: 403}, ClassAuth, false},
		{&Error{Status: 400}, ClassRejected, false},
		{&Error{Status: 404}, ClassRejected, false},
		{&Error{Status: 413}, ClassRejected, false},
		{&Error{Status: 429}, ClassTemporary, true},
		{&Error{Status: 500}, ClassTemporary, true},
		{&Error{Status: 503}, ClassTemporary, true},
		{&Error{Status: 504}, ClassTemporary, true},
		{&Error{Status: 200, Err: ErrUnexpectedStatus}, ClassConnection, false},
		{&Error{Err: dial}, ClassConnection, true},
		{&Error{Err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", IsNotFound: true}}}, ClassConnection, false},
		{&Error{Err: context.DeadlineExceeded}, ClassConnection, true},
		{&Error{Err: context.Canceled}, ClassConnection, false},
		{&Error{Err: ErrInvalidSender}, ClassUsage, false},
		{&Error{Err: ErrBadConfig}, ClassUsage, false},
		{&Error{Err: ErrMessageTooLarge}, ClassRejected, false},
		{&Error{Err: fmt.Errorf("%w: %w", ErrToken, errors.New("invalid_client"))}, ClassAuth, false},
		{&Error{Err: fmt.Errorf("%w: %w", ErrToken, tempErr{})}, ClassAuth, true},
		{&Error{Err: &x509.UnknownAuthorityError{}}, ClassConnection, false},
	}
	for _, tc := range tests {
		if tc.err.Class() != tc.class || tc.err.Temporary() != tc.temporary {
			t.Errorf("%v: class %v temporary %v, want %v %v", tc.err, tc.err.Class(), tc.err.Temporary(), tc.class, tc.temporary)
		}
		wrapped := fmt.Errorf("mailwarden: send: %w", tc.err)
		if Classify(wrapped) != tc.class {
			t.Errorf("%v: Classify through a wrap = %v", tc.err, Classify(wrapped))
		}
	}
	if Classify(nil) != ClassNone || Classify(errors.New("other")) != ClassConnection {
		t.Error("Classify of nil or a foreign error")
	}
	for c, s := range map[Class]string{ClassNone: "none", ClassConnection: "connection", ClassAuth: "auth", ClassRejected: "rejected", ClassTemporary: "temporary", ClassUsage: "usage", Class(42): "Class(42)"} {
		if c.String() != s {
			t.Errorf("%d.String() = %q", int(c), c.String())
		}
	}
}

type tempErr struct{}

func (tempErr) Error() string   { return "token endpoint busy" }
func (tempErr) Temporary() bool { return true }

func TestErrorText(t *testing.T) {
	cause := errors.New("cause")
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Op: "sendMail", Status: 403, Code: "ErrorAccessDenied", Message: "Access is denied.\r\n Check.", RequestID: "r1"},
			"graph: sendMail: 403 ErrorAccessDenied: Access is denied. Check. (request-id r1)"},
		{&Error{Op: "sendMail", Status: 429, RetryAfter: 30 * time.Second}, "graph: sendMail: 429 (retry after 30s)"},
		{&Error{Op: "check", Message: "cannot read", Err: cause}, "graph: check: cannot read: cause"},
		{&Error{Err: cause}, "graph: cause"},
		{&Error{Status: 307, Err: cause}, "graph: 307: cause"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
		if tc.err.Err != nil && !errors.Is(tc.err, cause) {
			t.Errorf("%q does not unwrap", tc.err.Error())
		}
		if strings.ToLower(tc.want[:6]) != "graph:" {
			t.Errorf("not prefixed")
		}
	}
}
