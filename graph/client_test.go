package graph

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// mime is a message whose bytes must arrive unchanged: CRLF and a bare LF,
// 8-bit text, trailing white space, and a length that is not a multiple of
// 3, as an S/MIME signature would need them.
var mime = []byte("From: Alerts <alerts@contoso.com>\r\nTo: ops@contoso.com\r\nSubject: test\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
	"Grüße  \r\nbare\nLF\r\n\x00\xff.\r\n")

func TestSendMailExactRequest(t *testing.T) {
	f := newFakeGraph(t, reply{status: 202, headers: map[string]string{"request-id": "rid-1", "client-request-id": "11111111-2222-4333-8444-555555555555"}})
	clk := newFakeClock()
	c := f.client(clk)
	res, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != "POST" || r.requestURI != "/v1.0/users/alerts@contoso.com/sendMail" {
		t.Errorf("request line %s %s", r.method, r.requestURI)
	}
	for k, want := range map[string]string{
		"Authorization":            "Bearer " + testToken,
		"Content-Type":             "text/plain",
		"Content-Length":           "",
		"Client-Request-Id":        "11111111-2222-4333-8444-555555555555",
		"Return-Client-Request-Id": "true",
	} {
		if k == "Content-Length" {
			continue // net/http moves it into the request; checked through the body
		}
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if string(r.body) != base64.StdEncoding.EncodeToString(mime) {
		t.Errorf("body = %q, want the standard base64 of the message without line breaks", r.body)
	}
	if got := decodeBody(t, r.body); !bytes.Equal(got, mime) {
		t.Errorf("decoded body differs from the message:\n%q\n%q", got, mime)
	}
	if res.Status != 202 || res.RequestID != "rid-1" || res.Attempts != 1 || res.Size != int64(len(mime)) ||
		res.ClientRequestID != "11111111-2222-4333-8444-555555555555" || res.Endpoint != f.srv.URL {
		t.Errorf("result %+v", res)
	}
}

func TestSendMailUnknownSizeIsChunked(t *testing.T) {
	f := newFakeGraph(t, reply{status: 202})
	c := f.client(newFakeClock())
	if _, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), -1); err != nil {
		t.Fatal(err)
	}
	if got := decodeBody(t, f.requests()[0].body); !bytes.Equal(got, mime) {
		t.Errorf("decoded body differs")
	}
}

func TestSendMailEscapesSenderPath(t *testing.T) {
	f := newFakeGraph(t, reply{status: 202})
	c := f.client(newFakeClock())
	// An object id and a UTF-8 address: both are one path segment.
	for sender, uri := range map[string]string{
		"5c1a2b3d-0000-4000-8000-000000000001": "/v1.0/users/5c1a2b3d-0000-4000-8000-000000000001/sendMail",
		"jürgen@contoso.com":                   "/v1.0/users/j%C3%BCrgen@contoso.com/sendMail",
		"o'brien+x@contoso.com":                "/v1.0/users/o%27brien+x@contoso.com/sendMail",
	} {
		f.mu.Lock()
		f.reqs = nil
		f.mu.Unlock()
		if _, err := c.SendMail(context.Background(), sender, opener(mime), int64(len(mime))); err != nil {
			t.Fatalf("%s: %v", sender, err)
		}
		if got := f.requests()[0].requestURI; got != uri {
			t.Errorf("%s: request URI %s, want %s", sender, got, uri)
		}
	}
}

