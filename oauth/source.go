package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/jwt"
)

// A Token describes an access token. Its String, GoString and LogValue
// methods leave the token itself out, so a Token prints safely.
type Token struct {
	// AccessToken is the bearer token XOAUTH2 and OAUTHBEARER send.
	AccessToken string
	// Expiry is when the server said the token expires; zero if it did not.
	Expiry time.Time
	// Scopes are the scopes the server granted (or, when its reply named
	// none, the ones requested).
	Scopes []string
	// Refreshable reports whether a refresh token is held.
	Refreshable bool
}

func (t Token) String() string {
	exp := "no expiry"
	if !t.Expiry.IsZero() {
		exp = "expires " + t.Expiry.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("oauth token (%s, scopes %q, refreshable %v)", exp, t.Scopes, t.Refreshable)
}

func (t Token) GoString() string { return t.String() }

func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.Time("expiry", t.Expiry), slog.Any("scopes", t.Scopes), slog.Bool("refreshable", t.Refreshable))
}

// A TokenSource hands out access tokens for one Config. It is safe for
// concurrent use: while one goroutine fetches or refreshes a token the
// others wait for its result, so the server sees one request.
type TokenSource struct {
	cfg  Config
	id   string
	lock chan struct{} // a mutex whose wait a context can cancel

	// fetches counts the fetches that ended in an answer (success or a
	// failure not caused by the caller's context). A caller that sees it
	// change while waiting for lock knows a fetch ran in the meantime.
	fetches atomic.Uint64

	// guarded by lock
	loaded  bool
	cur     cachedToken
	lastErr error // the last counted fetch's error; nil if it succeeded
}

// NewTokenSource validates cfg and returns a TokenSource for it. Nothing
// is requested until Token. Errors are *ConfigError.
func NewTokenSource(cfg *Config) (*TokenSource, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &TokenSource{cfg: *cfg, id: cfg.cacheID(), lock: make(chan struct{}, 1)}, nil
}

// Token returns a valid access token, fetching or refreshing one when the
// held token expires within Config.RefreshBefore. Errors are *Error (see
// ErrLoginRequired), *CacheError, or ctx's error.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	t, err := s.get(ctx, false)
	return t.AccessToken, err
}

// Current is Token with the token's description; force fetches a new one
// even if the held one is still fresh.
func (s *TokenSource) Current(ctx context.Context, force bool) (Token, error) {
	t, err := s.get(ctx, force)
	if err != nil {
		return Token{}, err
	}
	return t.public(), nil
}

func (t cachedToken) public() Token {
	return Token{AccessToken: t.AccessToken, Expiry: t.Expiry, Scopes: strings.Fields(t.Scope), Refreshable: t.RefreshToken != ""}
}

func (s *TokenSource) get(ctx context.Context, force bool) (cachedToken, error) {
	seen := s.fetches.Load()
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return cachedToken{}, ctx.Err()
	}
	defer func() { <-s.lock }()

	c := &s.cfg
	now := c.now()
	fresh := func(t cachedToken) bool {
		if t.AccessToken == "" {
			return false
		}
		if t.Expiry.IsZero() {
			return true
		}
		// A token that lives no longer than RefreshBefore would be
		// renewed on every call: renew it at half its lifetime instead.
		skew := c.refreshBefore()
		if !t.Issued.IsZero() {
			if half := t.Expiry.Sub(t.Issued) / 2; half > 0 && half < skew {
				skew = half
			}
		}
		return t.Expiry.Sub(now) > skew
	}
	// failed answers a failed fetch: a token that is merely due for
	// renewal is still good while the server is unreachable; a revoked
	// login is reported at once.
	failed := func(err error) (cachedToken, error) {
		if !force && !errors.Is(err, ErrLoginRequired) && s.cur.AccessToken != "" && s.cur.Expiry.After(now) {
			return s.cur, nil
		}
		return cachedToken{}, err
	}
	if !force && s.loaded && fresh(s.cur) {
		return s.cur, nil
	}
	// A fetch that failed while this caller waited is its answer too: the
	// waiters do not each send the failing request again in turn. The
	// next call, made after it, tries again.
	if s.fetches.Load() != seen && s.lastErr != nil {
		return failed(s.lastErr)
	}
	// Before asking the server, look at the cache again: another process
	// may have refreshed (rotating the refresh token), or an administrator
	// may have logged in again since this one last looked.
	if c.CachePath != "" {
		unlock, err := lockCache(ctx, c.CachePath)
		if err != nil {
			return cachedToken{}, err
		}
		defer unlock()
		cf, err := readCache(c.CachePath, c.CacheKey)
		if err != nil {
			return cachedToken{}, err
		}
		if t, ok := cf.Tokens[s.id]; ok && (t.RefreshToken != "" || t.Expiry.After(s.cur.Expiry)) {
			s.cur = t
		}
	}
	s.loaded = true
	if !force && fresh(s.cur) {
		return s.cur, nil
	}
	nt, err := s.fetch(ctx)
	if err != nil {
		if ctx.Err() != nil {
			// This caller gave up; the waiters, whose contexts may
			// still be live, fetch for themselves.
			return cachedToken{}, err
		}
		s.lastErr = err
		s.fetches.Add(1)
		return failed(err)
	}
	s.lastErr = nil
	s.fetches.Add(1)
	s.cur = nt
	if c.CachePath != "" {
		if err := c.store(s.id, nt); err != nil {
			return cachedToken{}, err
		}
	}
	return nt, nil
}

