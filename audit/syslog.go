package audit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

// Syslog networks accepted by SyslogConfig.Network.
const (
	NetUnixgram = "unixgram" // local socket, one datagram per message (/dev/log)
	NetUnix     = "unix"     // local stream socket, one message per line
	NetUDP      = "udp"      // RFC 5426, one datagram per message
	NetTCP      = "tcp"      // RFC 6587 octet-counting framing
	NetTLS      = "tcp+tls"  // RFC 5425
	NetRELP     = "relp"     // rsyslog's RELP, each record acknowledged
	NetRELPTLS  = "relp+tls" // RELP over TLS
)

// CanFailClose reports whether the transport can hold a fail-closed trail,
// that is whether a record that did not arrive makes Write fail:
//
//   - relp, relp+tls: yes. Write returns once the collector acknowledged
//     the record (rsp 200), and fails when it did not within Timeout.
//   - tcp, tcp+tls, unix: late. Write returns once the kernel took the
//     bytes; a collector that stopped (SIGSTOP) or died after accepting
//     them loses them without an error, and only a later write (or the
//     check before it) notices the dead connection.
//   - unixgram: a missing local daemon is reported; a datagram the daemon
//     drops is not.
//   - udp: never. A datagram to a collector that is down is lost without
//     an error. New refuses it under FailClosed (ErrSyslogFailOpenOnly).
func (c SyslogConfig) CanFailClose() bool { return c.Network != NetUDP }

func (c SyslogConfig) relp() bool { return c.Network == NetRELP || c.Network == NetRELPTLS }

func (c SyslogConfig) tlsNet() bool { return c.Network == NetTLS || c.Network == NetRELPTLS }

// facilities maps the RFC 5424 facility names to their codes.
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
	"news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12,
	"audit": 13, "alert": 14, "clock": 15, "local0": 16, "local1": 17,
	"local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// SyslogConfig configures a Syslog sink. ParseSyslogURL builds one from the
// URL form.
type SyslogConfig struct {
	// Network is one of NetUnixgram, NetUnix, NetUDP, NetTCP, NetTLS.
	Network string
	// Addr is host:port, or the socket path for unix and unixgram.
	Addr string
	// TLS is the client configuration for NetTLS; it is cloned. Nil means
	// the system roots (or CAFile) and a ServerName taken from Addr. The
	// server certificate is always verified.
	TLS *tls.Config
	// CAFile, when set, is a PEM file of CA certificates trusted for the
	// server certificate instead of the system roots (NetTLS, NetRELPTLS).
	CAFile string
	// CertFile and KeyFile, when set, are a PEM client certificate and
	// its key presented to the collector (NetTLS, NetRELPTLS).
	CertFile, KeyFile string
	// Facility is the RFC 5424 facility name; "" means "authpriv"
	// (security and authorization messages, kept private).
	Facility string
	// AppName is the APP-NAME field; "" means "mailwarden".
	AppName string
	// Hostname is the HOSTNAME field; "" means os.Hostname().
	Hostname string
	// Timeout bounds each dial and write, and for RELP the wait for the
	// collector's acknowledgement of each record; 0 means 5 seconds.
	Timeout time.Duration
}

