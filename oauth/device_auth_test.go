package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mailwarden/oauth"
)

// TestDeviceAuthorizationAuthenticatesConfidentialClient checks that a
// client with a secret authenticates its device authorization request
// (RFC 8628 section 3.1 applies RFC 6749 section 3.2.1), as it does its
// token requests, and that a public client sends no secret. A server that
// enforces this answers an unauthenticated request invalid_client.
func TestDeviceAuthorizationAuthenticatesConfidentialClient(t *testing.T) {
	for _, secret := range []string{"device-client-secret", ""} {
		name := "confidential"
		if secret == "" {
			name = "public"
		}
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			forms := map[string]url.Values{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				mu.Lock()
				forms[r.URL.Path] = r.PostForm
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				if r.URL.Path == "/devicecode" {
					if secret != "" && r.PostForm.Get("client_secret") != secret {
						w.WriteHeader(http.StatusUnauthorized)
						json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "confidential client requires authentication"})
						return
					}
					json.NewEncoder(w).Encode(map[string]any{"device_code": "dc", "user_code": "UC", "verification_uri": "http://127.0.0.1/device", "expires_in": 600, "interval": 1})
					return
				}
				json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "refresh_token": "rt", "expires_in": 3600})
			}))
			t.Cleanup(srv.Close)
			cfg := &oauth.Config{Flow: oauth.DeviceCode, ClientID: "device-client", ClientSecret: secret,
				TokenURL: srv.URL + "/token", DeviceAuthURL: srv.URL + "/devicecode", Scopes: []string{"offline_access"},
				CachePath: filepath.Join(t.TempDir(), "tokens"), CacheKey: []byte("k"),
				Sleep: func(context.Context, time.Duration) error { return nil }}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := oauth.DeviceLogin(ctx, cfg, func(context.Context, oauth.DevicePrompt) error { return nil })
			if err != nil {
				t.Fatalf("device login: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, path := range []string{"/devicecode", "/token"} {
				f := forms[path]
				if f.Get("client_id") != "device-client" || f.Get("client_secret") != secret || (secret == "" && f.Has("client_secret")) {
					t.Errorf("%s: client_id %q, client_secret %q; want the client's own", path, f.Get("client_id"), f.Get("client_secret"))
				}
			}
		})
	}
}
