package mailwarden

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"mailwarden/audit"
	"mailwarden/authmech"
	"mailwarden/authmech/gssapi"
	"mailwarden/authmech/system"
	"mailwarden/firewall"
	"mailwarden/graph"
	"mailwarden/oauth"
	"mailwarden/transport"
)

// A Class groups failures by what the operator has to fix. Classify gives
// the class of any error a Sender, an Outbox or OAuthToken returns, for
// SMTP and Graph alike; smtpcheck maps it to its exit codes and the outbox
// to its retry decision.
type Class int

// Classes.
const (
	ClassNone       Class = iota // no error
	ClassConnection              // connect, DNS, proxy, timeout, a server that broke the protocol
	ClassTLS                     // TLS handshake or certificate verification (relay, proxy or endpoint)
	ClassAuth                    // authentication refused or impossible: SMTP AUTH, Kerberos, OAuth token, Graph 401/403
	ClassRejected                // a permanent refusal of the message (SMTP 5xx, Graph 4xx)
	ClassTemporary               // a temporary refusal (SMTP 4xx, Graph 429/5xx)
	ClassUsage                   // bad configuration or arguments
	ClassAudit                   // the fail-closed audit trail could not record the send
)

var classNames = [...]string{"none", "connection", "tls", "auth", "rejected", "temporary", "usage", "audit"}

// String returns the class name as the JSON output of smtpcheck shows it.
func (c Class) String() string {
	if c >= 0 && int(c) < len(classNames) {
		return classNames[c]
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Classify returns the class of err; ClassNone for nil. When a relay or
// Graph answered, its answer decides, even if the audit trail failed too
// (a 550 stays a rejection). An error Classify does not know is
// ClassConnection.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var cfg *ConfigError
	var cache *oauth.CacheError
	if errors.As(err, &cfg) || errors.As(err, &cache) || errors.Is(err, ErrGraphRecipients) {
		return ClassUsage
	}
	var ge *graph.Error
	if errors.As(err, &ge) {
		c := fromGraph(ge.Class())
		if c == ClassConnection && isTLS(ge) {
			return ClassTLS
		}
		return c
	}
	var te *transport.Error
	if errors.As(err, &te) {
		c := fromTransport(transport.Classify(err))
		if c == ClassConnection && (te.Stage == transport.StageTLS || te.Stage == transport.StageSTARTTLS || isTLS(te)) {
			return ClassTLS
		}
		return c
	}
	var oe *oauth.Error
	if errors.As(err, &oe) {
		// The identity provider answered (a refusal), or could not be reached.
		if oe.Code != "" || oe.LoginRequired() || oe.Status/100 == 4 {
			return ClassAuth
		}
		return ClassConnection
	}
	if errors.Is(err, ErrAuditFailed) {
		return ClassAudit
	}
	var ke *gssapi.Error
	var se *system.Error
	if errors.As(err, &ke) || errors.As(err, &se) {
		return ClassAuth
	}
	if isTLS(err) {
		return ClassTLS
	}
	return fromTransport(transport.Classify(err))
}

func fromTransport(c transport.Class) Class {
	switch c {
	case transport.ClassNone:
		return ClassNone
	case transport.ClassAuth:
		return ClassAuth
	case transport.ClassRejected:
		return ClassRejected
	case transport.ClassTemporary:
		return ClassTemporary
	case transport.ClassUsage:
		return ClassUsage
	}
	return ClassConnection
}

func fromGraph(c graph.Class) Class {
	switch c {
	case graph.ClassNone:
		return ClassNone
	case graph.ClassAuth:
		return ClassAuth
	case graph.ClassRejected:
		return ClassRejected
	case graph.ClassTemporary:
		return ClassTemporary
	case graph.ClassUsage:
		return ClassUsage
	}
	return ClassConnection
}

// isTLS reports whether err comes from a TLS handshake or a certificate
// that does not verify.
func isTLS(err error) bool {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var hn x509.HostnameError
	var cv *tls.CertificateVerificationError
	var ae tls.AlertError
	var rh tls.RecordHeaderError
	var pe *firewall.ProxyError
	return errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &hn) || errors.As(err, &cv) ||
		errors.As(err, &ae) || errors.As(err, &rh) || (errors.As(err, &pe) && pe.Op == firewall.OpTLS)
}

