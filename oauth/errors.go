package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/oauth2"

	"mailwarden/internal/scrub"
)

// ErrLoginRequired is matched (with errors.Is) by the error a TokenSource
// returns when it holds no usable refresh token: none was ever stored, or
// the server rejected it as revoked or expired (invalid_grant). An
// administrator must log in again.
var ErrLoginRequired = errors.New("oauth: login required")

// An Error is a failure reported by, or talking to, the authorization
// server. It never holds a token or a client secret.
type Error struct {
	// Op is what was being done: "client_credentials", "jwt_bearer",
	// "refresh", "exchange", "device_authorization", "device_poll" or
	// "authorize".
	Op string
	// Status is the HTTP status of the reply, 0 if there was none.
	Status int
	// Code and Description are the server's RFC 6749 error and
	// error_description, when it sent them.
	Code        string
	Description string
	// Hint says what an administrator can do about it.
	Hint string
	// Err is the underlying failure (network, malformed reply), if any.
	Err error

	loginRequired bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("oauth: " + e.Op)
	switch {
	case e.Code != "":
		b.WriteString(": " + e.Code)
		if e.Description != "" {
			b.WriteString(": " + e.Description)
		}
	case e.Status != 0:
		fmt.Fprintf(&b, ": HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether the error means the administrator must log in again.
func (e *Error) Is(target error) bool { return target == ErrLoginRequired && e.loginRequired }

// LoginRequired reports whether the administrator must log in again.
func (e *Error) LoginRequired() bool { return e.loginRequired }

func (c *Config) loginHint() string {
	if c.LoginCommand != "" {
		return "the stored login is no longer valid; log in again with: " + c.LoginCommand
	}
	return "the stored login is no longer valid; log in again"
}

// wrap turns an x/oauth2 error into an *Error, dropping the raw body.
func (c *Config) wrap(op string, err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		e := &Error{Op: op, Code: re.ErrorCode, Description: re.ErrorDescription}
		if e.Code == "" {
			// Some callers (the jwt package) leave the body unparsed.
			var body struct {
				Code        string `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(re.Body, &body) == nil {
				e.Code, e.Description = body.Code, body.Description
			}
		}
		if re.Response != nil {
			e.Status = re.Response.StatusCode
		}
		c.scrubEcho(e, secrets...)
		c.addHint(e)
		return e
	}
	return &Error{Op: op, Err: err, Hint: "is the authorization server reachable?"}
}

// scrubEcho removes the client secret and the other secrets of the request
// (a refresh token, a client assertion) from the server's error text, in
// plain, base64 or hex, in case the server echoes what it was sent.
func (c *Config) scrubEcho(e *Error, secrets ...string) {
	set := scrub.New(append(secrets, c.ClientSecret)...)
	e.Code, e.Description = set.Scrub(e.Code), set.Scrub(e.Description)
}

// addHint fills in Hint (and loginRequired) from the error code.
func (c *Config) addHint(e *Error) {
	switch e.Code {
	case "invalid_grant":
		if e.Op == "refresh" {
			e.loginRequired = true
			e.Hint = c.loginHint()
		} else {
			e.Hint = "the server rejected the grant: check the credentials, the subject or the code"
		}
	case "invalid_client", "unauthorized_client":
		e.Hint = "check the client ID, the tenant and the client secret or certificate registered for the application"
	case "invalid_scope":
		e.Hint = "check the configured scopes"
	case "access_denied":
		e.Hint = "the user or an administrator declined the request"
	case "expired_token":
		e.Hint = "the code expired before it was entered; start the login again"
	}
}
