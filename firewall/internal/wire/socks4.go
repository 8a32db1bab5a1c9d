package wire

import (
	"fmt"
	"io"
	"net/netip"
)

// SOCKS4 wire values. SOCKS4 has no RFC; the protocol is described in
// "SOCKS: A protocol for TCP proxy across firewalls" (Ying-Da Lee) and
// the SOCKS4a extension in "SOCKS 4A: A Simple Extension to SOCKS 4".
const (
	socks4Version    = 0x04
	socks4CmdConnect = 0x01
	socks4Granted    = 90
)

// SOCKS4Connect sends a SOCKS4 CONNECT request for host (an IPv4 address,
// or for SOCKS4a also a name) and reads exactly the 8-byte reply.
func SOCKS4Connect(rw io.ReadWriter, proto, userID, host string, port int) error {
	req := make([]byte, 0, 10+len(userID)+len(host))
	req = append(req, socks4Version, socks4CmdConnect, byte(port>>8), byte(port))
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().Is4() {
		req = append(req, ip.Unmap().AsSlice()...)
		req = append(req, userID...)
		req = append(req, 0)
	} else {
		// SOCKS4a: the address 0.0.0.x (x non-zero) says a name follows
		// the user-id.
		req = append(req, 0, 0, 0, 1)
		req = append(req, userID...)
		req = append(req, 0)
		req = append(req, host...)
		req = append(req, 0)
	}
	if _, err := rw.Write(req); err != nil {
		return ioFail(proto, OpConnect, "connect request", err)
	}
	return ReadSOCKS4Reply(rw, proto)
}

// ReadSOCKS4Reply reads exactly the 8-byte SOCKS4 reply from r.
func ReadSOCKS4Reply(r io.Reader, proto string) error {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return connectEOF(proto, err)
	}
	// The reply version is 0; some proxies put 4 there.
	if b[0] != 0 && b[0] != socks4Version {
		return &Error{Op: OpConnect, Msg: fmt.Sprintf("%s: proxy answered version %d: not a SOCKS4 reply", proto, b[0])}
	}
	if b[1] != socks4Granted {
		return &Error{Op: OpConnect, Code: int(b[1]), Msg: proto + ": " + SOCKS4ReplyText(b[1])}
	}
	return nil
}
