package firewall

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// server is an in-process TCP server on 127.0.0.1:0 that runs handle for
// each connection. Cleanup closes the listener and every connection and
// waits for the handlers.
type server struct {
	l     net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func serve(t testing.TB, tlsConfig *tls.Config, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsConfig != nil {
		l = tls.NewListener(l, tlsConfig)
	}
	s := &server{l: l, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.track(c, true)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer s.track(c, false)
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return l.Addr().String()
}

func (s *server) track(c net.Conn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		s.conns[c] = true
	} else {
		delete(s.conns, c)
	}
}

// greeter is a destination that sends an SMTP-like greeting and echoes
// what it reads.
func greeter(t testing.TB) string {
	return serve(t, nil, func(c net.Conn) {
		io.WriteString(c, "220 greeter ready\r\n")
		io.Copy(c, c)
	})
}

// relay copies between the client (reading from cr, which may hold
// buffered bytes) and the destination until both sides have finished,
// passing each end of stream on as a half close where the connection
// allows it, so a final close_notify or QUIT reply is not cut off.
func relay(client net.Conn, cr io.Reader, dst net.Conn) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(dst, cr); closeWrite(dst); done <- struct{}{} }()
	go func() { io.Copy(client, dst); closeWrite(client); done <- struct{}{} }()
	<-done
	<-done
	client.Close()
	dst.Close()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

// dialLoopback is how the fake proxies reach a destination: only
// localhost and loopback addresses, so that no test resolves or reaches a
// name off this machine.
func dialLoopback(addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, &net.AddrError{Err: "fake proxy reaches loopback only", Addr: addr}
	}
	return net.Dial("tcp", addr)
}

// request records what a fake proxy was asked for.
type request struct {
	mu    sync.Mutex
	hosts []string // destination as the proxy received it
	users []string
}

func (r *request) add(host, user string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hosts = append(r.hosts, host)
	r.users = append(r.users, user)
}

func (r *request) last() (string, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.hosts) == 0 {
		return "", ""
	}
	return r.hosts[len(r.hosts)-1], r.users[len(r.users)-1]
}

// fakeSOCKS5 is a relaying SOCKS5 proxy (RFC 1928/1929).
type fakeSOCKS5 struct {
	user, password string // required when user is set
	boundDomain    bool   // reply with a domain name as bound address
	req            request
}

func (f *fakeSOCKS5) start(t testing.TB) string { return serve(t, nil, f.handle) }

func (f *fakeSOCKS5) handle(c net.Conn) {
	h := make([]byte, 2)
	if _, err := io.ReadFull(c, h); err != nil || h[0] != 5 {
		return
	}
	methods := make([]byte, h[1])
	if _, err := io.ReadFull(c, methods); err != nil {
		return
	}
	want := byte(0)
	if f.user != "" {
		want = 2
	}
	if !bytes.Contains(methods, []byte{want}) {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, want})
	user := ""
	if want == 2 {
		b := make([]byte, 2)
		if _, err := io.ReadFull(c, b); err != nil {
			return
		}
		u := make([]byte, b[1])
		io.ReadFull(c, u)
		io.ReadFull(c, b[:1])
		p := make([]byte, b[0])
		io.ReadFull(c, p)
		if string(u) != f.user || string(p) != f.password {
			c.Write([]byte{1, 1})
			return
		}
		c.Write([]byte{1, 0})
		user = string(u)
	}
	r := make([]byte, 4)
	if _, err := io.ReadFull(c, r); err != nil {
		return
	}
	var host string
	switch r[3] {
	case 1, 4:
		ip := make([]byte, 4)
		if r[3] == 4 {
			ip = make([]byte, 16)
		}
		io.ReadFull(c, ip)
		host = net.IP(ip).String()
	case 3:
		l := make([]byte, 1)
		io.ReadFull(c, l)
		n := make([]byte, l[0])
		io.ReadFull(c, n)
		host = string(n)
	}
	p := make([]byte, 2)
	if _, err := io.ReadFull(c, p); err != nil {
		return
	}
	f.req.add(host, user)
	dst, err := dialLoopback(net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(p)))))
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	if f.boundDomain {
		name := "relay.proxy.example"
		c.Write(append(append([]byte{5, 0, 0, 3, byte(len(name))}, name...), 0x04, 0x38))
	} else {
		a := dst.LocalAddr().(*net.TCPAddr)
		c.Write(append(append([]byte{5, 0, 0, 1}, a.IP.To4()...), byte(a.Port>>8), byte(a.Port)))
	}
	relay(c, c, dst)
}

// fakeSOCKS4 is a relaying SOCKS4 and SOCKS4a proxy.
type fakeSOCKS4 struct {
	req request
}

func (f *fakeSOCKS4) start(t testing.TB) string { return serve(t, nil, f.handle) }

func (f *fakeSOCKS4) handle(c net.Conn) {
	br := bufio.NewReader(c)
	h := make([]byte, 8)
	if _, err := io.ReadFull(br, h); err != nil || h[0] != 4 || h[1] != 1 {
		return
	}
	user, err := br.ReadString(0)
	if err != nil {
		return
	}
	host := net.IP(h[4:8]).String()
	if h[4] == 0 && h[5] == 0 && h[6] == 0 && h[7] != 0 {
		if host, err = br.ReadString(0); err != nil {
			return
		}
		host = host[:len(host)-1]
	}
	f.req.add(host, user[:len(user)-1])
	dst, err := dialLoopback(net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(h[2:4])))))
	if err != nil {
		c.Write([]byte{0, 91, 0, 0, 0, 0, 0, 0})
		return
	}
	c.Write([]byte{0, 90, 0, 0, 0, 0, 0, 0})
	relay(c, br, dst)
}

// fakeHTTP is a relaying HTTP CONNECT proxy with optional Basic auth.
type fakeHTTP struct {
	user, password string
	// coalesce sends the 200 response and the destination's first bytes
	// in one write, as a proxy may.
	coalesce bool
	// extraHeader is added to the 200 response.
	extraHeader string
	req         request
}

func (f *fakeHTTP) start(t testing.TB, tlsConfig *tls.Config) string {
	return serve(t, tlsConfig, f.handle)
}

func (f *fakeHTTP) handle(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n")
		return
	}
	user := ""
	if f.user != "" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(f.user+":"+f.password))
		if req.Header.Get("Proxy-Authorization") != want {
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"fake\"\r\nContent-Length: 0\r\n\r\n")
			return
		}
		user = f.user
	}
	f.req.add(req.Host, user)
	dst, err := dialLoopback(req.Host)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	resp := "HTTP/1.1 200 Connection established\r\n" + f.extraHeader + "\r\n"
	if f.coalesce {
		// A server that speaks first answers at once; for one that does
		// not (implicit TLS) there is nothing to coalesce.
		dst.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		buf := make([]byte, 512)
		n, _ := dst.Read(buf)
		dst.SetReadDeadline(time.Time{})
		resp += string(buf[:n])
	}
	io.WriteString(c, resp)
	relay(c, br, dst)
}
