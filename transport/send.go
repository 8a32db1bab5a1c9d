package transport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"mailwarden/transport/internal/wire"
)

func fingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// CheckAddress validates an envelope address (a mailbox without angle
// brackets) as Send does before anything reaches the wire of a server that
// does not announce SMTPUTF8. It refuses control characters (CR, LF, NUL,
// ...), spaces, angle brackets, backslashes, invalid UTF-8, and non-ASCII
// runes whose low byte is special in an SMTP command (CR, LF, NUL, space,
// '<', '>', ':', '='), which a component that truncates characters to bytes
// would turn into a line break or a parameter: U+0120 in "b\u0120NOTIFY=..."
// becomes " NOTIFY=...". When the server announces SMTPUTF8, Send accepts
// such runes, except those whose low byte is CR or LF. An empty address is
// valid only as the reverse path (from). It returns an *AddressError.
func CheckAddress(addr string, from bool) error { return checkAddress(addr, from, false) }

// lowByteSpecial reports whether a non-ASCII rune's low byte is special in
// an SMTP command line.
func lowByteSpecial(r rune) bool {
	switch r & 0xff {
	case 0, ' ', '<', '>', ':', '=':
		return true
	}
	return false
}

func checkAddress(addr string, from, smtputf8 bool) error {
	bad := func(why string) error { return &AddressError{Address: addr, Reason: why} }
	if addr == "" {
		if from {
			return nil
		}
		return bad("empty recipient")
	}
	if len(addr) > 256 {
		return bad("longer than 256 octets (RFC 5321 section 4.5.3.1.3)")
	}
	if !utf8.ValidString(addr) {
		return bad("invalid UTF-8")
	}
	for _, r := range addr {
		switch {
		case r < 0x20 || r == 0x7f:
			return bad(fmt.Sprintf("control character %U", r))
		case r == ' ' || r == '\t':
			return bad("space")
		case r == '<' || r == '>':
			return bad("angle bracket")
		case r == '\\':
			return bad("backslash")
		case r >= 0x80 && (r&0xff == '\r' || r&0xff == '\n'):
			return bad(fmt.Sprintf("character %U whose low byte is CR or LF", r))
		case r >= 0x80 && !smtputf8 && lowByteSpecial(r):
			return bad(fmt.Sprintf("character %U whose low byte is %q (allowed only when the server announces SMTPUTF8)", r, rune(r&0xff)))
		case r >= 0x80 && r <= 0x9f:
			return bad(fmt.Sprintf("control character %U", r))
		}
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		if !from && strings.EqualFold(addr, "postmaster") {
			return nil
		}
		return bad("no @domain")
	}
	local, domain := addr[:at], addr[at+1:]
	if local == "" || domain == "" {
		return bad("empty local part or domain")
	}
	if strings.HasPrefix(local, "\"") {
		if len(local) < 2 || !strings.HasSuffix(local, "\"") || strings.Count(local, "\"") != 2 {
			return bad("malformed quoted local part")
		}
	} else if strings.ContainsAny(local, "\"@,;:()[]") {
		return bad("special character in local part")
	}
	if strings.ContainsRune(local, '=') && strings.HasPrefix(local, "\"") {
		return bad("ESMTP parameter syntax in quoted local part")
	}
	if strings.HasPrefix(domain, "[") {
		if !strings.HasSuffix(domain, "]") {
			return bad("malformed address literal")
		}
		if err := checkHeloName(domain); err != nil {
			return bad("malformed address literal")
		}
		return nil
	}
	// The labels, by index: none may be empty, and each ASCII character
	// must be a letter, a digit, '-' or '_'.
	for rest := domain; ; {
		label := rest
		dot := strings.IndexByte(rest, '.')
		if dot >= 0 {
			label, rest = rest[:dot], rest[dot+1:]
		}
		if label == "" {
			return bad("empty label in domain")
		}
		for _, r := range label {
			if r < 0x80 && !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return bad(fmt.Sprintf("character %q not allowed in domain", r))
			}
		}
		if dot < 0 {
			return nil
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (d *DSN) check() error {
	for _, n := range d.Notify {
		switch n {
		case NotifyNever, NotifySuccess, NotifyFailure, NotifyDelay:
		default:
			return fmt.Errorf("%w: unknown DSN NOTIFY value %q", ErrBadConfig, string(n))
		}
	}
	if len(d.Notify) > 1 {
		for _, n := range d.Notify {
			if n == NotifyNever {
				return fmt.Errorf("%w: DSN NOTIFY=NEVER cannot be combined with other values", ErrBadConfig)
			}
		}
	}
	switch d.Return {
	case "", ReturnFull, ReturnHeaders:
	default:
		return fmt.Errorf("%w: unknown DSN RET value %q", ErrBadConfig, string(d.Return))
	}
	if len(d.EnvID) > 100 {
		return fmt.Errorf("%w: DSN ENVID longer than 100 characters", ErrBadConfig)
	}
	for i := 0; i < len(d.EnvID); i++ {
		if c := d.EnvID[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: DSN ENVID must be printable ASCII", ErrBadConfig)
		}
	}
	return nil
}

// xtext encodes s as RFC 3461 xtext.
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '+' || c == '=' {
			fmt.Fprintf(&b, "+%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ParseQueueID returns the queue id the server named in its final reply
// text, or "". It knows Postfix ("queued as X"), Exchange ("<id>
// [InternalId=...] Queued mail for delivery"), Exim ("OK id=X"),
// Sendmail ("X Message accepted for delivery"), qmail ("ok N qp X") and
// Gmail ("OK N X - gsmtp").
func ParseQueueID(text string) string {
	t := strings.TrimSpace(strings.ReplaceAll(text, "\n", " "))
	// The common Postfix case without lowering a copy of the text: for
	// ASCII text, lowering keeps every offset, so the first
	// case-insensitive match is where the search below would find it.
	if isASCII(t) {
		if i := indexFoldASCII(t, "queued as "); i >= 0 {
			return cleanQueueID(firstField(t[i+len("queued as "):]))
		}
	}
	return parseQueueIDSlow(t)
}

// indexFoldASCII is strings.Index(strings.ToLower(s), sub) for ASCII s
// and a lower-case ASCII sub, without the copy.
func indexFoldASCII(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return i
		}
	}
	return -1
}

// asciiLower returns s with A-Z lowered and every other byte kept.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// firstField is the first of strings.Fields(s), or "", without the slice.
func firstField(s string) string {
	start := -1
	for i, r := range s {
		if unicode.IsSpace(r) {
			if start >= 0 {
				return s[start:i]
			}
		} else if start < 0 {
			start = i
		}
	}
	if start < 0 {
		return ""
	}
	return s[start:]
}

// cleanQueueID trims the punctuation around a queue id and refuses one
// with spaces, controls or non-ASCII.
func cleanQueueID(s string) string {
	s = strings.Trim(s, "<>[]().,;:")
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return ""
		}
	}
	return s
}

