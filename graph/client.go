package graph

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mailwarden/internal/scrub"
)

// A TokenSource supplies OAuth 2.0 access tokens. It has the shape of
// authmech.TokenSource, so one value serves both. Token is called once per
// request (retries included), so a source that caches and refreshes tokens
// keeps long retry sequences working.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// An Opener returns the MIME message from its start each time it is
// called: SendMail calls it once per attempt, so a retry sends the very
// same bytes without this package holding a copy. It is typically
// os.Open of a spool file, or a bytes.Reader wrapped in io.NopCloser.
type Opener func() (io.ReadCloser, error)

// Defaults for the zero Client.
const (
	DefaultMaxRetries     = 4               // retries after the first attempt: 5 attempts
	DefaultMaxRetryWait   = 2 * time.Minute // the longest single wait; a longer Retry-After ends the retries
	DefaultMaxRequestSize = 4 << 20         // Graph's sendMail request limit, base64 included
	DefaultTimeout        = 2 * time.Minute // per request, when HTTPClient is nil
)

// A Client sends mail through Microsoft Graph. Only Token is required;
// the zero values of the other fields are safe defaults. A Client must not
// be modified after its first use and is safe for concurrent use.
type Client struct {
	// Endpoint is the base URL, e.g. "https://graph.microsoft.us" (see
	// Cloud.Endpoint); empty means DefaultEndpoint. It must be https, except
	// for a loopback host. "/v1.0" is appended.
	Endpoint string
	// HTTPClient sends the requests; nil means a client with TLS 1.2 or
	// later, proxies from the environment and DefaultTimeout per request.
	HTTPClient *http.Client
	// Token supplies the Bearer token. Required.
	Token TokenSource
	// Logger receives a "graph.send" (or "graph.check") event per call and
	// a "graph.retry" event per wait; nil logs nothing. The token is never
	// logged.
	Logger *slog.Logger
	// MaxRetries is how often a throttled (429), unavailable (503) or
	// unreachable (dial failure) request is retried; 0 means
	// DefaultMaxRetries, negative means never.
	MaxRetries int
	// MaxRetryWait caps one wait between attempts; 0 means
	// DefaultMaxRetryWait. When Graph asks for a longer wait, SendMail stops
	// and returns the error with its RetryAfter.
	MaxRetryWait time.Duration
	// MaxRequestSize is the largest request body (the base64 form, 4/3 of
	// the message) sent; a larger known size fails with ErrMessageTooLarge
	// before anything is sent. 0 means DefaultMaxRequestSize, negative
	// means no limit.
	MaxRequestSize int64
	// Now and Sleep are the clock; nil means time.Now and a timer that
	// stops when ctx is done. Sleep must return ctx's error when ctx ends
	// first.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// NewRequestID returns the client-request-id sent with each call (the
	// same one on every retry of that call); nil means a random UUID.
	NewRequestID func() string
}

// A Result describes an accepted message.
type Result struct {
	Endpoint        string // the base URL used
	Sender          string
	Status          int    // 202
	RequestID       string // Graph's request-id, for Microsoft support
	ClientRequestID string // the client-request-id sent
	Size            int64  // message bytes (before base64); -1 when not known
	Attempts        int
	Duration        time.Duration // from the first attempt to the answer, waits included
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return defaultHTTPClient
}

var defaultHTTPClient = NewHTTPClient(nil, nil)

// NewHTTPClient returns the HTTP client a nil Client.HTTPClient stands
// for, with tlsConfig (cloned; nil means defaults, and MinVersion is raised
// to TLS 1.2) and dial (nil means a net.Dialer; a proxy dialer such as
// firewall's plugs in here, and then no HTTP proxy from the environment is
// used).
func NewHTTPClient(tlsConfig *tls.Config, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	var tc *tls.Config
	if tlsConfig != nil {
		tc = tlsConfig.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSClientConfig:       tc,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 90 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
	}
	if dial != nil {
		tr.Proxy = nil
		tr.DialContext = dial
	} else {
		tr.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	return &http.Client{
		Transport: tr,
		Timeout:   DefaultTimeout,
		// A redirect would resend the Bearer token elsewhere: refuse it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CheckSender reports whether s can name the sender mailbox in a request
// path: non-empty, not only dots ("." and ".." would climb out of
// /users/), at most 320 bytes, valid UTF-8 without control characters,
// spaces or any of / ? # \ %. It returns an error wrapping
// ErrInvalidSender.
func CheckSender(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrInvalidSender)
	}
	if strings.Trim(s, ".") == "" {
		return fmt.Errorf("%w: %q is a dot path segment", ErrInvalidSender, s)
	}
	if len(s) > 320 {
		return fmt.Errorf("%w: longer than 320 bytes", ErrInvalidSender)
	}
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f || r == 0xfffd:
			return fmt.Errorf("%w: %q contains a control character or invalid UTF-8", ErrInvalidSender, s)
		case r == ' ' || r == '/' || r == '?' || r == '#' || r == '\\' || r == '%':
			return fmt.Errorf("%w: %q contains %q", ErrInvalidSender, s, r)
		}
	}
	return nil
}

