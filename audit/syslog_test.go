package audit

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/peers"
	"mailwarden/internal/testcert"
)

// syslogServer is an in-process syslog receiver on 127.0.0.1 (or a unix
// socket in a temporary directory). Every message it receives goes to msgs.
type syslogServer struct {
	addr  string
	msgs  chan string
	conns chan net.Conn
	ca    string       // CA file for tcp+tls
	ln    net.Listener // for stream networks
}

func newSyslogServer(t *testing.T, network string) *syslogServer {
	t.Helper()
	s := &syslogServer{msgs: make(chan string, 100), conns: make(chan net.Conn, 10)}
	switch network {
	case NetUDP, NetUnixgram:
		var pc net.PacketConn
		var err error
		if network == NetUDP {
			pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		} else {
			path := filepath.Join(t.TempDir(), "log.sock")
			pc, err = net.ListenPacket("unixgram", path)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		s.addr = pc.LocalAddr().String()
		go func() {
			buf := make([]byte, 65536)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				s.msgs <- string(buf[:n])
			}
		}()
	default:
		var ln net.Listener
		var err error
		switch network {
		case NetUnix:
			ln, err = net.Listen("unix", filepath.Join(t.TempDir(), "log.sock"))
		case NetTCP:
			ln, err = net.Listen("tcp", "127.0.0.1:0")
		case NetTLS:
			lo, lerr := testcert.NewLoopback()
			if lerr != nil {
				t.Fatal(lerr)
			}
			s.ca = filepath.Join(t.TempDir(), "ca.pem")
			os.WriteFile(s.ca, lo.CA.CertPEM, 0o600)
			// Asking for a client certificate makes the server send its
			// TLS 1.3 session tickets after the handshake, on the wire
			// while the client is idle, as GnuTLS and OpenSSL servers do.
			ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{lo.Server.TLS()}, ClientAuth: tls.RequestClientCert})
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		s.ln = ln
		s.addr = ln.Addr().String()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				s.conns <- c
				if network == NetUnix {
					go s.readLines(c)
				} else {
					go s.readFrames(c)
				}
			}
		}()
	}
	return s
}

// readFrames reads octet-counted frames (RFC 6587 3.4.1).
func (s *syslogServer) readFrames(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		n, err := r.ReadString(' ')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(strings.TrimSuffix(n, " "))
		if err != nil {
			s.msgs <- "BAD FRAME " + n
			return
		}
		msg := make([]byte, size)
		if _, err := io.ReadFull(r, msg); err != nil {
			return
		}
		s.msgs <- string(msg)
	}
}

// readLines reads newline-terminated messages.
func (s *syslogServer) readLines(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		s.msgs <- strings.TrimSuffix(l, "\n")
	}
}

func (s *syslogServer) next(t *testing.T) string {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no syslog message received")
	}
	return ""
}

var rfc5424 = regexp.MustCompile(`^<(\d+)>1 (\S+) (\S+) (\S+) (\d+) (\S+) - (\{.*\})$`)