func parseQueueIDSlow(t string) string {
	lt := strings.ToLower(t)
	if len(lt) != len(t) {
		// Lowering changed the length (U+0130, for one): the offsets
		// found in lt would not be offsets in t. Lower ASCII only.
		lt = asciiLower(t)
	}
	clean, first := cleanQueueID, firstField
	if i := strings.Index(lt, "queued as "); i >= 0 {
		return clean(first(t[i+len("queued as "):]))
	}
	if strings.Contains(lt, "queued mail for delivery") {
		if i := strings.IndexByte(t, '<'); i >= 0 {
			if j := strings.IndexByte(t[i:], '>'); j > 0 {
				return clean(t[i : i+j+1])
			}
		}
	}
	if i := strings.Index(lt, "id="); i >= 0 && (i == 0 || t[i-1] == ' ') {
		return clean(first(t[i+3:]))
	}
	if strings.Contains(lt, "message accepted for delivery") {
		if f := strings.Fields(t); len(f) > 0 && !strings.EqualFold(f[0], "message") {
			return clean(f[0])
		}
	}
	if f := strings.Fields(lt); len(f) >= 4 && f[0] == "ok" && f[2] == "qp" {
		return clean(strings.Fields(t)[3])
	}
	if strings.HasSuffix(lt, "- gsmtp") {
		if f := strings.Fields(t); len(f) >= 4 {
			return clean(f[len(f)-3])
		}
	}
	return ""
}

func (c *Client) send(ctx context.Context, env Envelope, msg io.Reader) (*Result, error) {
	if c.cfg.QuitAfter != "" {
		// The opening stopped early (no STARTTLS or AUTH, perhaps): a
		// diagnostic session must never carry a message.
		return nil, fmt.Errorf("%w: a session opened with QuitAfter %q cannot send", ErrBadConfig, c.cfg.QuitAfter)
	}
	start := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	res, err := c.sendMetered(ctx, env, msg)
	if res != nil {
		res.Duration = time.Since(start)
	}
	c.logSend(ctx, env, res, err, start)
	return res, err
}

