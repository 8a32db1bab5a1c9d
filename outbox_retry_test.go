package mailwarden

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"mailwarden/graph"
	"mailwarden/oauth"
	"mailwarden/outbox"
	"mailwarden/transport"
)

// TestDeliveryErrorClassification: what the outbox makes of a Sender's
// failure. A relay's 5xx stays permanent even when the audit trail failed
// too (it was made temporary and retried for a day); a trail failure
// alone, connection-class failures (TLS) and authentication failures (a
// rotated password must not dead-letter the queue) are retried.
func TestDeliveryErrorClassification(t *testing.T) {
	auditErr := fmt.Errorf("%w: %w", ErrAuditFailed, errors.New("syslog: connection refused"))
	afterSend := fmt.Errorf("%w (the message may have been sent): %w", ErrAuditFailed, errors.New("syslog: broken pipe"))
	rejected := &transport.Error{Stage: transport.StageData, Code: 550, Enhanced: transport.EnhancedCode{5, 7, 1}, Message: "policy"}
	deferred := &transport.Error{Stage: transport.StageRcpt, Code: 451, Message: "greylisted"}
	tlsFail := &transport.Error{Stage: transport.StageTLS, Server: "127.0.0.1:25", Err: errors.New("tls: failed to verify certificate: x509: certificate has expired")}
	authFail := &transport.Error{Stage: transport.StageAuth, Code: 535, Message: "bad credentials"}
	cancelled := &transport.Error{Stage: transport.StageData, Err: context.Canceled}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"audit-before-send", auditErr, true},
		{"550-and-audit-after", errors.Join(rejected, afterSend), false},
		{"451-and-audit-after", errors.Join(deferred, afterSend), true},
		{"550", rejected, false},
		{"451", deferred, true},
		{"tls-certificate", tlsFail, true},
		{"tls-and-audit-after", errors.Join(tlsFail, afterSend), true},
		{"535", authFail, true},
		{"535-and-audit-after", errors.Join(authFail, afterSend), true},
		{"graph-401", &graph.Error{Status: 401, Code: "InvalidAuthenticationToken"}, true},
		{"graph-403", &graph.Error{Status: 403, Code: "ErrorAccessDenied"}, true},
		{"graph-400", &graph.Error{Status: 400, Code: "ErrorMimeContentInvalidBase64String"}, false},
		{"token-endpoint", &oauth.Error{Op: "client_credentials", Status: 401, Code: "invalid_client"}, true},
		{"cancelled", cancelled, false},
		{"250-then-audit-failed", &AuditError{Result: &Result{QueueID: "4XyZ"}, Err: errors.New("syslog: broken pipe")}, false},
	} {
		got := deliveryError(c.err)
		if outbox.Temporary(got) != c.want {
			t.Errorf("%s: Temporary(%v) = %v, want %v", c.name, got, !c.want, c.want)
		}
		if want := c.name == "250-then-audit-failed"; outbox.Accepted(got) != want {
			t.Errorf("%s: outbox.Accepted(%v) = %v, want %v", c.name, got, !want, want)
		}
		if !errors.Is(got, c.err) {
			t.Errorf("%s: the cause is lost: %v", c.name, got)
		}
	}
}
