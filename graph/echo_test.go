package graph

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestGraphEchoesTheToken: a Graph (or something in its place) whose error
// message reflects the bearer token, plain, in base64 or in hex, gets none
// of it into the *Error of SendMail or Check.
func TestGraphEchoesTheToken(t *testing.T) {
	forms := []string{testToken, base64.StdEncoding.EncodeToString([]byte("Bearer " + testToken)), hex.EncodeToString([]byte(testToken))}
	for _, echo := range forms {
		body := fmt.Sprintf(`{"error":{"code":"InvalidAuthenticationToken","message":"token %s is not valid"}}`, echo)
		f := newFakeGraph(t, reply{status: http.StatusUnauthorized, body: body})
		c := f.client(newFakeClock())
		_, serr := c.SendMail(context.Background(), "alerts@contoso.com", opener([]byte("Subject: x\r\n\r\nbody\r\n")), 0)
		_, cerr := c.Check(context.Background(), "alerts@contoso.com")
		for name, err := range map[string]error{"SendMail": serr, "Check": cerr} {
			if err == nil || !strings.Contains(err.Error(), "is not valid") {
				t.Fatalf("%s: err = %v, want Graph's message", name, err)
			}
			text := fmt.Sprintf("%v %+v %#v", err, err, err)
			for _, form := range forms {
				if strings.Contains(text, form) {
					t.Errorf("%s: the echoed token (%.20s...) is in the error: %s", name, form, text)
				}
			}
		}
	}
}