func (c *Client) logSend(ctx context.Context, env Envelope, res *Result, err error, start time.Time) {
	if !c.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	var buf [16]slog.Attr // room for every attribute below: no growing
	attrs := append(buf[:0], slog.String(AttrServer, c.server), slog.String(AttrAddr, c.info.RemoteAddr))
	if c.info.Proxy != "" {
		attrs = append(attrs, slog.String(AttrProxy, c.info.Proxy))
	}
	attrs = append(attrs, c.tlsAttr())
	if c.info.AuthMechanism != "" {
		attrs = append(attrs, authAttr(c.info.AuthMechanism, c.info.AuthUser))
	}
	attrs = append(attrs, slog.String(AttrFrom, env.From))
	var rcpts []RcptAttr
	if res != nil {
		rcpts = make([]RcptAttr, 0, len(res.Recipients))
		for _, r := range res.Recipients {
			rcpts = append(rcpts, RcptAttr{Addr: r.Addr, Code: r.Reply.Code, Enhanced: r.Reply.Enhanced.String(), Text: r.Reply.Text})
		}
	} else {
		rcpts = make([]RcptAttr, 0, len(env.To))
		for _, a := range env.To {
			rcpts = append(rcpts, RcptAttr{Addr: a})
		}
	}
	attrs = append(attrs, slog.Any(AttrRcpts, rcpts))
	if env.MessageID != "" {
		attrs = append(attrs, slog.String(AttrMessageID, env.MessageID))
	}
	level := slog.LevelInfo
	if res != nil {
		attrs = append(attrs, slog.Int64(AttrSize, res.Size))
		if res.Reply.Code != 0 {
			attrs = append(attrs, replyAttr(res.Reply))
		}
		if res.QueueID != "" {
			attrs = append(attrs, slog.String(AttrQueueID, res.QueueID))
		}
		attrs = append(attrs, slog.Bool(AttrPipelining, res.Pipelined), slog.Bool(AttrChunking, res.UsedBDAT))
	}
	if err != nil {
		level = slog.LevelError
		var e *Error
		if errors.As(err, &e) {
			logError(ctx, c.log, e, c.addr, c.info.Proxy)
			attrs = append(attrs, errorAttr(e))
			if h := e.Hint(); h != "" {
				attrs = append(attrs, slog.String(AttrHint, h))
			}
		} else {
			attrs = append(attrs, slog.Group(AttrError, slog.String(AttrText, err.Error())))
		}
	}
	attrs = append(attrs, slog.Int64(AttrDuration, time.Since(start).Milliseconds()))
	logAttrs(ctx, c.log, level, EventSend, attrs...)
}

// RcptAttr is one element of the "rcpts" attribute of the smtp.send
// event: a recipient and the server's reply to its RCPT (zero when not
// reached).
type RcptAttr struct {
	Addr     string `json:"addr"`
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced"`
	Text     string `json:"text"`
}

// LogValue renders the recipient as a group.
func (r RcptAttr) LogValue() slog.Value {
	return slog.GroupValue(slog.String(AttrAddr, r.Addr), slog.Int(AttrCode, r.Code),
		slog.String(AttrEnhanced, r.Enhanced), slog.String(AttrText, r.Text))
}

// txn is one mail transaction: what the envelope checks decided, and the
// replies as they arrive.
type txn struct {
	env        Envelope
	utf8       bool // the transaction needs SMTPUTF8
	eight      bool // the server takes 8BITMIME
	dsn        *DSN // nil: no DSN parameters
	mail       string
	notify     string // the RCPT NOTIFY parameter, with its leading space
	pipelining bool
	chunking   bool
	// oneFlight sends the body's first command (DATA or BDAT) in the same
	// flight as MAIL and RCPT.
	oneFlight bool
	chunk     *chunker // the first BDAT chunk, read before anything is sent

	res       *Result
	stage     Stage
	mailReply Reply
	dataReply Reply
	sentData  bool // DATA or the first BDAT went in the flight
}