// userURL returns the base URL and {base}/v1.0/users/{sender}{suffix}.
func (c *Client) userURL(sender, suffix string) (base, target string, err error) {
	u, err := parseEndpoint(c.Endpoint)
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	base = u.String()
	return base, base + "/v1.0/users/" + url.PathEscape(sender) + suffix, nil
}

func (c *Client) maxRetries() int {
	switch {
	case c.MaxRetries < 0:
		return 0
	case c.MaxRetries == 0:
		return DefaultMaxRetries
	}
	return c.MaxRetries
}

func (c *Client) maxWait() time.Duration {
	if c.MaxRetryWait > 0 {
		return c.MaxRetryWait
	}
	return DefaultMaxRetryWait
}

func (c *Client) requestID() string {
	if c.NewRequestID != nil {
		return c.NewRequestID()
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return ""
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// SendMail sends the MIME message open returns as sender (a user principal
// name, SMTP address or object id of a mailbox): POST
// {Endpoint}/v1.0/users/{sender}/sendMail with the message base64-encoded
// as a text/plain body, streamed from open (never held in memory). size is
// the message's length in bytes, or -1 when unknown (the body is then sent
// chunked and the size limit is not checked beforehand).
//
// Throttling (429) and 503 replies and failures to connect are retried up
// to MaxRetries times, waiting as Retry-After says (or 1s, 2s, 4s, ...
// when it does not), each wait at most MaxRetryWait. Other failures are not
// retried: a request that reached Graph may have been sent. That includes
// 504, whose gateway gave up on a mailbox server that may have sent the
// message; it is still a temporary error, for callers (the outbox) that
// retry later and accept a duplicate over a loss.
//
// On success (202 Accepted) the Result carries Graph's request-id. The
// error is always an *Error; open's error is its Err.
func (c *Client) SendMail(ctx context.Context, sender string, open Opener, size int64) (*Result, error) {
	start := c.now()
	cid := c.requestID()
	res := &Result{Sender: sender, Size: size, ClientRequestID: cid}
	fail := func(e *Error) (*Result, error) {
		e.Op = "sendMail"
		if e.ClientRequestID == "" {
			e.ClientRequestID = cid
		}
		e.Attempts = res.Attempts
		res.Duration = c.now().Sub(start)
		c.log(ctx, "graph.send", res, e)
		return nil, e
	}
	if err := CheckSender(sender); err != nil {
		return fail(&Error{Err: err})
	}
	if c.Token == nil {
		return fail(&Error{Err: fmt.Errorf("%w: no TokenSource", ErrBadConfig)})
	}
	if open == nil {
		return fail(&Error{Err: fmt.Errorf("%w: no message", ErrBadConfig)})
	}
	base, target, err := c.userURL(sender, "/sendMail")
	if err != nil {
		return fail(&Error{Err: err})
	}
	res.Endpoint = base
	bodyLen := int64(-1)
	if size >= 0 {
		bodyLen = int64(base64.StdEncoding.EncodedLen(int(size)))
		limit := c.MaxRequestSize
		if limit == 0 {
			limit = DefaultMaxRequestSize
		}
		if limit > 0 && bodyLen > limit {
			return fail(&Error{Status: 0, Err: fmt.Errorf("%w: %d bytes of MIME are %d bytes of base64, over %d", ErrMessageTooLarge, size, bodyLen, limit)})
		}
	}
	for {
		res.Attempts++
		status, rid, e := c.attempt(ctx, target, cid, open, bodyLen)
		if e == nil {
			res.Status, res.RequestID = status, rid
			res.Duration = c.now().Sub(start)
			c.log(ctx, "graph.send", res, nil)
			return res, nil
		}
		if res.Attempts > c.maxRetries() || !retryable(e) {
			return fail(e)
		}
		wait := e.RetryAfter
		if wait <= 0 {
			// 1s, 2s, 4s, ...; the shift stops growing long before it
			// could overflow, and maxWait caps it below.
			wait = time.Second << min(res.Attempts-1, 20)
		}
		if wait > c.maxWait() {
			if e.RetryAfter > 0 {
				return fail(e) // Graph asked for longer than we may wait
			}
			wait = c.maxWait()
		}
		if c.Logger != nil {
			c.Logger.LogAttrs(ctx, slog.LevelWarn, "graph.retry", slog.String("sender", sender),
				slog.Int("attempt", res.Attempts), slog.Int("status", e.Status), slog.String("request_id", e.RequestID),
				slog.Int64("wait_ms", wait.Milliseconds()))
		}
		if err := c.sleep(ctx, wait); err != nil {
			e.Err = errors.Join(e.Err, err)
			return fail(e)
		}
	}
}

// retryable reports whether the failed attempt certainly did not send the
// message and may succeed later.
func retryable(e *Error) bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	case 0:
		var oe *net.OpError
		return errors.As(e.Err, &oe) && oe.Op == "dial" && !isDNSNotFound(e.Err)
	}
	return false
}