// ParseSyslogURL parses the --syslog URL form:
//
//	unixgram:///dev/log
//	unix:///run/syslog.sock
//	udp://127.0.0.1:514
//	tcp://127.0.0.1:601
//	tcp+tls://logs.example.com:6514?ca=/etc/mailwarden/syslog-ca.pem
//	relp://127.0.0.1:2514?timeout=2s
//	relp+tls://logs.example.com:2515?ca=ca.pem&cert=client.pem&key=client.key
//
// with optional query parameters facility (a name such as local0), app,
// timeout (a Go duration: Timeout) and, for tcp+tls and relp+tls, ca, cert
// and key. A host without a port gets 514 (udp, tcp), 6514 (tcp+tls) or
// 2514 (relp, relp+tls).
func ParseSyslogURL(raw string) (SyslogConfig, error) {
	var cfg SyslogConfig
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, which could hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return cfg, fmt.Errorf("audit: syslog url: %w", err)
	}
	if u.User != nil {
		return cfg, fmt.Errorf("audit: syslog url %q: credentials are not supported", u.Redacted())
	}
	raw = u.String()
	cfg.Network = u.Scheme
	switch u.Scheme {
	case NetUnixgram, NetUnix:
		if u.Host != "" || u.Path == "" {
			return cfg, fmt.Errorf("audit: syslog url %q: want %s:///path/to/socket", raw, u.Scheme)
		}
		cfg.Addr = u.Path
	case NetUDP, NetTCP, NetTLS, NetRELP, NetRELPTLS:
		if u.Host == "" || (u.Path != "" && u.Path != "/") {
			return cfg, fmt.Errorf("audit: syslog url %q: want %s://host:port", raw, u.Scheme)
		}
		cfg.Addr = u.Host
		if u.Port() == "" {
			port := "514"
			switch u.Scheme {
			case NetTLS:
				port = "6514"
			case NetRELP, NetRELPTLS:
				port = "2514"
			}
			cfg.Addr = net.JoinHostPort(u.Hostname(), port)
		}
	default:
		return cfg, fmt.Errorf("audit: syslog url %q: unknown scheme (want unixgram, unix, udp, tcp, tcp+tls, relp or relp+tls)", raw)
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "facility", "app", "ca", "cert", "key", "timeout":
		default:
			return cfg, fmt.Errorf("audit: syslog url: unknown parameter %q", k)
		}
	}
	cfg.Facility = q.Get("facility")
	cfg.AppName = q.Get("app")
	cfg.CAFile = q.Get("ca")
	cfg.CertFile = q.Get("cert")
	cfg.KeyFile = q.Get("key")
	if (cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "") && !cfg.tlsNet() {
		return cfg, fmt.Errorf("audit: syslog url: ca, cert and key are only for tcp+tls and relp+tls")
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return cfg, fmt.Errorf("audit: syslog url: cert and key go together")
	}
	if t := q.Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return cfg, fmt.Errorf("audit: syslog url: timeout %q is not a positive duration such as 2s", t)
		}
		cfg.Timeout = d
	}
	if _, ok := facilities[cfg.Facility]; cfg.Facility != "" && !ok {
		return cfg, fmt.Errorf("audit: syslog url: unknown facility %q", cfg.Facility)
	}
	return cfg, nil
}

// A Syslog is a Sink that sends each entry as one RFC 5424 message:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG
//
// PRI is the facility and a severity from the slog level (Error→err,
// Warn→warning, Info→info, Debug→debug); TIMESTAMP is the record's UTC time
// with microseconds; MSGID is the record's message (e.g. smtp.send); there
// is no STRUCTURED-DATA; MSG is the entry as one JSON object, the same
// members as a line of the File sink minus prev and hash, plus "seq", this
// sink's own counter, so a receiver can see lost datagrams. MSG is ASCII
// only, so it needs no BOM.
//
// Datagram networks send one message per datagram; TCP and TLS frame each
// message with octet counting (RFC 6587 3.4.1, as RFC 5425 requires for
// TLS); a local unix stream socket gets one message per line, as local
// syslog daemons expect. When a send fails the connection is closed,
// redialled and the message sent once more before Write reports the
// failure; the next Write dials again. Before each write on a stream the
// sink checks whether the server closed the connection, so a restarted
// server does not swallow the first message.
//
// RELP (relp, relp+tls) frames each message as a RELP "syslog" command
// and Write waits for the collector's "rsp 200" for it: a record is
// acknowledged or Write fails (after Timeout), which is what a fail-closed
// trail needs. rsyslog's imrelp acknowledges once the record is in its
// queue, not once it is on disk (configure the queue as disk-assisted where
// that matters). A record sent again after a broken connection may reach
// the collector twice; the chain_seq member tells copies apart.
//
// UDP gives no delivery guarantee: a message to a server that is down is
// lost without an error, and New refuses it under FailClosed. TCP and TLS
// detect a dead collector late (see CanFailClose): use RELP where the
// fail-closed policy must hold. Receivers limit message size (rsyslog: 8 KiB by default,
// $MaxMessageSize); a longer record is truncated by the receiver.
type Syslog struct {
	cfg      SyslogConfig
	tls      *tls.Config
	facility int
	host     string
	pid      string

	mu     sync.Mutex
	conn   net.Conn
	relp   *relpSession // the RELP session on conn (relp, relp+tls)
	seq    uint64
	closed bool
	buf    []byte
}

