package wire

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"mailwarden/internal/scrub"
)

// MaxConnectResponse bounds the status line and header of a CONNECT
// response; a longer one is an error.
const MaxConnectResponse = 16 << 10

// HTTPConnect sends the CONNECT request on c and reads the response. On a
// 2xx answer it returns the tunnel: c itself, or c behind the bytes that
// were read past the response header (the mail server's greeting).
func HTTPConnect(c net.Conn, target, user, password string, auth bool) (net.Conn, error) {
	var req bytes.Buffer
	req.WriteString("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n")
	var token string
	if auth {
		token = base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
		req.WriteString("Proxy-Authorization: Basic " + token + "\r\n")
	}
	req.WriteString("\r\n")
	_, err := c.Write(req.Bytes())
	clear(req.Bytes())
	if err != nil {
		return nil, ioFail(ProtoHTTP, OpConnect, "CONNECT request", err)
	}
	br := bufio.NewReaderSize(c, 4096)
	resp, err := ReadConnectResponse(br)
	// RFC 9110 section 15.2: a client must be able to parse 1xx interim
	// responses before the final one; skip a few.
	for i := 0; err == nil && resp.Status < 200 && resp.Status != 101 && i < 4; i++ {
		resp, err = ReadConnectResponse(br)
	}
	if err != nil {
		return nil, err
	}
	if resp.Status/100 != 2 {
		return nil, ConnectFailure(resp, auth, password, token)
	}
	if br.Buffered() == 0 {
		return c, nil
	}
	return &bufferedConn{Conn: c, br: br}, nil
}

// ConnectResponse is the part of a CONNECT response the dialer uses.
type ConnectResponse struct {
	Status       int
	Reason       string
	Authenticate []string // Proxy-Authenticate values
}

// ReadConnectResponse reads an HTTP/1.x response status line and header
// from br, at most MaxConnectResponse bytes, leaving everything after the
// blank line in br. RFC 9110 section 9.3.6: a 2xx response to CONNECT has
// no content, whatever its Content-Length says.
func ReadConnectResponse(br *bufio.Reader) (*ConnectResponse, error) {
	const P = ProtoHTTP
	read := 0
	line := func() (string, error) {
		var l []byte
		for {
			frag, err := br.ReadSlice('\n')
			read += len(frag)
			if read > MaxConnectResponse {
				return "", &Error{Op: OpConnect, Msg: fmt.Sprintf("%s: proxy response header longer than %d bytes", P, MaxConnectResponse)}
			}
			l = append(l, frag...)
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				return "", ioFail(P, OpConnect, "CONNECT response", err)
			}
			// One line ending: LF or CRLF. A stray CR is not an empty line.
			return strings.TrimSuffix(strings.TrimSuffix(string(l), "\n"), "\r"), nil
		}
	}
	status, err := line()
	if err != nil {
		return nil, err
	}
	resp, ok := parseStatusLine(status)
	if !ok {
		return nil, &Error{Op: OpConnect, Msg: fmt.Sprintf("%s: proxy did not answer with HTTP: %s", P, quoteProxyText(status))}
	}
	for {
		l, err := line()
		if err != nil {
			return nil, err
		}
		if l == "" {
			return resp, nil
		}
		if l[0] == ' ' || l[0] == '\t' {
			continue // obsolete line folding of a header we do not use
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, &Error{Op: OpConnect, Code: resp.Status, Msg: fmt.Sprintf("%s: proxy sent a malformed header line: %s", P, quoteProxyText(l))}
		}
		if textproto.CanonicalMIMEHeaderKey(k) == "Proxy-Authenticate" && len(resp.Authenticate) < 8 {
			resp.Authenticate = append(resp.Authenticate, strings.TrimSpace(v))
		}
	}
}

// parseStatusLine parses "HTTP/1.x NNN reason".
func parseStatusLine(l string) (*ConnectResponse, bool) {
	proto, rest, ok := strings.Cut(l, " ")
	if !ok || (proto != "HTTP/1.1" && proto != "HTTP/1.0") {
		return nil, false
	}
	code, reason, _ := strings.Cut(rest, " ")
	if len(code) != 3 {
		return nil, false
	}
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 {
		return nil, false
	}
	return &ConnectResponse{Status: n, Reason: reason}, true
}

// ConnectFailure turns a non-2xx CONNECT response into a *Error in
// words. The proxy's own text is sanitized and stripped of the password
// and the credentials token, in case the proxy echoes them, in plain,
// base64 or hex (internal/scrub).
func ConnectFailure(r *ConnectResponse, auth bool, password, token string) *Error {
	secrets := scrub.New(password, token)
	clean := func(s string) string { return quoteProxyText(secrets.Scrub(s)) }
	var what string
	op := OpConnect
	switch r.Status {
	case http.StatusProxyAuthRequired:
		op = OpAuth
		if auth {
			what = "proxy rejected the user name or password"
		} else {
			what = "proxy requires authentication; configure a user name and password"
		}
	case http.StatusUnauthorized:
		op = OpAuth
		what = "proxy answered 401 (a web server, not a proxy?)"
	case http.StatusBadRequest:
		what = "proxy rejected the CONNECT request as malformed"
	case http.StatusForbidden, http.StatusMethodNotAllowed:
		what = "proxy rules forbid a tunnel to this destination"
	case http.StatusNotFound:
		what = "proxy does not know the destination host"
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		what = "proxy could not connect to the destination"
	case http.StatusGatewayTimeout:
		what = "proxy timed out connecting to the destination"
	default:
		what = "proxy refused the tunnel"
	}
	msg := fmt.Sprintf("%s: %s (HTTP %d %s", ProtoHTTP, what, r.Status, clean(r.Reason))
	if r.Status == http.StatusProxyAuthRequired && len(r.Authenticate) > 0 {
		msg += "; Proxy-Authenticate: " + clean(strings.Join(r.Authenticate, ", "))
	}
	return &Error{Op: op, Code: r.Status, Msg: msg + ")"}
}

// quoteProxyText makes text from the proxy safe to print: at most 200
// bytes, control characters and invalid UTF-8 escaped.
func quoteProxyText(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

// bufferedConn is a tunnel whose first bytes were read into a buffer
// together with the proxy's response.
type bufferedConn struct {
	net.Conn
	br *bufio.Reader
}

// Read returns the buffered bytes first, then reads from the connection.
func (c *bufferedConn) Read(p []byte) (int, error) {
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil
	}
	return c.Conn.Read(p)
}

var _ io.Reader = (*bufferedConn)(nil)
