package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// checkParseError is the oracle for a parse failure: a *Error at the
// connect or auth stage whose message starts with the protocol.
func checkParseError(t *testing.T, err error, proto string) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is %T, not *Error", err, err)
	}
	if (pe.Op != OpConnect && pe.Op != OpAuth) || !strings.HasPrefix(pe.Msg, proto+": ") {
		t.Fatalf("Error Op %q Msg %q", pe.Op, pe.Msg)
	}
}

func FuzzReadSOCKS5Reply(f *testing.F) {
	f.Add([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 25, '2', '2', '0'})
	f.Add([]byte{5, 0, 0, 3, 5, 'p', 'r', 'o', 'x', 'y', 0x04, 0x38})
	f.Add(append([]byte{5, 0, 0, 4}, make([]byte, 18)...))
	f.Add([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{5, 0, 0, 3, 0, 0, 0})
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		b, err := ReadSOCKS5Reply(r)
		if err != nil {
			checkParseError(t, err, ProtoSOCKS5)
			return
		}
		// A valid reply: version 5, succeeded, and exactly its own bytes
		// consumed; what follows (the greeting) is still unread.
		if data[0] != 5 || data[1] != 0 {
			t.Fatalf("accepted reply %x", data[:2])
		}
		var n int
		switch data[3] {
		case 1:
			n = 4 + 4 + 2
		case 4:
			n = 4 + 16 + 2
		case 3:
			n = 4 + 1 + int(data[4]) + 2
		default:
			t.Fatalf("accepted address type %d", data[3])
		}
		if r.Len() != len(data)-n {
			t.Fatalf("consumed %d bytes, want %d", len(data)-r.Len(), n)
		}
		if b.Port != int(data[n-2])<<8|int(data[n-1]) {
			t.Fatalf("port %d", b.Port)
		}
		if data[3] == 3 && b.Host != string(data[5:n-2]) {
			t.Fatalf("bound name %q", b.Host)
		}
	})
}

func FuzzReadSOCKS4Reply(f *testing.F) {
	f.Add([]byte{0, 90, 0, 0, 0, 0, 0, 0, '2', '2', '0'})
	f.Add([]byte{0, 91, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{4, 90, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		err := ReadSOCKS4Reply(r, ProtoSOCKS4A)
		if err != nil {
			checkParseError(t, err, ProtoSOCKS4A)
			return
		}
		if len(data) < 8 || (data[0] != 0 && data[0] != 4) || data[1] != 90 || r.Len() != len(data)-8 {
			t.Fatalf("accepted %x, %d bytes left", data, r.Len())
		}
	})
}

func FuzzReadConnectResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 Connection established\r\n\r\n220 mail ESMTP\r\n"))
	f.Add([]byte("HTTP/1.0 200 OK\nContent-Length: 3\n\n220"))
	f.Add([]byte("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 503 fuzzpw\r\n X: folded\r\n\r\n"))
	f.Add([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nbad header\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
		resp, err := ReadConnectResponse(br)
		if err != nil {
			checkParseError(t, err, ProtoHTTP)
			return
		}
		if resp.Status < 100 || resp.Status > 999 || !bytes.HasPrefix(data, []byte("HTTP/1.")) {
			t.Fatalf("accepted status %d from %q", resp.Status, data)
		}
		rest, _ := io.ReadAll(br)
		consumed := len(data) - len(rest)
		head := data[:consumed]
		if consumed > MaxConnectResponse || !(bytes.HasSuffix(head, []byte("\n\n")) || bytes.HasSuffix(head, []byte("\n\r\n"))) {
			t.Fatalf("consumed %d bytes ending %q", consumed, head[max(0, consumed-4):])
		}
		// Turning any answer into words never shows the password.
		pe := ConnectFailure(resp, true, "fuzzpw", "dTpmdXp6cHc=")
		if strings.Contains(pe.Msg, "fuzzpw") || strings.Contains(pe.Msg, "dTpmdXp6cHc=") || pe.Code != resp.Status {
			t.Fatalf("ConnectFailure: Code %d Msg %q", pe.Code, pe.Msg)
		}
	})
}
