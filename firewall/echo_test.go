package firewall

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// TestProxyEchoesEncodedCredentials: a proxy that echoes the password
// re-encoded (base64 of the password alone, hex, upper-case, inside a
// base64 blob at another alignment) in its reason phrase or its
// Proxy-Authenticate header must not get it printed in any of those forms.
func TestProxyEchoesEncodedCredentials(t *testing.T) {
	forms := map[string]string{
		"base64":       base64.StdEncoding.EncodeToString([]byte(testPassword)),
		"raw base64":   base64.RawStdEncoding.EncodeToString([]byte(testPassword)),
		"hex":          hex.EncodeToString([]byte(testPassword)),
		"upper":        strings.ToUpper(testPassword),
		"misaligned":   base64.StdEncoding.EncodeToString([]byte("user=u;pw=" + testPassword)),
		"basic header": "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+testPassword)),
	}
	for name, echo := range forms {
		t.Run(name, func(t *testing.T) {
			host, port := hostPort(t, serve(t, nil, func(c net.Conn) {
				readHead(c)
				io.WriteString(c, "HTTP/1.1 407 you sent "+echo+"\r\nProxy-Authenticate: Basic realm=\"x\", echo=\""+echo+"\"\r\n\r\n")
			}))
			d := mustNew(t, Config{Type: TypeHTTP, Host: host, Port: port, User: "u", Password: testPassword})
			_, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:25")
			var pe *ProxyError
			if !errors.As(err, &pe) || pe.Code != 407 {
				t.Fatalf("err = %v, want 407 *ProxyError", err)
			}
			if strings.Contains(err.Error(), echo) || strings.Contains(strings.ToLower(err.Error()), strings.ToLower(testPassword)) {
				t.Errorf("the echoed %s form is in the error: %v", name, err)
			}
			assertNoSecret(t, err)
		})
	}
}