// sendLocked does the work of Send with c.mu held, in the protocol's own
// steps: check the envelope against the session, build the MAIL line, send
// MAIL and RCPT (in one pipelined flight or in lockstep), check the
// replies, then send the body.
func (c *Client) sendLocked(ctx context.Context, env Envelope, msg io.Reader) (*Result, error) {
	defer c.release()
	t, err := c.checkEnvelope(env, &c.txn)
	if err != nil {
		return nil, err
	}
	c.mailLine(t)
	t.res = newResult(env.To)
	*t.res = Result{Server: c.server, Pipelined: t.pipelining, UsedBDAT: t.chunking, DSN: t.dsn != nil, TLS: c.info.TLSModeUsed(), Attempts: 1, Recipients: t.res.Recipients}
	if c.rbuf == nil {
		c.rbuf = make([]byte, 32<<10) // the body's read buffer, reused
	}
	if t.chunking {
		if err := c.firstChunk(t, msg); err != nil {
			return nil, err
		}
	}
	t.stage = StageMail
	err = c.withDeadline(ctx, c.cfg.CommandTimeout*time.Duration(2+len(env.To)), func() error {
		pending, err := c.resetFirst(t)
		if err != nil {
			return err
		}
		if !t.pipelining {
			return c.lockstepFlight(t)
		}
		return c.pipelinedFlight(t, pending)
	})
	if err != nil {
		return t.res, c.ioErr(t.stage, t.mail, err)
	}
	c.needRset = false
	c.logRcpts(ctx, t)
	if err := c.checkEnvelopeReplies(ctx, t); err != nil {
		return t.res, err
	}
	if t.chunking {
		return c.sendBDAT(ctx, t.res, t.chunk, t.sentData, t.dataReply, t.pipelining)
	}
	return c.sendDATA(ctx, t.res, msg, t.sentData, t.dataReply, t.eight)
}

// checkEnvelope checks env before anything is sent: the addresses, the
// DSN request, and what the message needs against what the server offers
// (SMTPUTF8, 8BITMIME, SIZE, DSN).
//
// It fills and returns t when t is not nil (Send's transaction, which
// the session reuses), else a new txn.
func (c *Client) checkEnvelope(env Envelope, t *txn) (*txn, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	if len(env.To) == 0 {
		return nil, ErrNoRecipients
	}
	if err := env.checkAddresses(c.has("SMTPUTF8")); err != nil {
		return nil, err
	}
	if t == nil {
		t = new(txn)
	}
	*t = txn{env: env, utf8: env.needsSMTPUTF8()}
	dsn := env.DSN
	if dsn == nil {
		dsn = c.cfg.DSN
	} else if err := dsn.check(); err != nil {
		return nil, err
	}
	local := func(err error) (*txn, error) {
		return nil, &Error{Stage: StageMail, Server: c.server, Err: err}
	}
	if t.utf8 && !c.has("SMTPUTF8") {
		return local(ErrSMTPUTF8NotSupported)
	}
	t.eight = c.has("8BITMIME")
	if env.EightBitMIME && !t.eight {
		return local(Err8BitMIMENotSupported)
	}
	if lim, ok := c.ext["SIZE"]; ok && env.Size > 0 {
		if n, err := strconv.ParseInt(strings.TrimSpace(lim), 10, 64); err == nil && n > 0 && env.Size > n {
			return local(fmt.Errorf("%w (%d > %d bytes)", ErrSizeExceeded, env.Size, n))
		}
	}
	if dsn != nil && c.has("DSN") {
		t.dsn = dsn
	} else if dsn != nil && dsn.Require {
		return local(ErrDSNNotSupported)
	}
	t.pipelining = c.has("PIPELINING") && !c.cfg.DisablePipelining
	t.chunking = c.has("CHUNKING") && !c.cfg.DisableChunking
	// The body goes in the same flight as MAIL and RCPT only when a
	// partial refusal cannot break the recipient policy.
	t.oneFlight = t.pipelining && (c.cfg.Recipients == AcceptedRecipients || len(env.To) == 1)
	return t, nil
}

// checkAddresses checks the reverse path and every recipient with
// checkAddress; smtputf8 says whether the server announces SMTPUTF8.
func (env Envelope) checkAddresses(smtputf8 bool) error {
	if err := checkAddress(env.From, true, smtputf8); err != nil {
		return err
	}
	for _, to := range env.To {
		if err := checkAddress(to, false, smtputf8); err != nil {
			return err
		}
	}
	return nil
}

