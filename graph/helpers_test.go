package graph

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

const testToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.c2VjcmV0LXRva2Vu.sig"

// reply is one scripted answer of the fake Graph server.
type reply struct {
	status  int
	headers map[string]string
	body    string
}

// seen is one request the fake server received.
type seen struct {
	method, requestURI string
	header             http.Header
	body               []byte // as received (base64)
}

// fakeGraph is an in-process Graph on 127.0.0.1:0 that records every
// request and answers from a script (the last reply repeats).
type fakeGraph struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	script []reply
	reqs   []seen
}

func newFakeGraph(t *testing.T, script ...reply) *fakeGraph {
	t.Helper()
	f := &fakeGraph{t: t, script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGraph) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("fake graph: reading body: %v", err)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, seen{method: r.Method, requestURI: r.RequestURI, header: r.Header.Clone(), body: body})
	rep := reply{status: http.StatusAccepted}
	if len(f.script) > 0 {
		rep = f.script[0]
		if len(f.script) > 1 {
			f.script = f.script[1:]
		}
	}
	f.mu.Unlock()
	for k, v := range rep.headers {
		w.Header().Set(k, v)
	}
	if rep.body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func (f *fakeGraph) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

type staticToken string

func (s staticToken) Token(context.Context) (string, error) { return string(s), nil }

// fakeClock is an injected clock: Sleep advances it and records the wait.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

func (f *fakeGraph) client(clk *fakeClock) *Client {
	return &Client{
		Endpoint:     f.srv.URL,
		HTTPClient:   f.srv.Client(),
		Token:        staticToken(testToken),
		Now:          clk.Now,
		Sleep:        clk.Sleep,
		NewRequestID: func() string { return "11111111-2222-4333-8444-555555555555" },
	}
}

func opener(b []byte) Opener {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

func decodeBody(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		t.Fatalf("body is not standard base64: %v", err)
	}
	return out
}

func errorJSON(code, msg, rid string) string {
	return `{"error":{"code":"` + code + `","message":"` + msg + `","innerError":{"request-id":"` + rid + `","date":"2026-12-03T06:00:00","client-request-id":"11111111-2222-4333-8444-555555555555"}}}`
}