// checkSyslogMessage parses one RFC 5424 message and returns its JSON MSG.
func checkSyslogMessage(t *testing.T, m string, pri int, msgid string) map[string]any {
	t.Helper()
	g := rfc5424.FindStringSubmatch(m)
	if g == nil {
		t.Fatalf("not an RFC 5424 message: %q", m)
	}
	if g[1] != strconv.Itoa(pri) || g[4] != "mailwarden" || g[6] != msgid {
		t.Errorf("header = %q, want PRI %d, app mailwarden, msgid %s", m, pri, msgid)
	}
	if _, err := time.Parse(time.RFC3339Nano, g[2]); err != nil {
		t.Errorf("timestamp %q: %v", g[2], err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(g[7]), &body); err != nil {
		t.Fatalf("MSG is not JSON: %v: %q", err, g[7])
	}
	return body
}

func TestSyslogNetworks(t *testing.T) {
	for _, network := range []string{NetUDP, NetTCP, NetTLS, NetUnixgram, NetUnix} {
		t.Run(network, func(t *testing.T) {
			srv := newSyslogServer(t, network)
			u := network + "://" + srv.addr
			if network == NetUnix || network == NetUnixgram {
				u = network + "://" + srv.addr
			}
			if srv.ca != "" {
				u += "?ca=" + url.QueryEscape(srv.ca)
			}
			cfg, err := ParseSyslogURL(u)
			if err != nil {
				t.Fatal(err)
			}
			s, err := DialSyslog(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			h := NewHandler(s, nil)
			t.Cleanup(func() { h.Close() })
			log := slog.New(h)
			log.Info("smtp.send", "server", "mail.example.com:587", slog.Group("reply", "code", 250, "text", "ok: queued as ABC"))
			log.Error("smtp.error", slog.Group("error", "stage", "rcpt", "code", 550))
			b := checkSyslogMessage(t, srv.next(t), 10*8+6, "smtp.send")
			if b["seq"] != 1.0 || b["server"] != "mail.example.com:587" || b["reply"].(map[string]any)["text"] != "ok: queued as ABC" {
				t.Errorf("body = %v", b)
			}
			b = checkSyslogMessage(t, srv.next(t), 10*8+3, "smtp.error")
			if b["seq"] != 2.0 || b["level"] != "ERROR" {
				t.Errorf("body = %v", b)
			}
		})
	}
}

func TestSyslogTLSVerifiesServer(t *testing.T) {
	srv := newSyslogServer(t, NetTLS)
	// Without the CA the server's certificate is not trusted.
	cfg, _ := ParseSyslogURL("tcp+tls://" + srv.addr)
	_, err := DialSyslog(context.Background(), cfg)
	var uae x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &uae) {
		t.Fatalf("err = %v, want an unknown-authority error", err)
	}
}

func TestSyslogReconnects(t *testing.T) {
	for _, network := range []string{NetTCP, NetTLS} {
		t.Run(network, func(t *testing.T) {
			srv := newSyslogServer(t, network)
			cfg := SyslogConfig{Network: network, Addr: srv.addr, CAFile: srv.ca}
			if network == NetTLS {
				// A session cache makes the server send TLS 1.3 session
				// tickets after the handshake.
				cfg.TLS = &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			}
			s, err := DialSyslog(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			h := NewHandler(s, nil)
			t.Cleanup(func() { h.Close() })
			ctx := context.Background()
			if err := h.Record(ctx, slog.LevelInfo, "one"); err != nil {
				t.Fatal(err)
			}
			srv.next(t)
			// The server drops the connection; the next record must still
			// arrive, over a new connection.
			c := <-srv.conns
			c.Close()
			time.Sleep(50 * time.Millisecond)
			for i := range 3 {
				if err := h.Record(ctx, slog.LevelInfo, "after", slog.Int("i", i)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(30 * time.Millisecond) // let TLS session tickets arrive
			}
			for i := range 3 {
				b := checkSyslogMessage(t, srv.next(t), 86, "after")
				if b["i"] != float64(i) {
					t.Errorf("message %d: %v", i, b)
				}
			}
			// One new connection, kept for all three (TLS 1.3 session
			// tickets must not be taken for a closed connection).
			if n := len(srv.conns); n != 1 {
				t.Errorf("%d new connections, want 1", n)
			}
		})
	}
}

func TestSyslogDownFailsClosed(t *testing.T) {
	srv := newSyslogServer(t, NetTCP)
	s, err := DialSyslog(context.Background(), SyslogConfig{Network: NetTCP, Addr: srv.addr, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(Named("syslog", s), nil)
	t.Cleanup(func() { h.Close() })
	// Point the sink at a port nothing listens on: close the listener and
	// the connection.
	c := <-srv.conns
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	s.cfg.Addr = ln.Addr().String()
	ln.Close()
	c.Close()
	time.Sleep(50 * time.Millisecond)
	err = h.Record(context.Background(), slog.LevelInfo, "smtp.send")
	var se *SinkError
	if !errors.As(err, &se) || se.Sink != "syslog" {
		t.Fatalf("err = %v, want a *SinkError from syslog", err)
	}
	if h.Err() == nil || h.Stats().Failed != 1 {
		t.Errorf("Err = %v, stats = %+v", h.Err(), h.Stats())
	}
}

func TestParseSyslogURL(t *testing.T) {
	for _, tc := range []struct {
		in      string
		network string
		addr    string
		bad     bool
	}{
		{in: "unixgram:///dev/log", network: "unixgram", addr: "/dev/log"},
		{in: "unix:///run/syslog.sock", network: "unix", addr: "/run/syslog.sock"},
		{in: "udp://127.0.0.1:514", network: "udp", addr: "127.0.0.1:514"},
		{in: "udp://127.0.0.1", network: "udp", addr: "127.0.0.1:514"},
		{in: "tcp://[::1]:601", network: "tcp", addr: "[::1]:601"},
		{in: "tcp+tls://logs.example.com", network: "tcp+tls", addr: "logs.example.com:6514"},
		{in: "tcp+tls://logs.example.com:6514?ca=/etc/ca.pem&facility=local3", network: "tcp+tls", addr: "logs.example.com:6514"},
		{in: "http://127.0.0.1:514", bad: true},
		{in: "udp:///dev/log", bad: true},
		{in: "unixgram://host/dev/log", bad: true},
		{in: "tcp://u:p@127.0.0.1:514", bad: true},
		{in: "tcp://127.0.0.1:514?facility=nope", bad: true},
		{in: "tcp://127.0.0.1:514?ca=/x.pem", bad: true},
		{in: "tcp://127.0.0.1:514?colour=blue", bad: true},
	} {
		cfg, err := ParseSyslogURL(tc.in)
		if tc.bad {
			if err == nil || !strings.HasPrefix(err.Error(), "audit: ") {
				t.Errorf("%s: err = %v, want an audit error", tc.in, err)
			}
			continue
		}
		if err != nil || cfg.Network != tc.network || cfg.Addr != tc.addr {
			t.Errorf("%s: got %+v, %v", tc.in, cfg, err)
		}
	}
}

// TestSyslogRealRsyslog sends records to the rsyslog of the test
// environment over every transport it listens on and reads them back from
// the file it writes.
func TestSyslogRealRsyslog(t *testing.T) {
	file := peers.Need(t, "MW_SYSLOG_FILE", "MW_TEST_CA")
	for _, tr := range []struct{ env, network string }{
		{"MW_SYSLOG_UDP", NetUDP},
		{"MW_SYSLOG_TCP", NetTCP},
		{"MW_SYSLOG_TLS", NetTLS},
		{"MW_SYSLOG_UNIX", NetUnixgram},
	} {
		t.Run(tr.network, func(t *testing.T) {
			addr := peers.Need(t, tr.env)[0]
			cfg := SyslogConfig{Network: tr.network, Addr: addr}
			if tr.network == NetTLS {
				cfg.CAFile = file[1]
			}
			s, err := DialSyslog(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			h := NewHandler(s, nil)
			marker := fmt.Sprintf("mw-audit-%s-%d", tr.network, time.Now().UnixNano())
			if err := h.Record(context.Background(), slog.LevelWarn, "smtp.send", slog.String("marker", marker),
				slog.Group("tls", "version", "TLS 1.3"), slog.String("password", "hunter2-"+marker)); err != nil {
				t.Fatal(err)
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			line := waitForLine(t, file[0], marker)
			// rsyslog writes what it received in RFC 5424 form: the
			// header must have survived the trip, and MSG be our JSON.
			body := checkSyslogMessage(t, line, 10*8+4, "smtp.send")
			if body["msg"] != "smtp.send" || body["level"] != "WARN" || body["password"] != Redacted ||
				body["marker"] != marker || body["tls"].(map[string]any)["version"] != "TLS 1.3" {
				t.Errorf("rsyslog wrote %q", line)
			}
			if strings.Contains(line, "hunter2") {
				t.Errorf("secret reached rsyslog: %q", line)
			}
			t.Logf("rsyslog wrote: %s", line)
		})
	}
}

// waitForLine waits until the file contains a line with marker.
func waitForLine(t *testing.T, path, marker string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, marker) {
				return l
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("rsyslog did not write %s to %s", marker, path)
	return ""
}

// TestSyslogRealRsyslogTLSKeepsConnection: rsyslog's GnuTLS may send TLS 1.3
// session tickets after the handshake; the sink must not take them for a
// closed connection and redial for every record.
func TestSyslogRealRsyslogTLSKeepsConnection(t *testing.T) {
	v := peers.Need(t, "MW_SYSLOG_TLS", "MW_SYSLOG_FILE", "MW_TEST_CA")
	for _, cache := range []bool{false, true} {
		cfg := SyslogConfig{Network: NetTLS, Addr: v[0], CAFile: v[2]}
		if cache {
			cfg.TLS = &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		}
		s, err := DialSyslog(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		first := s.conn
		marker := fmt.Sprintf("mw-audit-keep-%v-%d", cache, time.Now().UnixNano())
		for i := range 3 {
			if err := s.Write(context.Background(), &Entry{Time: time.Now(), Msg: "smtp.probe", members: []byte(`"marker":"` + marker + `","i":` + strconv.Itoa(i))}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if s.conn != first {
			t.Errorf("session cache %v: the sink redialled a healthy connection", cache)
		}
		s.Close()
		waitForLine(t, v[1], marker+`","i":2`)
	}
}