// needsSMTPUTF8 reports whether the transaction needs SMTPUTF8: asked for,
// or an address that is not ASCII.
func (env Envelope) needsSMTPUTF8() bool {
	if env.SMTPUTF8 || !isASCII(env.From) {
		return true
	}
	for _, to := range env.To {
		if !isASCII(to) {
			return true
		}
	}
	return false
}

// has reports whether the server offers the extension k.
func (c *Client) has(k string) bool { _, ok := c.ext[k]; return ok }

// rcptCmd buffers "RCPT TO:<to>" and the NOTIFY parameter.
func (c *Client) rcptCmd(to, notify string) {
	if notify == "" {
		c.wc.Cmd3("RCPT TO:<", to, ">")
		return
	}
	c.wc.Cmd("RCPT TO:<"+to+">"+notify, "")
}

// mailLine builds the MAIL command and the RCPT NOTIFY parameter. The
// line is built on the stack and, when it equals the session's previous
// MAIL line (the same sender and parameters), that string is reused.
func (c *Client) mailLine(t *txn) {
	var a [256]byte
	b := append(a[:0], "MAIL FROM:<"...)
	b = append(b, t.env.From...)
	b = append(b, '>')
	if t.eight {
		b = append(b, " BODY=8BITMIME"...)
	}
	if t.utf8 {
		b = append(b, " SMTPUTF8"...)
	}
	if c.has("SIZE") && t.env.Size > 0 {
		b = append(b, " SIZE="...)
		b = strconv.AppendInt(b, t.env.Size, 10)
	}
	if t.dsn != nil {
		if t.dsn.Return != "" {
			b = append(b, " RET="...)
			b = append(b, t.dsn.Return...)
		}
		if t.dsn.EnvID != "" {
			b = append(b, " ENVID="...)
			b = append(b, xtext(t.dsn.EnvID)...)
		}
		if len(t.dsn.Notify) > 0 {
			ns := make([]string, len(t.dsn.Notify))
			for i, n := range t.dsn.Notify {
				ns[i] = string(n)
			}
			t.notify = " NOTIFY=" + strings.Join(ns, ",")
		}
	}
	if string(b) != c.lastMail {
		c.lastMail = string(b)
	}
	t.mail = c.lastMail
}

// firstChunk reads the first BDAT chunk before anything is sent, so that
// it can go in the first flight and a read error costs nothing.
func (c *Client) firstChunk(t *txn, msg io.Reader) error {
	t.chunk = c.newChunker(msg, t.eight)
	if err := t.chunk.fill(); err != nil {
		if errors.Is(err, wire.ErrEightBit) {
			return &Error{Stage: StageMail, Server: c.server, Err: Err8BitMIMENotSupported}
		}
		return &Error{Stage: StageData, Server: c.server, Message: "reading the message", Err: err}
	}
	return nil
}

// resetFirst ends the previous transaction with RSET when one is open.
// Without pipelining it waits for the reply; with pipelining the reply is
// read after the flight, and pending says so.
func (c *Client) resetFirst(t *txn) (pending bool, err error) {
	if !c.needRset {
		return false, nil
	}
	c.wc.Cmd("RSET", "")
	if t.pipelining {
		return true, nil
	}
	if err := c.flushRead(&t.mailReply); err != nil {
		return false, err
	}
	if t.mailReply.Code != 250 {
		return false, c.replyErr(StageReset, "RSET", t.mailReply)
	}
	return false, nil
}

// lockstepFlight sends MAIL, then each RCPT, waiting for every reply.
func (c *Client) lockstepFlight(t *txn) error {
	c.wc.Cmd(t.mail, "")
	if err := c.flushRead(&t.mailReply); err != nil {
		return err
	}
	if t.mailReply.Code != 250 {
		return nil
	}
	t.stage = StageRcpt
	for i, to := range t.env.To {
		c.rcptCmd(to, t.notify)
		if err := c.flushRead(&t.res.Recipients[i].Reply); err != nil {
			return err
		}
	}
	return nil
}