// retryable is the outbox's retry decision: a failure the administrator
// or the network fixes without changing the message is retried until the
// entry's maximum age. That is every class but a rejection and a usage
// error, except that a failure Classify does not recognise keeps its own
// Temporary, and a cancelled send is never retried.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	switch Classify(err) {
	case ClassTLS, ClassAuth, ClassTemporary, ClassAudit:
		return true
	case ClassConnection:
		return recognised(err)
	}
	return false
}

// recognised reports whether err is one of the typed failures of a path
// to a relay, an endpoint or an identity provider.
func recognised(err error) bool {
	var te *transport.Error
	var ge *graph.Error
	var oe *oauth.Error
	var pe *firewall.ProxyError
	return errors.As(err, &te) || errors.As(err, &ge) || errors.As(err, &oe) || errors.As(err, &pe)
}

// An AuditError is the failure of a fail-closed audit trail to record a
// send or a probe; it matches ErrAuditFailed.
type AuditError struct {
	// Before is true when the trail failed before anything was sent.
	Before bool
	// Result is the send's result when a relay (or Graph) had accepted the
	// message before the trail failed to record it; nil otherwise.
	Result *Result
	Err    error
}

// Accepted reports whether a relay had accepted the message before the
// trail failed: it was sent, and sending it again would deliver it twice.
// The outbox honours it (see outbox.Accepted): such an entry is kept as
// delivered and only its record is retried.
func (e *AuditError) Accepted() bool { return e.Result != nil }

func (e *AuditError) Error() string {
	switch {
	case e.Before:
		return fmt.Sprintf("%v: %v", ErrAuditFailed, e.Err)
	case e.Accepted():
		return fmt.Sprintf("%v (the message was sent): %v", ErrAuditFailed, e.Err)
	default:
		return fmt.Sprintf("%v (the message may have been sent): %v", ErrAuditFailed, e.Err)
	}
}

// Is matches ErrAuditFailed.
func (e *AuditError) Is(target error) bool { return target == ErrAuditFailed }

// Unwrap returns the trail's error.
func (e *AuditError) Unwrap() error { return e.Err }

// An Explanation is what an operator and a program reading JSON need to
// know about a failure: its class and hint, and the server's own words.
type Explanation struct {
	Class     Class
	Hint      string
	Stage     string // the SMTP stage ("auth", "rcpt", ...), "graph.sendMail", "oauth", "proxy.auth", ...
	Code      int    // the SMTP reply code or the HTTP status, 0 when none
	Enhanced  string // the RFC 3463 enhanced status code, "" when none
	Temporary bool   // the server said to try again later
	GraphCode string // Graph's error code
	RequestID string // Graph's request-id
}

// Explain returns the class, hint and server reply of err; the zero
// Explanation for nil.
func Explain(err error) Explanation {
	if err == nil {
		return Explanation{}
	}
	x := Explanation{Class: Classify(err), Hint: Hint(err)}
	var ge *graph.Error
	var te *transport.Error
	var oe *oauth.Error
	var pe *firewall.ProxyError
	switch {
	case errors.As(err, &ge):
		x.Stage, x.Code, x.Temporary, x.GraphCode, x.RequestID = "graph."+ge.Op, ge.Status, ge.Temporary(), ge.Code, ge.RequestID
	case errors.As(err, &te):
		x.Stage, x.Code, x.Temporary = string(te.Stage), te.Code, te.Temporary()
		if !te.Enhanced.IsZero() {
			x.Enhanced = te.Enhanced.String()
		}
		if errors.As(err, &pe) {
			x.Stage = "proxy." + pe.Op
		}
	case errors.As(err, &oe):
		x.Stage = "oauth"
	case errors.As(err, &pe):
		x.Stage = "proxy." + pe.Op
	}
	return x
}

