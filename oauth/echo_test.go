package oauth_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"mailwarden/oauth"
)

// TestTokenEndpointEchoesTheClientSecret: an authorization server whose
// error_description reflects the client secret it was sent (plain, in the
// Basic header's base64, in hex) gets none of it into the *Error.
func TestTokenEndpointEchoesTheClientSecret(t *testing.T) {
	const secret = "Client-Secret-Echoed-9"
	for _, basic := range []bool{false, true} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			sent := r.Form.Get("client_secret")
			if _, pw, ok := r.BasicAuth(); ok {
				sent = pw
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client",
				"error_description": fmt.Sprintf("AADSTS7000215: invalid secret %q, header %q, hex %s", sent, r.Header.Get("Authorization"), hex.EncodeToString([]byte(sent)))})
		}))
		t.Cleanup(srv.Close)
		cfg := &oauth.Config{Flow: oauth.ClientCredentials, ClientID: "app", ClientSecret: secret, TokenURL: srv.URL + "/token", Scopes: []string{"s"}}
		if basic {
			cfg.ClientAuth = oauth.ClientSecretBasic
		}
		ts, err := oauth.NewTokenSource(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ts.Token(ctxT(t))
		var e *oauth.Error
		if !errors.As(err, &e) || e.Code != "invalid_client" || !strings.Contains(e.Description, "AADSTS7000215") {
			t.Fatalf("basic=%v: err = %v, want invalid_client with the server's description", basic, err)
		}
		for _, form := range []string{secret, hex.EncodeToString([]byte(secret)), base64.StdEncoding.EncodeToString([]byte("app:" + secret))} {
			if strings.Contains(err.Error(), form) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), form) {
				t.Errorf("basic=%v: the echoed secret (%s) is in the error: %v", basic, form, err)
			}
		}
	}
}