// DialSyslog connects to the syslog server described by cfg. It fails when
// the configuration is invalid or the first connection cannot be made.
func DialSyslog(ctx context.Context, cfg SyslogConfig) (*Syslog, error) {
	s := &Syslog{cfg: cfg, pid: strconv.Itoa(os.Getpid())}
	switch cfg.Network {
	case NetUnixgram, NetUnix, NetUDP, NetTCP, NetTLS, NetRELP, NetRELPTLS:
	default:
		return nil, fmt.Errorf("audit: syslog: unknown network %q", cfg.Network)
	}
	if cfg.Addr == "" {
		return nil, errors.New("audit: syslog: no address")
	}
	if s.cfg.Timeout <= 0 {
		s.cfg.Timeout = 5 * time.Second
	}
	if s.cfg.AppName == "" {
		s.cfg.AppName = "mailwarden"
	}
	s.cfg.AppName = headerField(s.cfg.AppName, 48)
	fac := cfg.Facility
	if fac == "" {
		fac = "authpriv"
	}
	code, ok := facilities[fac]
	if !ok {
		return nil, fmt.Errorf("audit: syslog: unknown facility %q", fac)
	}
	s.facility = code
	s.host = cfg.Hostname
	if s.host == "" {
		s.host, _ = os.Hostname()
	}
	s.host = headerField(s.host, 255)
	if cfg.tlsNet() {
		if cfg.TLS != nil {
			s.tls = cfg.TLS.Clone()
		} else {
			s.tls = &tls.Config{}
		}
		if s.tls.ServerName == "" {
			host, _, err := net.SplitHostPort(cfg.Addr)
			if err != nil {
				return nil, fmt.Errorf("audit: syslog: %w", err)
			}
			s.tls.ServerName = host
		}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("audit: syslog: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("audit: syslog: no certificate in %s", cfg.CAFile)
			}
			s.tls.RootCAs = pool
		}
		if cfg.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("audit: syslog: client certificate: %w", err)
			}
			s.tls.Certificates = []tls.Certificate{cert}
		}
		if s.tls.MinVersion == 0 {
			s.tls.MinVersion = tls.VersionTLS12
		}
	}
	if err := s.dial(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// headerField makes s a valid RFC 5424 header field: printable US-ASCII
// without spaces, at most n characters, "-" when empty.
func headerField(s string, n int) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < n; i++ {
		if c := s[i]; c > ' ' && c < 0x7f {
			b = append(b, c)
		} else {
			b = append(b, '_')
		}
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

func (s *Syslog) dial(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	var conn net.Conn
	var err error
	switch s.cfg.Network {
	case NetTLS, NetRELPTLS:
		td := tls.Dialer{NetDialer: &d, Config: s.tls}
		conn, err = td.DialContext(ctx, "tcp", s.cfg.Addr)
	case NetRELP:
		conn, err = d.DialContext(ctx, "tcp", s.cfg.Addr)
	default:
		conn, err = d.DialContext(ctx, s.cfg.Network, s.cfg.Addr)
	}
	if err != nil {
		return fmt.Errorf("audit: syslog: %w", err)
	}
	if s.cfg.relp() {
		r, err := relpOpen(conn, s.cfg.Timeout)
		if err != nil {
			conn.Close()
			return fmt.Errorf("audit: syslog: %s: opening the RELP session: %w", s.cfg.Addr, err)
		}
		s.relp = r
	}
	s.conn = conn
	return nil
}

func (s *Syslog) stream() bool { return s.cfg.Network != NetUDP && s.cfg.Network != NetUnixgram }

// severity maps a slog level to an RFC 5424 severity.
func severity(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	}
	return 7
}

// format appends the RFC 5424 message for e, framed for the network.
func (s *Syslog) format(dst []byte, e *Entry, seq uint64) []byte {
	start := len(dst)
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(s.facility*8+severity(e.Level)), 10)
	dst = append(dst, ">1 "...)
	dst = e.Time.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
	dst = append(dst, ' ')
	dst = append(dst, s.host...)
	dst = append(dst, ' ')
	dst = append(dst, s.cfg.AppName...)
	dst = append(dst, ' ')
	dst = append(dst, s.pid...)
	dst = append(dst, ' ')
	dst = append(dst, headerField(e.Msg, 32)...)
	dst = append(dst, ` - {"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, ',')
	if e.chainSeq > 0 {
		dst = append(dst, `"chain_seq":`...)
		dst = strconv.AppendUint(dst, e.chainSeq, 10)
		dst = append(dst, `,"chain_hash":"`...)
		dst = hex.AppendEncode(dst, e.chainHash[:])
		dst = append(dst, `",`...)
	}
	dst = e.appendMembers(dst)
	dst = append(dst, '}')
	switch s.cfg.Network {
	case NetUDP, NetUnixgram, NetRELP, NetRELPTLS:
		return dst
	case NetUnix:
		// Local stream sockets (syslog-ng's unix-stream, journald)
		// expect one message per line; MSG never holds a newline.
		return append(dst, '\n')
	}
	msg := append([]byte(nil), dst[start:]...)
	dst = strconv.AppendInt(dst[:start], int64(len(msg)), 10)
	dst = append(dst, ' ')
	return append(dst, msg...)
}

