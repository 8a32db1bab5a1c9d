package mailwarden

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"mailwarden/audit"
	"mailwarden/authmech"
	"mailwarden/authmech/gssapi"
	"mailwarden/firewall"
	"mailwarden/graph"
	"mailwarden/oauth"
	"mailwarden/transport"
)

func refused(op string) error {
	return &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// proxyFailure is a relay dial that failed at the proxy, as the transport
// reports it.
func proxyFailure(pe *firewall.ProxyError) error {
	return &transport.Error{Stage: transport.StageDial, Server: "relay.example.com:25", Err: pe}
}

// TestClassifyEveryLayer: one classification for SMTP, Graph, OAuth,
// proxy, Kerberos and audit failures (the CLI's exit codes and JSON and the
// outbox's retry decision read it).
func TestClassifyEveryLayer(t *testing.T) {
	auditErr := &AuditError{Before: true, Err: errors.New("syslog: connection refused")}
	for _, c := range []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, ClassNone},
		{"config", &ConfigError{Field: "tls", Err: errors.New("x")}, ClassUsage},
		{"dial-refused", &transport.Error{Stage: transport.StageDial, Err: refused("dial")}, ClassConnection},
		{"tls-certificate", &transport.Error{Stage: transport.StageTLS, Err: errors.New("x509: certificate has expired")}, ClassTLS},
		{"starttls-refused", &transport.Error{Stage: transport.StageSTARTTLS, Code: 554, Message: "no TLS"}, ClassTLS},
		{"535", &transport.Error{Stage: transport.StageAuth, Code: 535}, ClassAuth},
		{"plaintext-refused", &transport.Error{Stage: transport.StageAuth, Err: authmech.ErrPlaintextRefused}, ClassAuth},
		{"550", &transport.Error{Stage: transport.StageRcpt, Code: 550}, ClassRejected},
		{"451", &transport.Error{Stage: transport.StageRcpt, Code: 451}, ClassTemporary},
		{"address", &transport.AddressError{Address: "a\r\nb", Reason: "CR"}, ClassUsage},
		{"graph-403", &graph.Error{Status: 403}, ClassAuth},
		{"graph-429", &graph.Error{Status: 429}, ClassTemporary},
		{"graph-400", &graph.Error{Status: 400}, ClassRejected},
		{"graph-recipients", fmt.Errorf("%w: x", ErrGraphRecipients), ClassUsage},
		{"oauth-refused", &oauth.Error{Op: "client_credentials", Status: 401, Code: "invalid_client"}, ClassAuth},
		{"oauth-unreachable", &oauth.Error{Op: "client_credentials", Err: refused("dial")}, ClassConnection},
		{"oauth-cache", &oauth.CacheError{Path: "c", Err: oauth.ErrCacheUnreadable}, ClassUsage},
		{"kerberos", &gssapi.Error{Op: "ccache", Msg: "loading /tmp/x: no such file"}, ClassAuth},
		{"proxy-refused", proxyFailure(&firewall.ProxyError{Op: firewall.OpDial, Err: refused("dial")}), ClassConnection},
		{"audit", auditErr, ClassAudit},
		{"550-and-audit", errors.Join(&transport.Error{Stage: transport.StageData, Code: 550}, &AuditError{Err: errors.New("x")}), ClassRejected},
	} {
		if got := Classify(c.err); got != c.want {
			t.Errorf("%s: Classify = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestHintEveryFailureClass: every failure class an administrator meets
// has a hint, and the hint names the option that applies.
func TestHintEveryFailureClass(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string // in the hint
	}{
		{"kerberos-no-ccache", &ConfigError{Field: "auth.mechanism", Err: &gssapi.Error{Op: "ccache", Msg: "loading /tmp/krb5cc_1000: open /tmp/krb5cc_1000: no such file or directory"}}, "kinit"},
		{"kerberos-no-principal", &ConfigError{Field: "auth.mechanism", Err: errors.New("authmech/gssapi: GSSAPI needs a user principal, or a credential cache")}, "principal"},
		{"kerberos-spn-unknown", &transport.Error{Stage: transport.StageAuth, Err: &gssapi.Error{Op: "ticket", Msg: "service ticket for smtp/relay: [Root cause: KDC_Error] KRB Error: (7) KDC_ERR_S_PRINCIPAL_UNKNOWN Server not found in Kerberos database"}}, "--spn"},
		{"kerberos-clock-skew", &transport.Error{Stage: transport.StageAuth, Err: &gssapi.Error{Op: "login", Msg: "KRB Error: (37) KRB_AP_ERR_SKEW Clock skew too great"}}, "clock"},
		{"proxy-refused", proxyFailure(&firewall.ProxyError{Proxy: "socks5://127.0.0.1:1", Op: firewall.OpDial, Err: refused("dial")}), "proxy"},
		{"proxy-auth", proxyFailure(&firewall.ProxyError{Protocol: firewall.ProtoSOCKS5, Op: firewall.OpAuth, Code: 1, Msg: "SOCKS5 authentication failed"}), "--proxy-user"},
		{"proxy-407", proxyFailure(&firewall.ProxyError{Protocol: firewall.ProtoHTTP, Op: firewall.OpConnect, Code: 407}), "407"},
		{"proxy-403", proxyFailure(&firewall.ProxyError{Protocol: firewall.ProtoHTTP, Op: firewall.OpConnect, Code: 403}), "403"},
		{"plaintext-auth", &transport.Error{Stage: transport.StageAuth, Err: authmech.ErrPlaintextRefused}, "--allow-plaintext-auth"},
		{"dovecot-530", &transport.Error{Stage: transport.StageMail, Code: 530, Enhanced: transport.EnhancedCode{5, 7, 0}, Message: "Authentication required."}, "--user"},
		{"454-auth", &transport.Error{Stage: transport.StageAuth, Code: 454, Enhanced: transport.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure"}, "authentication back end"},
		{"454-starttls", &transport.Error{Stage: transport.StageSTARTTLS, Code: 454, Enhanced: transport.EnhancedCode{4, 7, 0}, Message: "TLS not available due to local problem"}, "cannot start TLS"},
		{"audit-syslog-down", &AuditError{Before: true, Err: &audit.SinkError{Sink: "syslog", Err: refused("dial")}}, "--audit-fail-open"},
		{"audit", &AuditError{Before: true, Err: errors.New("disk full")}, "fail-closed"},
		{"graph", &graph.Error{Status: 403, Code: "ErrorAccessDenied"}, "Mail.Send"},
		{"smtp-535", &transport.Error{Stage: transport.StageAuth, Code: 535}, "credentials"},
	} {
		if got := Hint(c.err); !strings.Contains(got, c.want) {
			t.Errorf("%s: Hint = %q, want it to mention %q", c.name, got, c.want)
		}
	}
}

// TestRefusedProxyPortHasNoSMTPPortHint: a refused connection to the proxy
// got the relay's hint ("check ... the TLS mode (465 implicit, 587
// STARTTLS, 25 relay)"), sending the administrator to the wrong setting.
func TestRefusedProxyPortHasNoSMTPPortHint(t *testing.T) {
	err := proxyFailure(&firewall.ProxyError{Proxy: "socks5://127.0.0.1:1", Protocol: firewall.ProtoSOCKS5, Op: firewall.OpDial, Err: refused("dial")})
	h := Hint(err)
	if strings.Contains(h, "465") || !strings.Contains(h, "proxy") {
		t.Errorf("hint %q", h)
	}
	if got := Explain(err).Stage; got != "proxy.dial" {
		t.Errorf("stage %q, want proxy.dial", got)
	}
}

// TestAuditErrorReportsAcceptedMessage: the seam for the outbox's "the
// relay accepted it, only the record failed" rule: the error says the
// message went out, and still matches ErrAuditFailed.
func TestAuditErrorReportsAcceptedMessage(t *testing.T) {
	err := errors.Join(nil, &AuditError{Result: &Result{QueueID: "4XyZ"}, Err: errors.New("broken pipe")})
	var ae *AuditError
	if !errors.Is(err, ErrAuditFailed) || !errors.As(err, &ae) || !ae.Accepted() {
		t.Fatalf("%v", err)
	}
	if !strings.Contains(err.Error(), "the message was sent") {
		t.Errorf("message %q", err)
	}
	if !retryable(&AuditError{Before: true, Err: errors.New("x")}) || retryable(context.Canceled) {
		t.Error("retry decision")
	}
}
