package transport

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"mailwarden/authmech"
	"mailwarden/transport/internal/wire"
)

func upper(s string) string { return strings.ToUpper(s) }

// aLongTimeAgo is a deadline in the past, to interrupt blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// norm returns a copy of cfg with the defaults filled in, or an
// ErrBadConfig error.
func (cfg *Config) norm() (*Config, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.HeloName == "" {
		c.HeloName = hostFQDN() // "" leaves it to the session (heloName)
	} else if err := checkHeloName(c.HeloName); err != nil {
		return nil, fmt.Errorf("%w: HeloName %q: %v", ErrBadConfig, c.HeloName, err)
	}
	if c.TLS > TLSAuto {
		return nil, fmt.Errorf("%w: unknown TLS mode %d", ErrBadConfig, c.TLS)
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = DefaultCommandTimeout
	}
	if c.DataTimeout <= 0 {
		c.DataTimeout = DefaultDataTimeout
	}
	if c.MaxReplyLine <= 0 {
		c.MaxReplyLine = DefaultMaxReplyLine
	}
	if c.MaxReplySize <= 0 {
		c.MaxReplySize = DefaultMaxReplySize
	}
	if c.MaxReplySize < c.MaxReplyLine {
		c.MaxReplySize = c.MaxReplyLine
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.Dialer == nil {
		c.Dialer = &net.Dialer{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(discardHandler{})
	}
	if c.TLSConfig != nil {
		c.TLSConfig = c.TLSConfig.Clone()
	}
	if c.DSN != nil {
		if err := c.DSN.check(); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

func checkHeloName(h string) error {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		lit := h[1 : len(h)-1]
		lit = strings.TrimPrefix(lit, "IPv6:")
		if net.ParseIP(lit) == nil {
			return errors.New("bad address literal")
		}
		return nil
	}
	return checkHostName(h)
}

// tlsConfig returns the tls.Config for a connection to host.
func (c *Client) tlsConfig() *tls.Config {
	var t *tls.Config
	if c.cfg.TLSConfig != nil {
		t = c.cfg.TLSConfig.Clone()
	} else {
		t = &tls.Config{}
	}
	if t.ServerName == "" {
		t.ServerName = c.addr.Host
	}
	if t.MinVersion < tls.VersionTLS12 {
		t.MinVersion = tls.VersionTLS12
	}
	if c.cfg.InsecureSkipVerify {
		t.InsecureSkipVerify = true
	}
	return t
}

// dial connects and opens a session. When partial is not nil and the
// session fails after the TCP connection, partial receives what was learned
// up to the failing step (for Probe).
func dial(ctx context.Context, addr Address, cfg *Config, auth bool, partial ...*ConnInfo) (*Client, error) {
	start := time.Now()
	ncfg, err := cfg.norm()
	if err != nil {
		return nil, err
	}
	if addr.Host == "" {
		return nil, fmt.Errorf("%w: empty host", ErrBadAddress)
	}
	hp := addr.HostPort(ncfg.TLS)
	dctx, cancel := context.WithTimeout(ctx, ncfg.DialTimeout)
	defer cancel()
	proxy := ""
	if p, ok := ncfg.Dialer.(interface{ Proxy() string }); ok {
		proxy = p.Proxy()
	}
	conn, err := ncfg.Dialer.DialContext(dctx, "tcp", hp)
	if err != nil {
		e := &Error{Stage: StageDial, Server: hp, Err: ctxCause(ctx, err)}
		if proxy != "" {
			e.Message = "via " + proxy
		}
		logError(ctx, ncfg.Logger, e, addr, proxy)
		return nil, e
	}
	c, err := newClientNorm(ctx, conn, addr, ncfg, start, auth, proxy, partial...)
	return c, err
}

func newClient(ctx context.Context, conn net.Conn, addr Address, cfg *Config, start time.Time, auth bool) (*Client, error) {
	ncfg, err := cfg.norm()
	if err != nil {
		conn.Close()
		return nil, err
	}
	return newClientNorm(ctx, conn, addr, ncfg, start, auth, "")
}

func logError(ctx context.Context, l *slog.Logger, e *Error, addr Address, proxy string) {
	attrs := []slog.Attr{slog.String(AttrServer, e.Server)}
	if proxy != "" {
		attrs = append(attrs, slog.String(AttrProxy, proxy))
	}
	attrs = append(attrs, errorAttr(e))
	if h := e.Hint(); h != "" {
		attrs = append(attrs, slog.String(AttrHint, h))
	}
	logAttrs(ctx, l, slog.LevelError, EventError, attrs...)
}

func errorAttr(e *Error) slog.Attr {
	text := e.Message
	if e.Code == 0 || text == "" {
		text = e.Error()
	}
	return slog.Group(AttrError,
		slog.String(AttrStage, string(e.Stage)),
		slog.Int(AttrCode, e.Code),
		slog.String(AttrEnhanced, e.Enhanced.String()),
		slog.String(AttrText, text),
		slog.Bool(AttrTemporary, e.Temporary()))
}

// ctxCause prefers the context's error when it ended the operation.
func ctxCause(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

func newClientNorm(ctx context.Context, conn net.Conn, addr Address, cfg *Config, start time.Time, auth bool, proxy string, partial ...*ConnInfo) (*Client, error) {
	mode := addr.Mode(cfg.TLS)
	c := &Client{
		cfg:    cfg,
		addr:   addr,
		server: addr.HostPort(cfg.TLS),
		log:    cfg.Logger,
		conn:   conn,
	}
	c.wc = wire.New(conn, cfg.MaxReplyLine, cfg.MaxReplySize)
	c.wc.Scrub = cfg.Scrub
	if cfg.Transcript != nil {
		c.wc.Trace = c.trace
	}
	c.info = ConnInfo{
		Server:     addr.Host,
		Address:    addr,
		Addr:       c.server,
		RemoteAddr: conn.RemoteAddr().String(),
		LocalAddr:  conn.LocalAddr().String(),
		Proxy:      proxy,
		Mode:       mode,
	}
	c.info.Steps = append(c.info.Steps, Step{Name: "dial", Duration: time.Since(start), Detail: c.info.RemoteAddr})
	if err := c.open(ctx, auth); err != nil {
		c.close()
		for _, p := range partial {
			*p = c.infoCopy()
		}
		var e *Error
		if errors.As(err, &e) {
			logError(ctx, c.log, e, addr, proxy)
		}
		return nil, err
	}
	return c, nil
}

// trace writes one transcript line.
func (c *Client) trace(client bool, line string) {
	p := "S: "
	if client {
		p = "C: "
	}
	c.traceMu.Lock()
	io.WriteString(c.cfg.Transcript, p+line+"\n")
	c.traceMu.Unlock()
}

// io runs f with the connection's deadline set from timeout and ctx, and
// interrupts it when ctx is done.
func (c *Client) withDeadline(ctx context.Context, timeout time.Duration, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dl := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	nc := c.wc.NC
	// The watcher first: once it is ctx's, no earlier context's watcher
	// can set a past deadline over dl.
	c.watch.on(ctx, nc)
	nc.SetDeadline(dl)
	// A cancellation between the first check and SetDeadline may have
	// fired the watcher before dl replaced its deadline: look again.
	if err := ctx.Err(); err != nil {
		return err
	}
	err := f()
	if err != nil {
		return ctxCause(ctx, err)
	}
	return nil
}

// ctxWatch interrupts the session's I/O when a context is done: one
// context.AfterFunc per context (told apart by their Done channels) and
// connection, registered when withDeadline first sees it and kept for the
// calls that follow, instead of one per command. A watcher whose context
// has been replaced does nothing when it fires.
type ctxWatch struct {
	mu   sync.Mutex
	done <-chan struct{}
	nc   net.Conn
	stop func() bool
}

// on makes ctx the context that interrupts nc. A context that is never
// done (no Done channel) needs no watcher.
func (w *ctxWatch) on(ctx context.Context, nc net.Conn) {
	done := ctx.Done()
	w.mu.Lock()
	defer w.mu.Unlock()
	if done == w.done && nc == w.nc {
		return
	}
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
	w.done, w.nc = done, nc
	if done == nil {
		return
	}
	w.stop = context.AfterFunc(ctx, func() {
		w.mu.Lock()
		if w.done == done && w.nc == nc {
			nc.SetDeadline(aLongTimeAgo)
		}
		w.mu.Unlock()
	})
}

// off removes the watcher, when the session ends.
func (w *ctxWatch) off() {
	w.mu.Lock()
	if w.stop != nil {
		w.stop()
	}
	w.done, w.nc, w.stop = nil, nil, nil
	w.mu.Unlock()
}

// ioErr turns an I/O or protocol failure into an *Error and breaks the
// session.
func (c *Client) ioErr(stage Stage, cmd string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		c.breakWith(e)
		return e
	}
	switch {
	case errors.Is(err, wire.ErrLineTooLong), errors.Is(err, wire.ErrReplyTooLong):
		err = fmt.Errorf("%w: %v", ErrReplyTooLong, err)
	case errors.Is(err, wire.ErrMalformed):
		err = ErrMalformedReply
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		err = fmt.Errorf("%w: %w", ErrConnectionClosed, err)
	}
	e = &Error{Stage: stage, Server: c.server, Command: cmd, Err: err}
	c.breakWith(e)
	return e
}

func (c *Client) breakWith(err error) {
	if c.broken == nil {
		c.broken = err
	}
	c.close()
}

// replyErr returns the *Error for an unexpected reply; a 421 breaks the
// session.
func (c *Client) replyErr(stage Stage, cmd string, r Reply) *Error {
	e := &Error{Stage: stage, Server: c.server, Code: r.Code, Enhanced: r.Enhanced, Message: r.Text, Command: cmd}
	if r.Code == 421 {
		c.breakWith(e)
	}
	return e
}

// scrubDiagnosis applies Config.Scrub to the server's words in a
// mechanism's diagnosis: the decoded OAuth error challenge is built from a
// 334 challenge, which reaches the mechanism unscrubbed because it needs
// it, so a server echoing the token there must be scrubbed here.
func (c *Client) scrubDiagnosis(err error) error {
	var oe *authmech.OAuthError
	if c.cfg.Scrub == nil || !errors.As(err, &oe) {
		return err
	}
	s := *oe
	s.Status, s.Scope, s.OpenIDConfiguration, s.Raw = c.scrub(s.Status), c.scrub(s.Scope), c.scrub(s.OpenIDConfiguration), c.scrub(s.Raw)
	return &s
}

// scrub applies Config.Scrub, if any.
func (c *Client) scrub(s string) string {
	if c.cfg.Scrub == nil {
		return s
	}
	return c.cfg.Scrub(s)
}

// readReply reads one reply.
func (c *Client) readReply(redact bool) (Reply, error) {
	code, lines, err := c.wc.ReadReplyInto(redact, c.lines)
	if err != nil {
		return Reply{}, err
	}
	r := parseReply(code, lines)
	clear(lines) // let the line strings go; the Reply holds what it needs
	c.lines = lines[:0]
	return r, nil
}

// parseReply builds a Reply, taking the RFC 3463 code from the lines when
// they carry one whose class matches the reply code.
func parseReply(code int, lines []string) Reply {
	r := Reply{Code: code}
	for i, l := range lines {
		sp := strings.IndexByte(l, ' ')
		tok, rest := l, ""
		if sp >= 0 {
			tok, rest = l[:sp], l[sp+1:]
		}
		if ec, ok := parseEnhanced(tok); ok && ec[0] == code/100 {
			if i == 0 {
				r.Enhanced = ec
			}
			lines[i] = rest
		}
	}
	r.Text = strings.Join(lines, "\n")
	return r
}

// cmd sends one command and reads its reply.
func (c *Client) cmd(ctx context.Context, stage Stage, line string) (Reply, error) {
	var r Reply
	err := c.withDeadline(ctx, c.cfg.CommandTimeout, func() error {
		if err := c.wc.Cmd(line, ""); err != nil {
			return err
		}
		if err := c.wc.Flush(); err != nil {
			return err
		}
		var err error
		r, err = c.readReply(false)
		return err
	})
	if err != nil {
		return r, c.ioErr(stage, line, err)
	}
	return r, nil
}

func (c *Client) step(name string, start time.Time, detail string) {
	c.info.Steps = append(c.info.Steps, Step{Name: name, Duration: time.Since(start), Detail: detail})
}

// open runs TLS, greeting, EHLO, STARTTLS and AUTH.
func (c *Client) open(ctx context.Context, auth bool) error {
	octx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	if c.info.Mode == TLSImplicit {
		if err := c.handshake(octx); err != nil {
			return err
		}
	}
	t := time.Now()
	var g Reply
	err := c.withDeadline(octx, c.cfg.DialTimeout, func() error {
		var err error
		g, err = c.readReply(false)
		return err
	})
	if err != nil {
		return c.ioErr(StageGreeting, "", err)
	}
	c.info.Greeting = g
	c.step("greeting", t, g.String())
	if g.Code != 220 {
		return c.replyErr(StageGreeting, "", g)
	}
	attrs := []slog.Attr{
		slog.String(AttrServer, c.server),
		slog.String(AttrAddr, c.info.RemoteAddr),
	}
	if c.info.Proxy != "" {
		attrs = append(attrs, slog.String(AttrProxy, c.info.Proxy))
	}
	attrs = append(attrs, slog.String(AttrGreeting, g.String()))
	logAttrs(ctx, c.log, slog.LevelInfo, EventConnect, attrs...)
	if c.quitAt(QuitAfterConnect) || (c.info.Mode == TLSImplicit && c.quitAt(QuitAfterTLS)) {
		return nil
	}

	if err := c.hello(ctx); err != nil {
		return err
	}
	switch c.info.Mode {
	case TLSExplicit, TLSAuto:
		_, offered := c.ext["STARTTLS"]
		if !offered {
			if c.info.Mode == TLSExplicit {
				return &Error{Stage: StageSTARTTLS, Server: c.server, Err: ErrSTARTTLSNotOffered}
			}
			break
		}
		if err := c.startTLS(ctx); err != nil {
			return err
		}
	}
	if c.quitAt(QuitAfterTLS) || c.quitAt(QuitAfterEHLO) {
		return nil // with no TLS to negotiate, "tls" ends here too
	}
	if auth {
		ac := c.cfg.Auth
		if c.cfg.NewAuth != nil {
			var err error
			if ac, err = c.cfg.NewAuth(); err != nil {
				return &Error{Stage: StageAuth, Server: c.server, Err: err}
			}
		}
		if ac != nil {
			if err := c.auth(ctx, ac); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Client) handshake(ctx context.Context) error {
	t := time.Now()
	conf := c.tlsConfig()
	tc := tls.Client(c.wc.NC, conf)
	err := c.withDeadline(ctx, c.cfg.DialTimeout, func() error { return tc.HandshakeContext(ctx) })
	if err != nil {
		e := &Error{Stage: StageTLS, Server: c.server, Err: err}
		c.step("tls", t, err.Error())
		c.breakWith(e)
		return e
	}
	if err := c.wc.Swap(tc); err != nil {
		return c.ioErr(StageTLS, "", fmt.Errorf("%w: %v", ErrResponseInjection, err))
	}
	cs := tc.ConnectionState()
	c.info.TLS = &cs
	c.info.InsecureSkipVerify = conf.InsecureSkipVerify
	c.step("tls", t, tls.VersionName(cs.Version)+" "+tls.CipherSuiteName(cs.CipherSuite))
	level := slog.LevelInfo
	if conf.InsecureSkipVerify {
		level = slog.LevelWarn
	}
	logAttrs(ctx, c.log, level, EventTLS, slog.String(AttrServer, c.server), c.tlsAttr())
	return nil
}

func (c *Client) tlsAttr() slog.Attr {
	k := tlsKey{mode: c.info.TLSModeUsed(), state: c.info.TLS, insecure: c.info.InsecureSkipVerify}
	if c.tlsGroup.Key == "" || c.tlsFor != k {
		c.tlsGroup, c.tlsFor = c.buildTLSAttr(), k
	}
	return c.tlsGroup
}

// tlsKey is what the tls attribute of a session's records is built from.
type tlsKey struct {
	mode     string
	state    *tls.ConnectionState
	insecure bool
}

func (c *Client) buildTLSAttr() slog.Attr {
	attrs := make([]slog.Attr, 1, 5)
	attrs[0] = slog.String(AttrTLSMode, c.info.TLSModeUsed())
	if cs := c.info.TLS; cs != nil {
		attrs = append(attrs,
			slog.String(AttrTLSVersion, tls.VersionName(cs.Version)),
			slog.String(AttrTLSCipher, tls.CipherSuiteName(cs.CipherSuite)))
		if len(cs.PeerCertificates) > 0 {
			attrs = append(attrs, slog.String(AttrTLSPeer, fingerprint(cs.PeerCertificates[0].Raw)))
		}
		if c.info.InsecureSkipVerify {
			attrs = append(attrs, slog.Bool(AttrTLSInsec, true))
		}
	}
	return slog.Attr{Key: AttrTLS, Value: slog.GroupValue(attrs...)}
}

// hello sends EHLO, or HELO when EHLO is refused, and records the
// capabilities, replacing any learned before.
func (c *Client) hello(ctx context.Context) error {
	t := time.Now()
	c.ext = nil
	c.info.Extensions, c.info.EHLOLines, c.info.AuthMechanisms, c.info.HELO = nil, nil, nil, false
	// The keywords are parsed as sent (a short password must not erase
	// "STARTTLS"); what is kept for display is scrubbed.
	c.wc.KeepText = true
	r, err := c.cmd(ctx, StageEHLO, "EHLO "+c.heloName())
	c.wc.KeepText = false
	if err != nil {
		return err
	}
	raw := r.Text
	r.Text = c.scrub(raw)
	if r.Code == 250 {
		c.step("ehlo", t, r.String())
		lines := strings.Split(raw, "\n")
		c.ext = make(map[string]string)
		if len(lines) > 1 {
			for _, l := range lines[1:] {
				c.info.EHLOLines = append(c.info.EHLOLines, c.scrub(l))
			}
			for _, l := range lines[1:] {
				k, v, _ := strings.Cut(l, " ")
				k = upper(k)
				c.ext[k] = v
				if k == "AUTH" {
					for _, m := range strings.Fields(v) {
						c.info.AuthMechanisms = append(c.info.AuthMechanisms, upper(m))
					}
				}
			}
		}
		c.info.Extensions = c.ext
		return nil
	}
	if r.Code < 500 || r.Code > 504 && r.Code != 550 {
		return c.replyErr(StageEHLO, "EHLO "+c.heloName(), r)
	}
	r, err = c.cmd(ctx, StageEHLO, "HELO "+c.heloName())
	if err != nil {
		return err
	}
	c.step("helo", t, r.String())
	if r.Code != 250 {
		return c.replyErr(StageEHLO, "HELO "+c.heloName(), r)
	}
	c.info.HELO = true
	return nil
}

// startTLS sends STARTTLS alone, refuses any bytes the server sent after
// its 220, performs the handshake and says EHLO again.
func (c *Client) startTLS(ctx context.Context) error {
	t := time.Now()
	r, err := c.cmd(ctx, StageSTARTTLS, "STARTTLS")
	if err != nil {
		return err
	}
	if r.Code != 220 {
		e := c.replyErr(StageSTARTTLS, "STARTTLS", r)
		c.breakWith(e)
		return e
	}
	if n := c.wc.Buffered(); n > 0 {
		return c.ioErr(StageSTARTTLS, "STARTTLS", fmt.Errorf("%w (%d bytes after %d %s)", ErrResponseInjection, n, r.Code, "reply to STARTTLS"))
	}
	c.step("starttls", t, r.String())
	c.info.StartTLS = true
	if err := c.handshake(ctx); err != nil {
		return err
	}
	if c.quitAt(QuitAfterTLS) {
		return nil
	}
	return c.hello(ctx)
}

type userer interface{ User() string }

// auth runs the SASL exchange.
func (c *Client) auth(ctx context.Context, ac authmech.Client) error {
	t := time.Now()
	user := ""
	if u, ok := ac.(userer); ok {
		user = u.User()
	}
	fail := func(mech string, e *Error) error {
		c.step("auth", t, e.Error())
		logAttrs(ctx, c.log, slog.LevelError, EventAuth, slog.String(AttrServer, c.server),
			authAttr(mech, user), errorAttr(e))
		return e
	}
	if len(c.info.AuthMechanisms) == 0 {
		return fail("", &Error{Stage: StageAuth, Server: c.server, Err: ErrAuthNotOffered})
	}
	si := &authmech.ServerInfo{
		Name:           c.addr.Host,
		TLS:            c.info.TLS,
		Mechanisms:     append([]string(nil), c.info.AuthMechanisms...),
		AllowPlaintext: c.cfg.AllowPlaintextAuth,
	}
	mech, ir, err := ac.Start(ctx, si)
	if u, ok := ac.(userer); ok && u.User() != "" {
		user = u.User() // Start may learn who it is (a Kerberos credential cache)
	}
	if err != nil {
		return fail(mech, &Error{Stage: StageAuth, Server: c.server, Err: err})
	}
	if mech == "" || strings.ContainsAny(mech, " \r\n\x00") {
		return fail(mech, &Error{Stage: StageAuth, Server: c.server, Err: fmt.Errorf("transport: invalid mechanism name %q", mech)})
	}
	line, traceAs := "AUTH "+mech, ""
	if ir != nil {
		enc := "="
		if len(ir) > 0 {
			enc = base64.StdEncoding.EncodeToString(ir)
		}
		line += " " + enc
		traceAs = "AUTH " + mech + " [redacted]"
	}
	cmdName := "AUTH " + mech
	for {
		r, err := c.authRoundTrip(ctx, line, traceAs)
		if err != nil {
			return fail(mech, c.ioErr(StageAuth, cmdName, err))
		}
		switch {
		case r.Code == 235:
			if v, ok := ac.(authmech.Verifier); ok {
				if err := v.Verify(); err != nil {
					e := &Error{Stage: StageAuth, Server: c.server, Command: cmdName, Err: err}
					c.breakWith(e)
					return fail(mech, e)
				}
			}
			c.info.AuthMechanism, c.info.AuthUser = mech, user
			c.step("auth", t, r.String())
			logAttrs(ctx, c.log, slog.LevelInfo, EventAuth, slog.String(AttrServer, c.server),
				authAttr(mech, user),
				replyAttr(r))
			return nil
		case r.Code == 334:
			chal, derr := base64.StdEncoding.DecodeString(r.Text)
			var resp []byte
			if derr == nil {
				resp, err = ac.Next(ctx, chal)
			} else {
				err = fmt.Errorf("transport: server challenge is not base64: %w", derr)
			}
			if err != nil {
				// Cancel the exchange (RFC 4954 section 4) and report
				// the mechanism's error.
				c.cancelAuth(ctx)
				return fail(mech, &Error{Stage: StageAuth, Server: c.server, Command: cmdName, Err: err})
			}
			line, traceAs = base64.StdEncoding.EncodeToString(resp), "[redacted]"
		default:
			e := c.replyErr(StageAuth, cmdName, r)
			// A mechanism that decoded the server's error challenge
			// (XOAUTH2, OAUTHBEARER) knows more than the final reply says.
			if d, ok := ac.(authmech.Diagnoser); ok && e.Err == nil {
				e.Err = c.scrubDiagnosis(d.Diagnosis())
			}
			return fail(mech, e)
		}
	}
}

// authRoundTrip sends one line of a SASL exchange (traced as traceAs)
// and reads the reply; a 334 challenge keeps its text whole.
func (c *Client) authRoundTrip(ctx context.Context, line, traceAs string) (Reply, error) {
	var r Reply
	err := c.withDeadline(ctx, c.cfg.CommandTimeout, func() error {
		if err := c.wc.Cmd(line, traceAs); err != nil {
			return err
		}
		if err := c.wc.Flush(); err != nil {
			return err
		}
		code, lines, err := c.wc.ReadReply(true)
		if err != nil {
			return err
		}
		if code != 334 {
			r = parseReply(code, lines)
		} else {
			r = Reply{Code: code, Text: strings.Join(lines, "")}
		}
		return nil
	})
	return r, err
}

// cancelAuth cancels a SASL exchange with "*" (RFC 4954 section 4).
func (c *Client) cancelAuth(ctx context.Context) {
	c.withDeadline(ctx, c.cfg.CommandTimeout, func() error {
		c.wc.Cmd("*", "")
		if err := c.wc.Flush(); err != nil {
			return err
		}
		_, _, err := c.wc.ReadReply(false)
		return err
	})
}

// replyAttr is the reply group (slog.GroupValue rather than slog.Group,
// which grows its slice one attribute at a time: the same attribute).
func replyAttr(r Reply) slog.Attr {
	return slog.Attr{Key: AttrReply, Value: slog.GroupValue(slog.Int(AttrCode, r.Code), slog.String(AttrEnhanced, r.Enhanced.String()), slog.String(AttrText, r.Text))}
}

// authAttr is the auth group: the mechanism and the user.
func authAttr(mech, user string) slog.Attr {
	return slog.Attr{Key: AttrAuth, Value: slog.GroupValue(slog.String(AttrAuthMech, mech), slog.String(AttrAuthUser, user))}
}

func probe(ctx context.Context, addr Address, cfg *Config) (ConnInfo, error) {
	return probeWith(ctx, addr, cfg, nil)
}

// probeWith is probe that, when the session opened, runs extra (when not
// nil) before QUIT; its error is the probe's.
func probeWith(ctx context.Context, addr Address, cfg *Config, extra func(*Client) error) (ConnInfo, error) {
	start := time.Now()
	var info ConnInfo
	c, err := dial(ctx, addr, cfg, true, &info)
	ncfg, _ := cfg.norm()
	if c != nil {
		if extra != nil {
			err = extra(c)
		}
		if qerr := c.Quit(ctx); err == nil {
			err = qerr
		}
		info = c.infoCopy()
	} else if info.Addr == "" {
		var e *Error
		if errors.As(err, &e) {
			info.Addr = e.Server
		}
		info.Server, info.Address = addr.Host, addr
	}
	if ncfg != nil {
		attrs := []slog.Attr{slog.String(AttrServer, info.Addr)}
		if info.RemoteAddr != "" {
			attrs = append(attrs, slog.String(AttrAddr, info.RemoteAddr))
		}
		if info.Proxy != "" {
			attrs = append(attrs, slog.String(AttrProxy, info.Proxy))
		}
		if info.TLS != nil {
			cl := &Client{info: info}
			attrs = append(attrs, cl.tlsAttr())
		} else {
			attrs = append(attrs, slog.Group(AttrTLS, slog.String(AttrTLSMode, "none")))
		}
		if len(info.EHLOLines) > 0 {
			var kw []string
			for _, l := range info.EHLOLines {
				k, _, _ := strings.Cut(l, " ")
				kw = append(kw, upper(k))
			}
			attrs = append(attrs, slog.Any(AttrCapabilities, kw))
		}
		level := slog.LevelInfo
		var e *Error
		if errors.As(err, &e) {
			attrs = append(attrs, errorAttr(e))
			level = slog.LevelError
		}
		attrs = append(attrs, slog.Int64(AttrDuration, time.Since(start).Milliseconds()))
		logAttrs(ctx, ncfg.Logger, level, EventProbe, attrs...)
	}
	return info, err
}

func (c *Client) infoCopy() ConnInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.info
	i.Steps = append([]Step(nil), i.Steps...)
	if i.Extensions != nil {
		m := make(map[string]string, len(i.Extensions))
		for k, v := range i.Extensions {
			m[k] = v
		}
		i.Extensions = m
	}
	i.EHLOLines = append([]string(nil), i.EHLOLines...)
	i.AuthMechanisms = append([]string(nil), i.AuthMechanisms...)
	return i
}

// usable reports the error that keeps the session from being used.
func (c *Client) usable() error {
	if c.closed.Load() {
		if c.broken != nil {
			return fmt.Errorf("%w: %w", ErrBusy, c.broken)
		}
		return ErrClientClosed
	}
	if c.broken != nil {
		return fmt.Errorf("%w: %w", ErrBusy, c.broken)
	}
	return nil
}

func (c *Client) reset(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(); err != nil {
		return err
	}
	return c.rset(ctx)
}

func (c *Client) rset(ctx context.Context) error {
	r, err := c.cmd(ctx, StageReset, "RSET")
	if err != nil {
		return err
	}
	if r.Code != 250 {
		e := c.replyErr(StageReset, "RSET", r)
		c.breakWith(e)
		return e
	}
	c.needRset = false
	return nil
}

func (c *Client) noop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(); err != nil {
		return err
	}
	r, err := c.cmd(ctx, StageReset, "NOOP")
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return c.replyErr(StageReset, "NOOP", r)
	}
	return nil
}

func (c *Client) quit(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.close()
	if err := c.usable(); err != nil {
		return err
	}
	t := time.Now()
	r, err := c.cmd(ctx, StageQuit, "QUIT")
	if err != nil {
		return err
	}
	c.step("quit", t, r.String())
	if r.Code != 221 {
		return c.replyErr(StageQuit, "QUIT", r)
	}
	return nil
}

func (c *Client) close() error {
	var err error
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		err = c.conn.Close()
		c.watch.off()
	})
	return err
}
