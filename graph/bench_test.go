package graph

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkSendMail sends messages of 64 KiB, 1 MiB and 3 MiB to an
// in-process server that discards the body: it measures the client's
// encoding and streaming (MB/s of message, and allocations, which should
// not grow with the message), not Graph.
func BenchmarkSendMail(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	b.Cleanup(srv.Close)
	line := []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?\r\n")
	c := &Client{Endpoint: srv.URL, HTTPClient: srv.Client(), Token: staticToken(testToken), MaxRequestSize: -1}
	ctx := context.Background()
	for _, size := range []int{64 << 10, 1 << 20, 3 << 20} {
		msg := bytes.Repeat(line, size/len(line)+1)[:size]
		open := opener(msg)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.SendMail(ctx, "alerts@contoso.com", open, int64(len(msg))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