// attempt makes one request. It returns the status and request-id of a
// 202, or the *Error.
func (c *Client) attempt(ctx context.Context, target, cid string, open Opener, bodyLen int64) (int, string, *Error) {
	if err := ctx.Err(); err != nil {
		return 0, "", &Error{Err: err}
	}
	tok, err := c.Token.Token(ctx)
	if err != nil {
		return 0, "", &Error{Err: fmt.Errorf("%w: %w", ErrToken, err)}
	}
	if tok == "" || strings.ContainsAny(tok, "\r\n") {
		return 0, "", &Error{Err: fmt.Errorf("%w: the token source returned an empty or malformed token", ErrToken)}
	}
	rc, err := open()
	if err != nil {
		return 0, "", &Error{Message: "cannot read the message", Err: err}
	}
	body := &readCloser{Reader: newEncReader(rc), Closer: rc}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, body)
	if err != nil {
		rc.Close()
		return 0, "", &Error{Err: fmt.Errorf("%w: %w", ErrBadConfig, err)}
	}
	req.ContentLength = bodyLen
	// net/http may need the body again (an HTTP/2 connection that went
	// away before the request was sent): open the message again.
	req.GetBody = func() (io.ReadCloser, error) {
		rc, err := open()
		if err != nil {
			return nil, err
		}
		return &readCloser{Reader: newEncReader(rc), Closer: rc}, nil
	}
	if bodyLen == 0 {
		req.Body, req.GetBody = http.NoBody, nil
		rc.Close()
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("client-request-id", cid)
	req.Header.Set("return-client-request-id", "true")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, "", &Error{Err: stripURL(err)}
	}
	defer resp.Body.Close()
	rid := resp.Header.Get("request-id")
	if resp.StatusCode == http.StatusAccepted {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return resp.StatusCode, rid, nil
	}
	return 0, "", responseError(resp, c.now(), tok)
}

// responseError reads a failed response into an *Error. The bearer token
// the request carried is scrubbed from Graph's text (plain, base64, hex),
// in case a server echoes it.
func responseError(resp *http.Response, now time.Time, tok string) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("request-id"), ClientRequestID: resp.Header.Get("client-request-id")}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var ae apiError
	if json.Unmarshal(data, &ae) == nil && (ae.Error.Code != "" || ae.Error.Message != "") {
		e.Code, e.Message = ae.Error.Code, ae.Error.Message
		if e.RequestID == "" {
			e.RequestID = ae.Error.InnerError.RequestID
		}
	} else {
		e.Message = http.StatusText(resp.StatusCode)
	}
	secrets := scrub.New(tok)
	e.Code, e.Message = secrets.Scrub(e.Code), secrets.Scrub(e.Message)
	if resp.StatusCode < 300 {
		e.Err = fmt.Errorf("%w %d (want 202 Accepted)", ErrUnexpectedStatus, resp.StatusCode)
	} else if resp.StatusCode < 400 {
		e.Err = fmt.Errorf("%w %d: redirects are not followed", ErrUnexpectedStatus, resp.StatusCode)
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	return e
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date
// (RFC 9110 section 10.2.3). It returns 0 when absent or malformed.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) && n > 0 {
		err = nil // more digits than int64 holds: a very long wait
	}
	if err == nil {
		if n <= 0 {
			return 0
		}
		if n > 24*3600 {
			n = 24 * 3600
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// stripURL removes the *url.Error layer (its text repeats the URL) and
// keeps the cause.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

type readCloser struct {
	io.Reader
	io.Closer
}

func (c *Client) log(ctx context.Context, msg string, res *Result, e *Error) {
	if c.Logger == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("endpoint", res.Endpoint),
		slog.String("sender", res.Sender),
		slog.Int("status", res.Status),
		slog.String("request_id", res.RequestID),
		slog.String("client_request_id", res.ClientRequestID),
		slog.Int("attempts", res.Attempts),
		slog.Int64("duration_ms", res.Duration.Milliseconds()),
	}
	if res.Size >= 0 {
		attrs = append(attrs, slog.Int64("size", res.Size))
	}
	level := slog.LevelInfo
	if e != nil {
		level = slog.LevelError
		attrs[2] = slog.Int("status", e.Status)
		attrs[3] = slog.String("request_id", e.RequestID)
		ea := []any{slog.String("text", e.Error()), slog.Bool("temporary", e.Temporary()), slog.String("class", e.Class().String())}
		if e.Status != 0 {
			ea = append(ea, slog.Int("status", e.Status))
		}
		if e.Code != "" {
			ea = append(ea, slog.String("graph_code", e.Code))
		}
		if e.RetryAfter > 0 {
			ea = append(ea, slog.Int64("retry_after_ms", e.RetryAfter.Milliseconds()))
		}
		attrs = append(attrs, slog.Group("error", ea...))
	}
	c.Logger.LogAttrs(ctx, level, msg, attrs...)
}
