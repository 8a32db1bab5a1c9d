package graph

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkSendMail1MB sends a 1 MB message to an in-process server that
// discards the body: it measures the client's encoding and streaming
// (allocations per send, MB/s of message), not Graph.
func BenchmarkSendMail1MB(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	b.Cleanup(srv.Close)
	msg := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?\r\n"), (1<<20)/66)
	c := &Client{Endpoint: srv.URL, HTTPClient: srv.Client(), Token: staticToken(testToken), MaxRequestSize: -1}
	open := opener(msg)
	ctx := context.Background()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.SendMail(ctx, "alerts@contoso.com", open, int64(len(msg))); err != nil {
			b.Fatal(err)
		}
	}
}