// TestSendMailPathInjection: a sender with a path, query or fragment
// separator, an escape or a line break could address another resource or
// split the request; it is refused before anything is sent.
func TestSendMailPathInjection(t *testing.T) {
	f := newFakeGraph(t, reply{status: 202})
	c := f.client(newFakeClock())
	for _, s := range []string{
		"", ".", "..", "...", "a/b@contoso.com", "../../me", "a?x=1", "a#frag", "a\r\nX-Injected: 1", "a\nb", "a b@contoso.com",
		"a%2Fb@contoso.com", `a\b`, "a\x00b", "a\x7fb", "\xff@contoso.com", strings.Repeat("a", 321),
	} {
		_, err := c.SendMail(context.Background(), s, opener(mime), int64(len(mime)))
		var ge *Error
		if !errors.As(err, &ge) || !errors.Is(err, ErrInvalidSender) {
			t.Errorf("%q: err = %v, want *Error wrapping ErrInvalidSender", s, err)
			continue
		}
		if ge.Class() != ClassUsage || ge.Temporary() || ge.Hint() == "" {
			t.Errorf("%q: class %v temporary %v hint %q", s, ge.Class(), ge.Temporary(), ge.Hint())
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

func TestSendMailErrors(t *testing.T) {
	tests := []struct {
		name      string
		rep       reply
		code      string
		class     Class
		temporary bool
		hint      string // a substring of the hint
		attempts  int
	}{
		{"401", reply{status: 401, body: errorJSON("InvalidAuthenticationToken", "Access token validation failure.", "rid-401")},
			"InvalidAuthenticationToken", ClassAuth, false, "https://graph.microsoft.com/.default", 1},
		{"401-audience", reply{status: 401, body: errorJSON("InvalidAuthenticationToken", "Access token validation failure. Invalid audience.", "rid-401")},
			"InvalidAuthenticationToken", ClassAuth, false, "another service or cloud", 1},
		{"403", reply{status: 403, body: errorJSON("ErrorAccessDenied", "Access is denied. Check credentials and try again.", "rid-403")},
			"ErrorAccessDenied", ClassAuth, false, "Mail.Send application permission", 1},
		{"403-policy", reply{status: 403, body: errorJSON("ErrorAccessDenied", "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.", "rid-403")},
			"ErrorAccessDenied", ClassAuth, false, "application access policy", 1},
		{"404", reply{status: 404, body: errorJSON("ErrorInvalidUser", "The requested user 'alerts@contoso.com' is invalid.", "rid-404")},
			"ErrorInvalidUser", ClassRejected, false, "does not exist in this tenant", 1},
		{"404-rest", reply{status: 404, body: errorJSON("MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.", "rid-404")},
			"MailboxNotEnabledForRESTAPI", ClassRejected, false, "on-premises", 1},
		{"400-mime", reply{status: 400, body: errorJSON("ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.", "rid-400")},
			"ErrorMimeContentInvalidBase64String", ClassRejected, false, "base64 MIME", 1},
		{"413", reply{status: 413, body: errorJSON("RequestBodyTooLarge", "The maximum request length supported is 4MB.", "rid-413")},
			"RequestBodyTooLarge", ClassRejected, false, "too large", 1},
		{"429", reply{status: 429, headers: map[string]string{"Retry-After": "3"}, body: errorJSON("ApplicationThrottled", "Application is over its MailboxConcurrency limit.", "rid-429")},
			"ApplicationThrottled", ClassTemporary, true, "throttling", 5},
		{"503", reply{status: 503, body: errorJSON("ServiceNotAvailable", "Service unavailable.", "rid-503")},
			"ServiceNotAvailable", ClassTemporary, true, "temporarily unavailable", 5},
		{"500", reply{status: 500, body: errorJSON("UnknownError", "", "rid-500")},
			"UnknownError", ClassTemporary, true, "", 1},
		{"not-json", reply{status: 400, body: "<html>bad request</html>"},
			"", ClassRejected, false, "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t, tc.rep)
			clk := newFakeClock()
			var logBuf bytes.Buffer
			c := f.client(clk)
			c.Logger = slog.New(slog.NewJSONHandler(&logBuf, nil))
			res, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
			if res != nil {
				t.Errorf("result %+v with an error", res)
			}
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if ge.Status != tc.rep.status || ge.Code != tc.code || ge.Class() != tc.class || ge.Temporary() != tc.temporary || ge.Attempts != tc.attempts {
				t.Errorf("status %d code %q class %v temporary %v attempts %d", ge.Status, ge.Code, ge.Class(), ge.Temporary(), ge.Attempts)
			}
			if Classify(err) != tc.class {
				t.Errorf("Classify = %v", Classify(err))
			}
			if tc.rep.body != "" && strings.HasPrefix(tc.rep.body, "{") && ge.RequestID != "rid-"+tc.rep.body[strings.Index(tc.rep.body, "rid-")+4:strings.Index(tc.rep.body, "rid-")+7] {
				t.Errorf("request id %q", ge.RequestID)
			}
			if h := ge.Hint(); (tc.hint == "") != (h == "") || !strings.Contains(h, tc.hint) {
				t.Errorf("hint %q, want one containing %q", h, tc.hint)
			}
			if !strings.HasPrefix(err.Error(), "graph: sendMail: ") || strings.Contains(err.Error(), testToken) {
				t.Errorf("error text %q", err)
			}
			if got := len(f.requests()); got != tc.attempts {
				t.Errorf("server saw %d requests, want %d", got, tc.attempts)
			}
			if strings.Contains(logBuf.String(), testToken) || strings.Contains(logBuf.String(), "c2VjcmV0LXRva2Vu") {
				t.Errorf("the token is in the log")
			}
			if !strings.Contains(logBuf.String(), `"msg":"graph.send"`) {
				t.Errorf("no graph.send event: %s", logBuf.String())
			}
		})
	}
}

func TestRetryAfterSecondsHonoured(t *testing.T) {
	throttled := reply{status: 429, headers: map[string]string{"Retry-After": "7", "request-id": "rid-t"}, body: errorJSON("ApplicationThrottled", "slow down", "rid-t")}
	f := newFakeGraph(t, throttled, throttled, reply{status: 202, headers: map[string]string{"request-id": "rid-ok"}})
	clk := newFakeClock()
	c := f.client(clk)
	var logBuf bytes.Buffer
	c.Logger = slog.New(slog.NewJSONHandler(&logBuf, nil))
	res, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 3 || res.RequestID != "rid-ok" || res.Duration != 14*time.Second {
		t.Errorf("result %+v", res)
	}
	if want := []time.Duration{7 * time.Second, 7 * time.Second}; !equalDurations(clk.waits, want) {
		t.Errorf("waits %v, want %v", clk.waits, want)
	}
	reqs := f.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, r := range reqs {
		if !bytes.Equal(decodeBody(t, r.body), mime) {
			t.Errorf("attempt %d sent different bytes", i+1)
		}
		if r.header.Get("client-request-id") != reqs[0].header.Get("client-request-id") {
			t.Errorf("attempt %d changed client-request-id", i+1)
		}
	}
	if n := strings.Count(logBuf.String(), `"msg":"graph.retry"`); n != 2 {
		t.Errorf("%d graph.retry events, want 2", n)
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	clk := newFakeClock()
	when := clk.Now().Add(90 * time.Second).Format(http.TimeFormat)
	f := newFakeGraph(t, reply{status: 503, headers: map[string]string{"Retry-After": when}}, reply{status: 202})
	c := f.client(clk)
	res, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || !equalDurations(clk.waits, []time.Duration{90 * time.Second}) {
		t.Errorf("attempts %d waits %v", res.Attempts, clk.waits)
	}
}

func TestRetryBackoffWithoutRetryAfter(t *testing.T) {
	f := newFakeGraph(t, reply{status: 503})
	clk := newFakeClock()
	c := f.client(clk)
	c.MaxRetryWait = 3 * time.Second
	_, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
	var ge *Error
	if !errors.As(err, &ge) || ge.Status != 503 || ge.Attempts != 5 {
		t.Fatalf("err = %v", err)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
	if !equalDurations(clk.waits, want) {
		t.Errorf("waits %v, want %v", clk.waits, want)
	}
}

func TestRetryAfterLongerThanMaxWaitStops(t *testing.T) {
	f := newFakeGraph(t, reply{status: 429, headers: map[string]string{"Retry-After": "3600"}})
	clk := newFakeClock()
	c := f.client(clk)
	_, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
	var ge *Error
	if !errors.As(err, &ge) || ge.Status != 429 || ge.RetryAfter != time.Hour || ge.Attempts != 1 {
		t.Fatalf("err = %v", err)
	}
	if len(clk.waits) != 0 || !strings.Contains(err.Error(), "retry after 1h0m0s") {
		t.Errorf("waits %v, error %q", clk.waits, err)
	}
}

func TestMaxRetries(t *testing.T) {
	for _, tc := range []struct{ max, attempts int }{{-1, 1}, {1, 2}, {0, DefaultMaxRetries + 1}} {
		f := newFakeGraph(t, reply{status: 429, headers: map[string]string{"Retry-After": "1"}})
		c := f.client(newFakeClock())
		c.MaxRetries = tc.max
		_, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
		var ge *Error
		if !errors.As(err, &ge) || ge.Attempts != tc.attempts || len(f.requests()) != tc.attempts {
			t.Errorf("MaxRetries %d: err %v, %d requests, want %d", tc.max, err, len(f.requests()), tc.attempts)
		}
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	f := newFakeGraph(t, reply{status: 429, headers: map[string]string{"Retry-After": "5"}})
	ctx, cancel := context.WithCancel(context.Background())
	c := f.client(newFakeClock())
	c.Sleep = func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }
	_, err := c.SendMail(ctx, "alerts@contoso.com", opener(mime), int64(len(mime)))
	if !errors.Is(err, context.Canceled) || len(f.requests()) != 1 {
		t.Errorf("err %v after %d requests", err, len(f.requests()))
	}
}

func TestRealSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&Client{}).sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep = %v", err)
	}
}

func TestDialFailureRetriedAndClassified(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	clk := newFakeClock()
	c := &Client{Endpoint: "http://" + addr, Token: staticToken(testToken), Now: clk.Now, Sleep: clk.Sleep, MaxRetries: 2}
	_, err = c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
	var ge *Error
	if !errors.As(err, &ge) || ge.Status != 0 || ge.Attempts != 3 {
		t.Fatalf("err = %v", err)
	}
	if ge.Class() != ClassConnection || !ge.Temporary() || !strings.Contains(ge.Hint(), "connection refused") {
		t.Errorf("class %v temporary %v hint %q", ge.Class(), ge.Temporary(), ge.Hint())
	}
}

func TestMessageTooLargeRefusedLocally(t *testing.T) {
	f := newFakeGraph(t, reply{status: 202})
	c := f.client(newFakeClock())
	c.MaxRequestSize = 100
	_, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), 76) // 76 bytes -> 104 of base64
	var ge *Error
	if !errors.As(err, &ge) || !errors.Is(err, ErrMessageTooLarge) || ge.Class() != ClassRejected || !strings.Contains(ge.Hint(), "too large") {
		t.Fatalf("err = %v", err)
	}
	if len(f.requests()) != 0 {
		t.Error("a request was sent")
	}
	c.MaxRequestSize = 104
	if _, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime[:76]), 76); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	other := newFakeGraph(t, reply{status: 202})
	f := newFakeGraph(t, reply{status: 307, headers: map[string]string{"Location": other.srv.URL + "/v1.0/users/x/sendMail"}})
	c := f.client(newFakeClock())
	c.HTTPClient = nil // the default client refuses redirects
	_, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
	var ge *Error
	if !errors.As(err, &ge) || ge.Status != 307 || !errors.Is(err, ErrUnexpectedStatus) {
		t.Fatalf("err = %v", err)
	}
	if len(other.requests()) != 0 {
		t.Error("the token was sent to the redirect target")
	}
}