// fetch asks the server for a new token.
func (s *TokenSource) fetch(ctx context.Context) (cachedToken, error) {
	c := &s.cfg
	hctx := context.WithValue(ctx, oauth2.HTTPClient, c.httpClient())
	switch c.Flow {
	case ClientCredentials:
		tokenURL := c.endpoint(c.TokenURL)
		cc := clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret,
			TokenURL: tokenURL, Scopes: c.Scopes, AuthStyle: c.authStyle()}
		if c.ClientKey != nil {
			a, err := c.clientAssertion(tokenURL)
			if err != nil {
				return cachedToken{}, &Error{Op: "client_credentials", Err: fmt.Errorf("signing the client assertion: %w", err)}
			}
			cc.EndpointParams = url.Values{"client_assertion_type": {ClientAssertionType}, "client_assertion": {a}}
		}
		tok, err := cc.Token(hctx)
		if err != nil {
			return cachedToken{}, c.wrap("client_credentials", err, cc.EndpointParams.Get("client_assertion"))
		}
		return c.fromOAuth2(tok, ""), nil
	case JWTBearer:
		sa, err := parseServiceAccount(c.ServiceAccountJSON)
		if err != nil {
			return cachedToken{}, &ConfigError{Field: "service_account_file", Err: err}
		}
		tokenURL := sa.TokenURI
		if c.TokenURL != "" {
			tokenURL = c.endpoint(c.TokenURL)
		}
		jc := jwt.Config{Email: sa.ClientEmail, PrivateKey: []byte(sa.PrivateKey), PrivateKeyID: sa.PrivateKeyID,
			Subject: c.Subject, Scopes: c.Scopes, TokenURL: tokenURL}
		tok, err := jc.TokenSource(hctx).Token()
		if err != nil {
			return cachedToken{}, c.wrap("jwt_bearer", err)
		}
		return c.fromOAuth2(tok, ""), nil
	default: // AuthorizationCode, DeviceCode: live on the refresh token
		if s.cur.RefreshToken == "" {
			hint := "no login is stored"
			if c.LoginCommand != "" {
				hint += "; log in with: " + c.LoginCommand
			}
			return cachedToken{}, &Error{Op: "refresh", Hint: hint, loginRequired: true, Err: errors.New("no refresh token")}
		}
		tok, err := c.oauth2Config("").TokenSource(hctx, &oauth2.Token{RefreshToken: s.cur.RefreshToken}).Token()
		if err != nil {
			return cachedToken{}, c.wrap("refresh", err, s.cur.RefreshToken)
		}
		return c.fromOAuth2(tok, s.cur.RefreshToken), nil
	}
}

// oauth2Config is c as x/oauth2 sees it.
func (c *Config) oauth2Config(redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: c.Scopes, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: c.endpoint(c.AuthURL), TokenURL: c.endpoint(c.TokenURL),
			DeviceAuthURL: c.endpoint(c.DeviceAuthURL), AuthStyle: c.authStyle()}}
}

// fromOAuth2 converts tok, timing its expiry by c's clock; oldRefresh is
// kept when the server did not rotate the refresh token.
func (c *Config) fromOAuth2(tok *oauth2.Token, oldRefresh string) cachedToken {
	t := cachedToken{AccessToken: tok.AccessToken, TokenType: tok.TokenType, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry, Issued: c.now()}
	if t.RefreshToken == "" {
		t.RefreshToken = oldRefresh
	}
	secs := tok.ExpiresIn
	if f, ok := tok.Extra("expires_in").(float64); ok && secs == 0 {
		secs = int64(f) // the jwt package leaves ExpiresIn unset
	}
	if secs > 0 {
		t.Expiry = t.Issued.Add(time.Duration(secs) * time.Second)
	}
	if sc, ok := tok.Extra("scope").(string); ok && sc != "" {
		t.Scope = sc
	} else {
		t.Scope = strings.Join(c.Scopes, " ")
	}
	return t
}

// cacheID names c's entry in the cache: the same server, client (for
// JWTBearer, service account), subject, account and scopes share one. Both
// interactive flows share an entry, so either login serves a profile.
func (c *Config) cacheID() string {
	flow := string(c.Flow)
	if c.Flow == DeviceCode {
		flow = string(AuthorizationCode)
	}
	parts := []string{flow, c.endpoint(c.TokenURL), c.ClientID, c.Subject, strings.Join(c.Scopes, " ")}
	if (c.Flow == AuthorizationCode || c.Flow == DeviceCode) && c.Account != "" {
		// One application, several mailboxes: one login each.
		parts = append(parts, "account", strings.ToLower(c.Account))
	}
	if c.Flow == JWTBearer {
		// The service account is the client here, and ClientID is unused:
		// two accounts acting for one subject must not share an entry.
		if sa, err := parseServiceAccount(c.ServiceAccountJSON); err == nil {
			parts = append(parts, sa.ClientEmail, sa.TokenURI)
		}
	}
	h := sha256.New()
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// store writes t into the cache under id, keeping the other entries.
func (c *Config) store(id string, t cachedToken) error {
	cf, err := readCache(c.CachePath, c.CacheKey)
	if err != nil {
		return err
	}
	cf.Tokens[id] = t
	return writeCache(c.CachePath, c.CacheKey, cf)
}

// String, GoString and LogValue describe s without its tokens, so that
// credentials holding it print safely.
func (s *TokenSource) String() string       { return "oauth.TokenSource(" + string(s.cfg.Flow) + ")" }
func (s *TokenSource) GoString() string     { return s.String() }
func (s *TokenSource) LogValue() slog.Value { return slog.StringValue(s.String()) }