// pipelinedFlight sends MAIL, every RCPT and (with oneFlight) DATA or the
// first BDAT chunk in one flight (RFC 2920), then reads the replies in
// order; rsetPending says a RSET reply comes first.
func (c *Client) pipelinedFlight(t *txn, rsetPending bool) error {
	c.wc.Cmd(t.mail, "")
	for _, to := range t.env.To {
		c.rcptCmd(to, t.notify)
	}
	if t.oneFlight {
		t.sentData = true
		if t.chunking {
			if err := t.chunk.writeTo(c); err != nil {
				return err
			}
		} else {
			c.wc.Cmd("DATA", "")
		}
	}
	if err := c.wc.Flush(); err != nil {
		return err
	}
	if rsetPending {
		var r Reply
		if err := c.read(&r); err != nil {
			return err
		}
		if r.Code != 250 {
			return c.replyErr(StageReset, "RSET", r)
		}
	}
	if err := c.read(&t.mailReply); err != nil {
		return err
	}
	t.stage = StageRcpt
	for i := range t.env.To {
		if err := c.read(&t.res.Recipients[i].Reply); err != nil {
			return err
		}
	}
	if t.sentData {
		t.stage = StageData
		return c.read(&t.dataReply)
	}
	return nil
}

// logRcpts records the server's answer to each RCPT.
func (c *Client) logRcpts(ctx context.Context, t *txn) {
	for _, r := range t.res.Recipients {
		level := slog.LevelInfo
		if !r.Accepted() {
			level = slog.LevelWarn
		}
		if !c.log.Enabled(ctx, level) {
			continue
		}
		logAttrs(ctx, c.log, level, EventRcpt, slog.String(AttrServer, c.server), slog.String(AttrMessageID, t.env.MessageID),
			// The group RcptAttr resolves to, without boxing the RcptAttr
			// first.
			slog.Attr{Key: AttrRcpt, Value: RcptAttr{Addr: r.Addr, Code: r.Reply.Code, Enhanced: r.Reply.Enhanced.String(), Text: r.Reply.Text}.LogValue()})
	}
}

// checkEnvelopeReplies decides from the MAIL and RCPT replies whether the
// body may follow: a refused MAIL, or recipients refused against the
// recipient policy, end the transaction (a DATA the server already
// accepted is ended with an empty body).
func (c *Client) checkEnvelopeReplies(ctx context.Context, t *txn) error {
	abort := func() {
		if t.sentData && t.dataReply.Code == 354 {
			c.abortData(ctx)
		}
	}
	if t.mailReply.Code != 250 {
		e := c.replyErr(StageMail, t.mail, t.mailReply)
		abort()
		return e
	}
	c.needRset = true // MAIL accepted: a transaction is open until the body ends
	var refused []RcptResult
	worst := Reply{}
	for _, r := range t.res.Recipients {
		if !r.Accepted() {
			refused = append(refused, r)
			if worst.Code == 0 || (r.Reply.Code >= 500 && worst.Code < 500) {
				worst = r.Reply
			}
		}
	}
	if len(refused) == 0 || (len(refused) < len(t.res.Recipients) && c.cfg.Recipients != AllRecipients) {
		return nil
	}
	abort()
	e := &Error{Stage: StageRcpt, Server: c.server, Code: worst.Code, Enhanced: worst.Enhanced, Message: worst.Text,
		Command: "RCPT TO:<" + refused[0].Addr + ">", Err: &RecipientsError{Refused: refused}}
	if worst.Code == 421 {
		c.breakWith(e)
	} else if c.broken == nil {
		if err := c.rset(ctx); err != nil {
			return err
		}
	}
	return e
}

// abortData ends a DATA the server accepted although the transaction
// failed: an empty body, which the server refuses for lack of recipients
// or delivers to nobody (RFC 2920 section 3.1).
func (c *Client) abortData(ctx context.Context) {
	var r Reply
	err := c.withDeadline(ctx, c.cfg.CommandTimeout, func() error {
		c.wc.Cmd(".", "")
		return c.flushRead(&r)
	})
	if err != nil {
		c.ioErr(StageData, ".", err)
	}
}

func (c *Client) read(r *Reply) error {
	var err error
	*r, err = c.readReply(false)
	return err
}

func (c *Client) flushRead(r *Reply) error {
	if err := c.wc.Flush(); err != nil {
		return err
	}
	return c.read(r)
}

