package fakes

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// SOCKS5 is an embedded SOCKS5 proxy (RFC 1928) with username/password
// authentication (RFC 1929) that connects only to loopback addresses. It
// stands in, in the demo, for the proxy many alerting hosts must use.
type SOCKS5 struct {
	ln       net.Listener
	user     string
	password string
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	tunnels  int
}

// StartSOCKS5 listens on a free 127.0.0.1 port.
func StartSOCKS5(user, password string) (*SOCKS5, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &SOCKS5{ln: ln, user: user, password: password, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr returns the proxy's address.
func (p *SOCKS5) Addr() string { return p.ln.Addr().String() }

// Tunnels returns how many tunnels the proxy has opened.
func (p *SOCKS5) Tunnels() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tunnels
}

// Close stops the proxy and every tunnel.
func (p *SOCKS5) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *SOCKS5) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *SOCKS5) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c, true)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.track(c, false)
			defer c.Close()
			p.handle(c)
		}()
	}
}

var errSOCKS = errors.New("socks5: protocol error")

func (p *SOCKS5) handle(c net.Conn) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || hdr[0] != 5 {
		return
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(c, methods); err != nil {
		return
	}
	offered := false
	for _, m := range methods {
		offered = offered || m == 2
	}
	if !offered {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, 2})
	if !p.authenticate(c) {
		c.Write([]byte{1, 1})
		return
	}
	c.Write([]byte{1, 0})
	target, err := readRequest(c)
	if err != nil {
		return
	}
	ip := net.ParseIP(target.host)
	if target.host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || !ip.IsLoopback() {
		c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}) // connection not allowed by ruleset
		return
	}
	up, err := net.DialTimeout("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(target.port)), 5*time.Second)
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) // connection refused
		return
	}
	p.track(up, true)
	defer p.track(up, false)
	defer up.Close()
	p.mu.Lock()
	p.tunnels++
	p.mu.Unlock()
	local := up.LocalAddr().(*net.TCPAddr)
	reply := []byte{5, 0, 0, 1}
	reply = append(reply, local.IP.To4()...)
	reply = binary.BigEndian.AppendUint16(reply, uint16(local.Port))
	if _, err := c.Write(reply); err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	<-done
}

func (p *SOCKS5) authenticate(c net.Conn) bool {
	var v [2]byte
	if _, err := io.ReadFull(c, v[:]); err != nil || v[0] != 1 {
		return false
	}
	user := make([]byte, v[1])
	if _, err := io.ReadFull(c, user); err != nil {
		return false
	}
	var n [1]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return false
	}
	pw := make([]byte, n[0])
	if _, err := io.ReadFull(c, pw); err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(user, []byte(p.user)) == 1 && subtle.ConstantTimeCompare(pw, []byte(p.password)) == 1
}

type target struct {
	host string
	port int
}

func readRequest(c net.Conn) (target, error) {
	var h [4]byte
	if _, err := io.ReadFull(c, h[:]); err != nil || h[0] != 5 || h[1] != 1 {
		c.Write([]byte{5, 7, 0, 1, 0, 0, 0, 0, 0, 0}) // command not supported
		return target{}, errSOCKS
	}
	var t target
	switch h[3] {
	case 1:
		var a [4]byte
		if _, err := io.ReadFull(c, a[:]); err != nil {
			return t, err
		}
		t.host = net.IP(a[:]).String()
	case 4:
		var a [16]byte
		if _, err := io.ReadFull(c, a[:]); err != nil {
			return t, err
		}
		t.host = net.IP(a[:]).String()
	case 3:
		var n [1]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return t, err
		}
		name := make([]byte, n[0])
		if _, err := io.ReadFull(c, name); err != nil {
			return t, err
		}
		t.host = string(name)
	default:
		return t, errSOCKS
	}
	var port [2]byte
	if _, err := io.ReadFull(c, port[:]); err != nil {
		return t, err
	}
	t.port = int(binary.BigEndian.Uint16(port[:]))
	return t, nil
}