func TestUnexpectedSuccessStatus(t *testing.T) {
	f := newFakeGraph(t, reply{status: 200})
	c := f.client(newFakeClock())
	_, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
	if !errors.Is(err, ErrUnexpectedStatus) || Classify(err) != ClassConnection {
		t.Errorf("err = %v class %v", err, Classify(err))
	}
}

type failingToken struct{ err error }

func (f failingToken) Token(context.Context) (string, error) { return "", f.err }

func TestTokenFailure(t *testing.T) {
	f := newFakeGraph(t, reply{status: 202})
	c := f.client(newFakeClock())
	c.Token = failingToken{errors.New("oauth: invalid_client")}
	_, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
	if !errors.Is(err, ErrToken) || Classify(err) != ClassAuth || len(f.requests()) != 0 {
		t.Errorf("err = %v class %v", err, Classify(err))
	}
	c.Token = staticToken("a\r\nX-Evil: 1")
	_, err = c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
	if !errors.Is(err, ErrToken) || strings.Contains(err.Error(), "Evil") || len(f.requests()) != 0 {
		t.Errorf("malformed token: err = %v", err)
	}
}

func TestOpenerFailure(t *testing.T) {
	f := newFakeGraph(t, reply{status: 202})
	c := f.client(newFakeClock())
	boom := errors.New("spool gone")
	_, err := c.SendMail(context.Background(), "alerts@contoso.com", func() (io.ReadCloser, error) { return nil, boom }, -1)
	if !errors.Is(err, boom) || len(f.requests()) != 0 {
		t.Errorf("err = %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []*Client{
		{Token: staticToken("t"), Endpoint: "http://graph.example.com"},
		{Token: staticToken("t"), Endpoint: "https://graph.microsoft.com?x=1"},
		{Token: staticToken("t"), Endpoint: "ftp://graph.microsoft.com"},
		{Token: staticToken("t"), Endpoint: "https://user:pw@graph.microsoft.com"},
		{},
	} {
		_, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
		if !errors.Is(err, ErrBadConfig) || Classify(err) != ClassUsage {
			t.Errorf("%q: err = %v", c.Endpoint, err)
		}
	}
}

func TestEncReader(t *testing.T) {
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, n := range []int{0, 1, 2, 3, 4, 3071, 3072, 3073, 6144, 10000} {
		want := base64.StdEncoding.EncodeToString(data[:n])
		for name, wrap := range map[string]func(io.Reader) io.Reader{
			"plain": func(r io.Reader) io.Reader { return r },
			"one":   iotest.OneByteReader,
			"half":  iotest.HalfReader,
			"eof":   iotest.DataErrReader,
		} {
			got, err := io.ReadAll(newEncReader(wrap(bytes.NewReader(data[:n]))))
			if err != nil || string(got) != want {
				t.Errorf("%s %d: err %v, got %d bytes, want %d", name, n, err, len(got), len(want))
			}
		}
	}
	boom := errors.New("boom")
	if _, err := io.ReadAll(newEncReader(iotest.ErrReader(boom))); !errors.Is(err, boom) {
		t.Errorf("read error lost: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"-5":                            0,
		"12":                            12 * time.Second,
		" 3 ":                           3 * time.Second,
		"99999999":                      24 * time.Hour,
		"99999999999999999999":          24 * time.Hour, // beyond int64: still "very long", not "absent"
		"soon":                          0,
		"Thu, 03 Dec 2026 06:01:00 GMT": time.Minute,
		"Thu, 03 Dec 2026 05:00:00 GMT": 0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}

func TestCloudEndpoints(t *testing.T) {
	for in, want := range map[Cloud]string{
		"":          "https://graph.microsoft.com",
		"global":    "https://graph.microsoft.com",
		"USGov":     "https://graph.microsoft.us",
		"gcchigh":   "https://graph.microsoft.us",
		"usgov-dod": "https://dod-graph.microsoft.us",
		"dod":       "https://dod-graph.microsoft.us",
		"china":     "https://microsoftgraph.chinacloudapi.cn",
		"21vianet":  "https://microsoftgraph.chinacloudapi.cn",
	} {
		if got, err := in.Endpoint(); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	if _, err := Cloud("germany").Endpoint(); err == nil || !strings.HasPrefix(err.Error(), "graph: ") {
		t.Errorf("unknown cloud: %v", err)
	}
	if got := TokenScope("https://graph.microsoft.us/"); got != "https://graph.microsoft.us/.default" {
		t.Errorf("TokenScope = %q", got)
	}
	if got := TokenScope(""); got != "https://graph.microsoft.com/.default" {
		t.Errorf("TokenScope(\"\") = %q", got)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rep    reply
		found  bool
		class  Class
		inNote string
	}{
		{"200", reply{status: 200, body: `{"id":"5c1a"}`}, true, ClassNone, "sender exists"},
		{"403", reply{status: 403, body: errorJSON("Authorization_RequestDenied", "Insufficient privileges to complete the operation.", "rid")}, false, ClassNone, "may not read users"},
		{"401", reply{status: 401, body: errorJSON("InvalidAuthenticationToken", "Access token has expired or is not yet valid.", "rid")}, false, ClassAuth, ""},
		{"404", reply{status: 404, body: errorJSON("Request_ResourceNotFound", "Resource 'x' does not exist.", "rid")}, false, ClassRejected, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t, tc.rep)
			c := f.client(newFakeClock())
			res, err := c.Check(context.Background(), "alerts@contoso.com")
			if Classify(err) != tc.class || res.MailboxFound != tc.found || !strings.Contains(res.Note, tc.inNote) {
				t.Errorf("err %v res %+v", err, res)
			}
			r := f.requests()
			if len(r) != 1 || r[0].method != "GET" || r[0].requestURI != "/v1.0/users/alerts@contoso.com?$select=id" ||
				r[0].header.Get("Authorization") != "Bearer "+testToken || len(r[0].body) != 0 {
				t.Errorf("requests %+v", r)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPlainHTTPToLookalikeLoopbackHostRefused: a host name that merely
// starts with "127." (such as 127.0.0.1.attacker.example) resolves
// anywhere; plain http to it would send the Bearer token in the clear.
func TestPlainHTTPToLookalikeLoopbackHostRefused(t *testing.T) {
	for _, ep := range []string{
		"http://127.0.0.1.attacker.example",
		"http://127.attacker.example:8080",
		"http://localhost.attacker.example",
		"http://[::ffff:8.8.8.8]",
	} {
		if _, err := parseEndpoint(ep); err == nil {
			t.Errorf("%s: accepted for plain http", ep)
		}
	}
	for _, ep := range []string{"http://127.0.0.1:8080", "http://127.1.2.3", "http://[::1]:80", "http://localhost:1234"} {
		if _, err := parseEndpoint(ep); err != nil {
			t.Errorf("%s: %v", ep, err)
		}
	}
}

// TestBackoffDoesNotOverflowWithManyRetries: with many retries and no
// Retry-After, the doubling wait must stay capped at MaxRetryWait instead
// of overflowing into a zero or negative wait (a tight retry loop).
func TestBackoffDoesNotOverflowWithManyRetries(t *testing.T) {
	f := newFakeGraph(t, reply{status: 503})
	clk := newFakeClock()
	c := f.client(clk)
	c.MaxRetries = 70
	c.MaxRetryWait = time.Minute
	_, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
	var ge *Error
	if !errors.As(err, &ge) || ge.Attempts != 71 {
		t.Fatalf("err = %v", err)
	}
	for i, w := range clk.waits {
		if w <= 0 || w > time.Minute {
			t.Fatalf("wait %d is %v, want within (0, 1m]", i+1, w)
		}
	}
}

// A 504 means a gateway gave up waiting for the mailbox server, which may
// have sent the message: SendMail does not send it again itself. The error
// stays temporary, so a caller that accepts duplicates (the outbox: at
// least once) retries later with its own backoff.
func TestGatewayTimeoutIsNotResent(t *testing.T) {
	f := newFakeGraph(t, reply{status: 504})
	clk := newFakeClock()
	c := f.client(clk)
	_, err := c.SendMail(context.Background(), "alerts@contoso.com", opener(mime), int64(len(mime)))
	var ge *Error
	if !errors.As(err, &ge) || ge.Status != 504 || ge.Attempts != 1 || len(clk.waits) != 0 {
		t.Fatalf("err = %v, waits %v", err, clk.waits)
	}
	if !ge.Temporary() || ge.Class() != ClassTemporary {
		t.Errorf("504: temporary %v class %v", ge.Temporary(), ge.Class())
	}
}
