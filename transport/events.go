package transport

import (
	"context"
	"log/slog"
	"time"
)

// Event messages: the transport logs one slog record per event to
// Config.Logger. The audit package turns them into audit entries.
const (
	EventConnect = "smtp.connect" // TCP (and implicit TLS) connection made, greeting read
	EventTLS     = "smtp.tls"     // TLS established (level Warn when verification is off)
	EventAuth    = "smtp.auth"    // AUTH attempted: mechanism, user, result
	EventRcpt    = "smtp.rcpt"    // one per recipient with the server's reply
	EventError   = "smtp.error"   // a failed step (level Error)
	EventSend    = "smtp.send"    // summary of one message
	EventProbe   = "smtp.probe"   // summary of a probe session (Probe)
)

// Attribute keys used in the events. Groups are marked; their members
// follow.
const (
	AttrServer       = "server"               // the relay as configured, host:port
	AttrAddr         = "addr"                 // the address connected to (the socket's remote address; a recipient's address inside rcpt/rcpts)
	AttrProxy        = "proxy"                // proxy URL without credentials; absent when direct
	AttrGreeting     = "greeting"             // the server's 220 text
	AttrTLS          = "tls"                  // group
	AttrTLSVersion   = "version"              //   e.g. "TLS 1.3"
	AttrTLSCipher    = "cipher"               //   cipher suite name
	AttrTLSPeer      = "peer_sha256"          //   hex SHA-256 of the leaf certificate (DER)
	AttrTLSMode      = "mode"                 //   TLS used: none, starttls, implicit (ConnInfo.TLSModeUsed)
	AttrTLSInsec     = "insecure_skip_verify" //   true when the certificate was not verified (level Warn)
	AttrAuth         = "auth"                 // group
	AttrAuthMech     = "mech"                 //   mechanism name
	AttrAuthUser     = "user"                 //   user name when the mechanism reports it
	AttrFrom         = "from"                 // reverse path
	AttrRcpts        = "rcpts"                // smtp.send: a list of RcptAttr {addr, code, enhanced, text}
	AttrRcpt         = "rcpt"                 // smtp.rcpt: one RcptAttr as a group
	AttrMessageID    = "message_id"
	AttrSize         = "size"      // bytes sent in the body
	AttrReply        = "reply"     // group: code, enhanced, text
	AttrCode         = "code"      //   reply code
	AttrEnhanced     = "enhanced"  //   enhanced status code, "" when none
	AttrText         = "text"      //   reply text
	AttrQueueID      = "queue_id"  // the server's queue id when its final reply names one
	AttrError        = "error"     // group: stage, code, enhanced, text, temporary
	AttrStage        = "stage"     //   Stage
	AttrTemporary    = "temporary" //   Error.Temporary
	AttrHint         = "hint"      //   Error.Hint when known
	AttrDuration     = "duration_ms"
	AttrCapabilities = "capabilities" // EHLO keywords after the last EHLO (smtp.probe)
	AttrPipelining   = "pipelining"
	AttrChunking     = "chunking"
)

// logAttrs is l.LogAttrs without looking up the caller: the records carry
// no source (the audit trail has none, and the caller would be this
// package, not the application), and a send does not pay for a stack walk
// per record.
func logAttrs(ctx context.Context, l *slog.Logger, level slog.Level, msg string, attrs ...slog.Attr) {
	if !l.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	_ = l.Handler().Handle(ctx, r) // as LogAttrs: a handler's error is dropped
}
