// Package oauth acquires OAuth 2.0 access tokens for the XOAUTH2 and
// OAUTHBEARER SASL mechanisms, on top of golang.org/x/oauth2.
//
// It implements these grants against Microsoft Entra ID, Google and any
// RFC 6749 authorization server:
//
//   - client credentials (RFC 6749 section 4.4), authenticated by a client
//     secret or by a certificate assertion (RFC 7523 section 2.2, in the form
//     Entra ID expects: an RS256 JWT with an x5t#S256 and x5t header);
//   - authorization code with PKCE (RFC 7636) and a loopback redirect
//     (RFC 8252 section 7.3), see Login;
//   - device authorization (RFC 8628), see DeviceLogin;
//   - the JWT bearer grant (RFC 7523 section 2.1) a Google service account
//     uses, optionally with domain-wide delegation (a subject).
//
// A TokenSource hands out access tokens, refreshing them a few minutes
// before they expire, one refresh at a time however many goroutines ask.
// Tokens are kept in an optional cache file encrypted at rest with
// AES-256-GCM under a key derived with HKDF-SHA-256 from the configured
// secret, and written atomically with mode 0600.
//
// Errors from the authorization server are *Error values carrying its
// error code and description, never a token or a client secret. A refresh
// token the server no longer accepts (invalid_grant) matches
// ErrLoginRequired, and its message says how to log in again.
//
// Out of scope: OpenID Connect (ID tokens are ignored), token
// introspection and revocation requests, dynamic client registration, and
// sharing one cache file between processes that refresh at the same time
// (the last writer wins; each process still holds valid tokens).
package oauth
