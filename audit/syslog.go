package audit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
)

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
	// server certificate instead of the system roots (NetTLS only).
	CAFile string
	// Facility is the RFC 5424 facility name; "" means "authpriv"
	// (security and authorization messages, kept private).
	Facility string
	// AppName is the APP-NAME field; "" means "mailwarden".
	AppName string
	// Hostname is the HOSTNAME field; "" means os.Hostname().
	Hostname string
	// Timeout bounds each dial and write; 0 means 5 seconds.
	Timeout time.Duration
}

// ParseSyslogURL parses the --syslog URL form:
//
//	unixgram:///dev/log
//	unix:///run/syslog.sock
//	udp://127.0.0.1:514
//	tcp://127.0.0.1:601
//	tcp+tls://logs.example.com:6514?ca=/etc/mailwarden/syslog-ca.pem
//
// with optional query parameters facility (a name such as local0), app and
// ca (tcp+tls only). A host without a port gets 514 (udp, tcp) or 6514
// (tcp+tls).
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
	case NetUDP, NetTCP, NetTLS:
		if u.Host == "" || (u.Path != "" && u.Path != "/") {
			return cfg, fmt.Errorf("audit: syslog url %q: want %s://host:port", raw, u.Scheme)
		}
		cfg.Addr = u.Host
		if u.Port() == "" {
			port := "514"
			if u.Scheme == NetTLS {
				port = "6514"
			}
			cfg.Addr = net.JoinHostPort(u.Hostname(), port)
		}
	default:
		return cfg, fmt.Errorf("audit: syslog url %q: unknown scheme (want unixgram, unix, udp, tcp or tcp+tls)", raw)
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "facility", "app", "ca":
		default:
			return cfg, fmt.Errorf("audit: syslog url: unknown parameter %q", k)
		}
	}
	cfg.Facility = q.Get("facility")
	cfg.AppName = q.Get("app")
	cfg.CAFile = q.Get("ca")
	if cfg.CAFile != "" && cfg.Network != NetTLS {
		return cfg, fmt.Errorf("audit: syslog url: ca is only for tcp+tls")
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
// UDP gives no delivery guarantee: a message to a server that is down is
// lost without an error. Use TCP or TLS where the fail-closed policy must
// hold. Receivers limit message size (rsyslog: 8 KiB by default,
// $MaxMessageSize); a longer record is truncated by the receiver.
type Syslog struct {
	cfg      SyslogConfig
	tls      *tls.Config
	facility int
	host     string
	pid      string

	mu     sync.Mutex
	conn   net.Conn
	seq    uint64
	closed bool
	buf    []byte
}

// DialSyslog connects to the syslog server described by cfg. It fails when
// the configuration is invalid or the first connection cannot be made.
func DialSyslog(ctx context.Context, cfg SyslogConfig) (*Syslog, error) {
	s := &Syslog{cfg: cfg, pid: strconv.Itoa(os.Getpid())}
	switch cfg.Network {
	case NetUnixgram, NetUnix, NetUDP, NetTCP, NetTLS:
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
	if cfg.Network == NetTLS {
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
	case NetTLS:
		td := tls.Dialer{NetDialer: &d, Config: s.tls}
		conn, err = td.DialContext(ctx, "tcp", s.cfg.Addr)
	default:
		conn, err = d.DialContext(ctx, s.cfg.Network, s.cfg.Addr)
	}
	if err != nil {
		return fmt.Errorf("audit: syslog: %w", err)
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
	dst = e.appendMembers(dst)
	dst = append(dst, '}')
	switch s.cfg.Network {
	case NetUDP, NetUnixgram:
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
			s.conn.Close()
			s.conn = nil
		}
		if s.conn == nil {
			if err = s.dial(ctx); err != nil {
				continue
			}
		}
		s.conn.SetWriteDeadline(time.Now().Add(s.cfg.Timeout))
		if _, err = s.conn.Write(s.buf); err == nil {
			return nil
		}
		err = fmt.Errorf("audit: syslog: %w", err)
		s.conn.Close()
		s.conn = nil
	}
	return err
}

// Close closes the connection; later writes return ErrClosed.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn == nil {
		return nil
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