// Write sends e, redialling once when the connection failed.
func (s *Syslog) Write(ctx context.Context, e *Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.seq++
	s.buf = s.format(s.buf[:0], e, s.seq)
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if s.conn != nil && !s.alive() {
			s.closeConn()
		}
		if s.conn == nil {
			if err = s.dial(ctx); err != nil {
				if errors.Is(err, errRELPNoAck) {
					// A collector that accepts connections but does
					// not answer (stopped): a second try would only
					// hold the record as long again.
					return err
				}
				continue
			}
		}
		if s.relp != nil {
			if err = s.relp.send(s.buf); err == nil {
				return nil
			}
			err = fmt.Errorf("audit: syslog: %s: %w", s.cfg.Addr, err)
			s.closeConn()
			var re *RELPError
			if errors.Is(err, errRELPNoAck) || errors.As(err, &re) {
				// Not acknowledged in time: the collector holds the
				// record or not, and sending it again on a new session
				// could only add a copy or wait as long again. Refused:
				// it said why. Either way the caller learns it failed.
				return err
			}
			continue
		}
		s.conn.SetWriteDeadline(time.Now().Add(s.cfg.Timeout))
		if _, err = s.conn.Write(s.buf); err == nil {
			return nil
		}
		err = fmt.Errorf("audit: syslog: %w", err)
		s.closeConn()
	}
	return err
}

func (s *Syslog) closeConn() {
	if s.relp != nil {
		s.relp.abort()
		s.relp = nil
	}
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// Close closes the connection; later writes return ErrClosed.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn == nil {
		return nil
	}
	if s.relp != nil {
		s.relp.close()
		s.relp = nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// String describes the destination, e.g. "syslog tcp+tls://127.0.0.1:6514".
func (s *Syslog) String() string { return "syslog " + s.cfg.Network + "://" + s.cfg.Addr }

type sockState int

const (
	sockIdle   sockState = iota // open, nothing to read
	sockData                    // something to read
	sockClosed                  // the peer closed or reset the connection
)

// alive reports whether a stream connection is still open. A write to a
// connection the server closed seems to succeed and the message is lost with
// the reset that follows, so the sink looks first. A syslog server sends
// nothing, except, over TLS 1.3, session tickets after the handshake: those
// are read (briefly) and the connection kept.
func (s *Syslog) alive() bool {
	if !s.stream() {
		return true
	}
	tc, isTLS := s.conn.(*tls.Conn)
	raw := s.conn
	if isTLS {
		raw = tc.NetConn()
	}
	switch peek(raw) {
	case sockIdle:
		return true
	case sockClosed:
		return false
	}
	if !isTLS {
		return false
	}
	var b [1]byte
	tc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	n, err := tc.Read(b[:])
	tc.SetReadDeadline(time.Time{})
	var ne net.Error
	return n == 0 && errors.As(err, &ne) && ne.Timeout() && peek(raw) != sockClosed
}