func (c *Client) sendDATA(ctx context.Context, res *Result, msg io.Reader, sent bool, dataReply Reply, eight bool) (*Result, error) {
	if !sent {
		var err error
		dataReply, err = c.cmd(ctx, StageData, "DATA")
		if err != nil {
			return res, err
		}
	}
	if dataReply.Code != 354 {
		e := c.replyErr(StageData, "DATA", dataReply)
		if c.broken == nil {
			c.rset(ctx)
		}
		return res, e
	}
	c.body = wire.Body{W: c.wc.W, Stuff: true, Check8: !eight}
	body := &c.body
	var final Reply
	var readErr error
	err := c.withDeadline(ctx, c.cfg.DataTimeout, func() error {
		if _, err := io.CopyBuffer(c.prog.writer(body), msg, c.rbuf); err != nil {
			if errors.Is(err, wire.ErrEightBit) {
				return Err8BitMIMENotSupported
			}
			if !body.WriteFailed {
				readErr = err
			}
			return err
		}
		if err := body.Close(); err != nil {
			return err
		}
		if c.wc.Trace != nil {
			c.wc.Trace(true, "["+strconv.FormatInt(body.N, 10)+" bytes of message]")
			c.wc.Trace(true, ".")
		}
		return c.flushRead(&final)
	})
	res.Size = body.N
	if err != nil {
		// The body is incomplete: close the connection so that the server
		// discards the transaction instead of delivering part of it.
		if readErr != nil {
			e := &Error{Stage: StageData, Server: c.server, Message: "reading the message", Err: readErr}
			c.breakWith(e)
			return res, e
		}
		return res, c.ioErr(StageData, "DATA", err)
	}
	return c.finish(res, final, "DATA")
}

func (c *Client) finish(res *Result, final Reply, cmd string) (*Result, error) {
	res.Reply = final
	if final.Code != 250 {
		e := c.replyErr(StageData, cmd, final)
		c.needRset = false // the transaction ended with the refusal
		return res, e
	}
	c.needRset = false
	res.QueueID = ParseQueueID(final.Text)
	return res, nil
}

// release lets go of the last message's envelope and body reader, which
// the reused transaction and chunker still point to.
func (c *Client) release() {
	c.txn = txn{}
	c.chunk = chunker{}
	c.body = wire.Body{}
}

// newResult returns a Result whose Recipients hold the addresses of to;
// for one recipient, the Result and its RcptResult are one allocation.
func newResult(to []string) *Result {
	if len(to) == 1 {
		p := &struct {
			r   Result
			one [1]RcptResult
		}{}
		p.one[0].Addr = to[0]
		p.r.Recipients = p.one[:]
		return &p.r
	}
	r := &Result{Recipients: make([]RcptResult, len(to))}
	for i, a := range to {
		r.Recipients[i].Addr = a
	}
	return r
}

// newChunker readies the session's chunker, chunk buffer and body encoder
// for the message src: one message is read into chunks at a time.
func (c *Client) newChunker(src io.Reader, eight bool) *chunker {
	c.cbuf.Reset()
	c.chunk = chunker{size: c.cfg.ChunkSize, src: src, buf: &c.cbuf, rbuf: c.rbuf}
	c.body = wire.Body{W: &c.cbuf, Check8: !eight}
	c.chunk.body = &c.body
	return &c.chunk
}

// chunker reads the message into BDAT chunks.
type chunker struct {
	size  int
	src   io.Reader
	buf   *chunkBuf
	body  *wire.Body
	eof   bool
	total int64
	rbuf  []byte
}

// more reports whether fill has more to read: the message has not ended
// and the buffer holds less than a chunk and its slack. The slack lets a
// short end of the message (up to a sixteenth of a chunk, at most one read
// buffer) go with the chunk before it as one BDAT LAST, instead of
// costing a chunk and a reply of its own: with the default chunk size, a
// message of up to 1 MiB + 32 KiB is one chunk.
func (k *chunker) more() bool {
	return !k.eof && k.buf.Len() < k.size+min(k.size/16, len(k.rbuf))
}

