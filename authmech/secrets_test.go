package authmech

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestClientsNeverPrintSecrets formats every built-in client, its
// credentials and its errors every way fmt and slog can.
func TestClientsNeverPrintSecrets(t *testing.T) {
	const pw = "Sup3r-Secret-Pw!"
	const tok = "ya29.SECRET-TOKEN-VALUE"
	creds := Credentials{Username: "alice", Password: pw, Token: StaticToken(tok)}
	reg := NewRegistry()
	var out strings.Builder
	logger := slog.New(slog.NewJSONHandler(&out, nil))
	for _, name := range append(reg.Names(), "auto") {
		c, err := reg.Client(name, creds)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%v %+v %#v %s\n", c, c, c, c)
		logger.Info("client", "c", c, "creds", creds, "pw", creds.Password)
		// Errors from refused and failed exchanges.
		if _, _, err := c.Start(context.Background(), plainInfo); err != nil {
			fmt.Fprintf(&out, "%v %+v\n", err, err)
		}
		if _, err := c.Next(context.Background(), []byte("r=x,s=!!,i=1")); err != nil {
			fmt.Fprintf(&out, "%v\n", err)
		}
	}
	fmt.Fprintf(&out, "%v %+v %#v\n", creds, creds, creds)
	s := out.String()
	for _, secret := range []string{pw, tok, base64.StdEncoding.EncodeToString([]byte(pw)), fmt.Sprintf("%x", pw)} {
		if strings.Contains(s, secret) {
			t.Errorf("secret %q printed:\n%s", secret, s)
		}
	}
	if !strings.Contains(s, "alice") {
		t.Error("nothing was printed: the test checks nothing")
	}
}
