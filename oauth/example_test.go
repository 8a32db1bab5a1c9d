package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"mailwarden/oauth"
)

func ExampleNewTokenSource() {
	_, err := oauth.NewTokenSource(&oauth.Config{
		Flow:         oauth.ClientCredentials,
		ClientID:     "00000000-0000-0000-0000-000000000000",
		ClientSecret: "secret",
		TokenURL:     "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
		Scopes:       []string{"https://outlook.office365.com/.default"},
	})
	fmt.Println(err)
	// Output: oauth: token_url: the URL contains {tenant} and no tenant ID is configured
}

func ExampleError() {
	// An authorization server that has revoked the client's secret.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS7000222: the client secret has expired"}`)
	}))
	defer srv.Close()

	ts, err := oauth.NewTokenSource(&oauth.Config{Flow: oauth.ClientCredentials, ClientID: "app",
		ClientSecret: "expired-secret", TokenURL: srv.URL + "/token"})
	if err != nil {
		panic(err)
	}
	_, err = ts.Token(context.Background())
	var e *oauth.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code)
		fmt.Println(e.Hint)
	}
	// Output:
	// 401 invalid_client
	// check the client ID, the tenant and the client secret or certificate registered for the application
}