// Hint returns advice for the operator about err, "" when there is none.
// It knows the failures of every layer: relays, proxies, TLS, SASL,
// Kerberos, OAuth, Graph and the audit trail.
func Hint(err error) string {
	if err == nil {
		return ""
	}
	for _, r := range hintRules {
		if r.match(err) {
			return r.hint
		}
	}
	var ge *graph.Error
	if errors.As(err, &ge) {
		return ge.Hint()
	}
	var se *system.Error
	if errors.As(err, &se) {
		if h := se.Hint(); h != "" {
			return h
		}
	}
	var te *transport.Error
	if errors.As(err, &te) {
		if h := te.Hint(); h != "" {
			return h
		}
	}
	var oe *oauth.Error
	if errors.As(err, &oe) && oe.Hint != "" {
		return oe.Hint
	}
	for _, r := range fallbackHints {
		if r.match(err) {
			return r.hint
		}
	}
	return ""
}

type hintRule struct {
	name  string
	match func(error) bool
	hint  string
}

func has(s, sub string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(sub)) }

// proxyErr returns the proxy failure in err's chain, or nil.
func proxyErr(err error) *firewall.ProxyError {
	var pe *firewall.ProxyError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// smtpReply returns the relay's refusal in err's chain, or nil.
func smtpReply(err error) *transport.Error {
	var te *transport.Error
	if errors.As(err, &te) && te.Code != 0 {
		return te
	}
	return nil
}

// kerberos returns the Kerberos failure in err's chain, or nil.
func kerberos(err error) *gssapi.Error {
	var ke *gssapi.Error
	if errors.As(err, &ke) {
		return ke
	}
	return nil
}

// auditSyslog reports whether err is a failure of the syslog audit sink,
// when it was written to or when it was opened.
func auditSyslog(err error) bool {
	var se *audit.SinkError
	var ce *ConfigError
	return (errors.As(err, &se) && se.Sink == "syslog") ||
		(errors.As(err, &ce) && strings.HasPrefix(ce.Field, "audit") && has(err.Error(), "syslog"))
}

// hintRules come before the leaf packages' own hints: they know what a
// leaf cannot (the option that applies, a proxy in front of the relay).
// Most specific first; each row has a case in classify_test.go.
var hintRules = []hintRule{
	{"proxy-refused", func(err error) bool {
		pe := proxyErr(err)
		return pe != nil && pe.Op == firewall.OpDial && errors.Is(pe.Err, syscall.ECONNREFUSED)
	}, "nothing is listening at the proxy's address (connection refused): check the proxy host and port (--proxy, proxy.url or proxy.host/port) and that the proxy runs; the relay itself was not reached"},
	{"proxy-auth-refused", func(err error) bool {
		pe := proxyErr(err)
		return pe != nil && (pe.Op == firewall.OpAuth || pe.Op == firewall.OpNegotiate) && pe.Code != 407
	}, "the proxy refused the credentials or wants ones it was not given: check the proxy user and password (--proxy-user/--proxy-password-file, proxy.user/proxy.password)"},
	{"proxy-407", func(err error) bool {
		pe := proxyErr(err)
		return pe != nil && pe.Code == 407
	}, "the HTTP proxy wants authentication (407): give the proxy user and password (--proxy-user/--proxy-password-file, proxy.user/proxy.password, or user:password in the proxy URL)"},
	{"proxy-403", func(err error) bool {
		pe := proxyErr(err)
		return pe != nil && pe.Protocol == firewall.ProtoHTTP && pe.Code == 403
	}, "the HTTP proxy forbids a tunnel to this host and port (403): many proxies allow CONNECT to port 443 only (Squid's SSL_ports); ask its administrator to allow the relay's port, or use a SOCKS proxy"},
	{"proxy-unknown-authority", func(err error) bool {
		pe := proxyErr(err)
		var ua x509.UnknownAuthorityError
		return pe != nil && pe.Op == firewall.OpTLS && (errors.As(pe, &ua) || has(pe.Error(), "unknown authority"))
	}, "the HTTPS proxy's certificate is not signed by a trusted CA: add the CA that issued it with --ca (ca_file), which is trusted for the proxy as for the relay"},
	{"proxy-connect-refused", func(err error) bool {
		pe := proxyErr(err)
		return pe != nil && pe.Op == firewall.OpConnect
	}, "the proxy could not open a connection to the relay: check the relay's host and port as the proxy sees them (DNS and firewall rules on the proxy's side)"},
	{"plaintext-auth-refused", func(err error) bool { return errors.Is(err, authmech.ErrPlaintextRefused) },
		"the connection is not encrypted, and this mechanism (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER or NTLM) would send a reusable secret in clear: use TLS (--tls explicit, or implicit on port 465), or, only on a network you trust, allow it with --allow-plaintext-auth (auth.allow_plaintext)"},
	{"kerberos-no-ccache", func(err error) bool {
		ke := kerberos(err)
		return ke != nil && ke.Op == "ccache"
	}, "no Kerberos credential cache could be read: run kinit as this user (or set KRB5CCNAME / --ccache to the cache file), or use a keytab (--keytab, auth.keytab)"},
	{"kerberos-no-principal", func(err error) bool {
		if has(err.Error(), "GSSAPI needs a user principal") {
			return true
		}
		ke := kerberos(err)
		return ke != nil && has(ke.Msg, "principal") && (has(ke.Msg, "no principal") || has(ke.Msg, "missing") || has(ke.Msg, "keytab")) &&
			!has(ke.Msg, "PRINCIPAL_UNKNOWN")
	}, "Kerberos has no client principal to log in as: give the user (--user, auth.username, user@REALM) matching an entry of the keytab, or a credential cache that holds a ticket (kinit)"},
	{"kerberos-spn-unknown", func(err error) bool {
		ke := kerberos(err)
		return ke != nil && has(ke.Msg, "S_PRINCIPAL_UNKNOWN")
	}, "the KDC does not know the relay's service principal (KDC_ERR_S_PRINCIPAL_UNKNOWN): set --spn (auth.spn) to the name the relay is registered under, e.g. smtp/mail.example.com (connect by that host name, not an IP address or alias)"},
	{"kerberos-client-unknown", func(err error) bool {
		ke := kerberos(err)
		return ke != nil && has(ke.Msg, "C_PRINCIPAL_UNKNOWN")
	}, "the KDC does not know this user (KDC_ERR_C_PRINCIPAL_UNKNOWN): check the user name and realm (user@REALM, in upper case)"},
	{"kerberos-clock-skew", func(err error) bool {
		ke := kerberos(err)
		return ke != nil && (has(ke.Msg, "SKEW") || has(ke.Msg, "clock"))
	}, "this machine's clock differs from the KDC's by more than Kerberos allows (usually 5 minutes): synchronise the clock (NTP)"},
	{"kerberos-kdc-unreachable", func(err error) bool {
		ke := kerberos(err)
		return ke != nil && ke.Op == "login" && (has(ke.Msg, "connection refused") || has(ke.Msg, "no KDC") || has(ke.Msg, "timeout") || has(ke.Msg, "networking"))
	}, "the KDC could not be reached: check the realm's kdc entries in krb5.conf (--krb5-conf, auth.krb5_conf), DNS and the firewall (port 88)"},
	{"kerberos-preauth", func(err error) bool {
		ke := kerberos(err)
		return ke != nil && (has(ke.Msg, "PREAUTH_FAILED") || has(ke.Msg, "KEY_EXPIRED") || has(ke.Msg, "integrity"))
	}, "the KDC refused the password or key: check the password or regenerate the keytab (kvno may have changed)"},
	{"dovecot-530-5.7.0", func(err error) bool {
		te := smtpReply(err)
		return te != nil && te.Code == 530 && te.Enhanced == transport.EnhancedCode{5, 7, 0} && !has(te.Message, "STARTTLS")
	}, "the server accepts mail only after authentication (530 5.7.0): configure a user and password (--user/--password-file, auth.username/auth.password); the mechanism defaults to auto"},
	{"454-4.7.0-starttls", func(err error) bool {
		te := smtpReply(err)
		return te != nil && te.Code == 454 && te.Stage == transport.StageSTARTTLS
	}, "the server offered STARTTLS but cannot start TLS now (454 4.7.0: a problem on the server, such as an unreadable certificate): tell its administrator, or try later"},
	{"454-4.7.0-auth", func(err error) bool {
		te := smtpReply(err)
		return te != nil && te.Code == 454
	}, "the server could not check the credentials right now (454 4.7.0: its authentication back end, e.g. saslauthd, LDAP or the KDC, is down): try later, or tell its administrator"},
	{"audit-syslog-down", func(err error) bool {
		return auditSyslog(err) && errors.Is(err, syscall.ECONNREFUSED)
	}, "the syslog server refused the connection: check --syslog (audit.syslog) and that the server runs; --audit-fail-open (audit.fail_open) sends anyway and reports the gap"},
	{"audit-syslog-ca", func(err error) bool {
		var ua x509.UnknownAuthorityError
		return auditSyslog(err) && (errors.As(err, &ua) || has(err.Error(), "unknown authority"))
	}, "the syslog server's certificate is not signed by a trusted CA: add the CA that issued it with --ca (ca_file), which is trusted for the syslog server as for the relay"},
}

// fallbackHints apply when no leaf package had a hint.
var fallbackHints = []hintRule{
	{"audit", func(err error) bool { return errors.Is(err, ErrAuditFailed) },
		"the audit trail could not record this send, so it was refused (fail-closed): check the audit file's disk and permissions and the syslog server; --audit-fail-open (audit.fail_open) sends anyway"},
	{"graph-recipients", func(err error) bool { return errors.Is(err, ErrGraphRecipients) },
		"Graph sends to the recipients in the message header: name every envelope recipient in To, Cc or Bcc"},
	{"oauth-cache", func(err error) bool { var c *oauth.CacheError; return errors.As(err, &c) },
		"the token cache cannot be used: check its path, permissions and key (--token-cache, --token-cache-key-file), or log in again with 'smtpcheck oauth login'"},
}

// Summary returns err's text on one line for an operator, without the
// prefixes the layers repeat: "mailwarden: " and a package prefix right
// after a field of the same name ("smime.sign_cert: smime: open ..."
// becomes "smime.sign_cert: open ..."). Line breaks become " / ".
func Summary(err error) string {
	if err == nil {
		return ""
	}
	segs := strings.Split(strings.ReplaceAll(strings.ReplaceAll(err.Error(), "\r\n", " / "), "\n", " / "), ": ")
	out := segs[:0]
	for _, seg := range segs {
		if seg == "mailwarden" {
			continue
		}
		if n := len(out); n > 0 && !strings.ContainsAny(seg, " /") && seg != "" && samePackage(out[n-1], seg) {
			continue
		}
		out = append(out, seg)
	}
	return strings.Join(out, ": ")
}

// samePackage reports whether prefix (a package name such as "smime") is
// what the field before it ("smime.sign_cert") already says.
func samePackage(field, prefix string) bool {
	return strings.HasPrefix(field, prefix+".") || strings.HasPrefix(field, prefix+"/") || field == prefix
}