// fill reads until the buffer holds a chunk and its slack, or the message
// ends.
func (k *chunker) fill() error {
	for k.more() {
		// Read straight into the chunk buffer; clean data stays there,
		// anything else is copied out and encoded back in its place.
		room := k.buf.room(len(k.rbuf))
		n, err := k.src.Read(room)
		if n > 0 {
			ok, werr := k.body.Through(room[:n])
			if werr != nil {
				return werr
			}
			if ok {
				k.buf.commit(n)
			} else {
				m := copy(k.rbuf, room[:n])
				if _, err := k.body.Write(k.rbuf[:m]); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			k.eof = true
			return k.body.Close()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeTo buffers one BDAT command and its chunk; the last one says LAST.
func (k *chunker) writeTo(c *Client) error {
	n := k.buf.Len()
	if !k.eof && n > k.size {
		n = k.size
	}
	last := ""
	if k.eof && n == k.buf.Len() {
		last = " LAST"
	}
	c.wc.CmdInt("BDAT ", int64(n), last)
	if c.wc.Trace != nil {
		c.wc.Trace(true, "["+strconv.Itoa(n)+" bytes of message]")
	}
	_, err := c.prog.writer(c.wc.W).Write(k.buf.Next(n))
	k.total += int64(n)
	return err
}

// chunkBuf is the BDAT chunk buffer: a bytes.Buffer that can also lend
// its free space to a Read (room, then commit) so that a clean body is
// not copied a second time.
type chunkBuf struct {
	b   []byte
	off int // start of the unread data
}

func (c *chunkBuf) Len() int { return len(c.b) - c.off }

func (c *chunkBuf) Reset() { c.b, c.off = c.b[:0], 0 }

// Next returns the next n bytes, valid until the next Write or room.
func (c *chunkBuf) Next(n int) []byte {
	p := c.b[c.off : c.off+n]
	c.off += n
	return p
}

// grow makes room for n more bytes, sliding the unread data down first.
func (c *chunkBuf) grow(n int) {
	if c.off > 0 {
		m := copy(c.b, c.b[c.off:])
		c.b, c.off = c.b[:m], 0
	}
	if cap(c.b)-len(c.b) < n {
		nb := make([]byte, len(c.b), 2*cap(c.b)+n)
		copy(nb, c.b)
		c.b = nb
	}
}

func (c *chunkBuf) Write(p []byte) (int, error) {
	if cap(c.b)-len(c.b) < len(p) {
		c.grow(len(p))
	}
	c.b = append(c.b, p...)
	return len(p), nil
}

// room returns the n bytes after the data, to be filled and then kept
// with commit.
func (c *chunkBuf) room(n int) []byte {
	if cap(c.b)-len(c.b) < n {
		c.grow(n)
	}
	return c.b[len(c.b) : len(c.b)+n]
}

func (c *chunkBuf) commit(n int) { c.b = c.b[:len(c.b)+n] }

func (k *chunker) last() bool { return k.eof && k.buf.Len() == 0 }

func (c *Client) sendBDAT(ctx context.Context, res *Result, k *chunker, sent bool, first Reply, pipelining bool) (*Result, error) {
	var final Reply
	var readErr error
	pending := 0
	if sent {
		if k.last() {
			res.Size = k.total
			return c.finish(res, first, "BDAT")
		}
		if first.Code != 250 {
			return c.finishBDATErr(ctx, res, first)
		}
	}
	err := c.withDeadline(ctx, c.cfg.DataTimeout, func() error {
		for {
			if k.more() {
				if err := k.fill(); err != nil {
					if errors.Is(err, wire.ErrEightBit) {
						return Err8BitMIMENotSupported
					}
					readErr = err
					return err
				}
			}
			if err := k.writeTo(c); err != nil {
				return err
			}
			pending++
			last := k.last()
			if !pipelining || last {
				if err := c.wc.Flush(); err != nil {
					return err
				}
				for ; pending > 0; pending-- {
					if err := c.read(&final); err != nil {
						return err
					}
					if final.Code != 250 {
						// Drain the remaining replies.
						for pending--; pending > 0; pending-- {
							var r Reply
							if err := c.read(&r); err != nil {
								return err
							}
						}
						return nil
					}
				}
			}
			if last {
				return nil
			}
		}
	})
	res.Size = k.total
	if err != nil {
		if readErr != nil {
			e := &Error{Stage: StageData, Server: c.server, Message: "reading the message", Err: readErr}
			c.breakWith(e)
			return res, e
		}
		return res, c.ioErr(StageData, "BDAT", err)
	}
	if final.Code != 250 {
		return c.finishBDATErr(ctx, res, final)
	}
	return c.finish(res, final, "BDAT")
}

// finishBDATErr reports a refused chunk. A refusal before LAST leaves the
// rest of the message unsent; the transaction is reset.
func (c *Client) finishBDATErr(ctx context.Context, res *Result, r Reply) (*Result, error) {
	res.Reply = r
	e := c.replyErr(StageData, "BDAT", r)
	if c.broken == nil {
		c.rset(ctx)
	}
	return res, e
}
