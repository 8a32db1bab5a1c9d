package graph_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"mailwarden/graph"
)

type token string

func (t token) Token(context.Context) (string, error) { return string(t), nil }

func ExampleClient_SendMail() {
	// A stand-in for Graph that prints what it receives.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mime, _ := base64.StdEncoding.DecodeString(string(body))
		fmt.Printf("%s %s (%s)\n%s", r.Method, r.URL.Path, r.Header.Get("Content-Type"), bytes.ReplaceAll(mime, []byte("\r\n"), []byte("\n")))
		w.Header().Set("request-id", "0a1b2c3d")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	msg := []byte("From: alerts@contoso.com\r\nTo: ops@contoso.com\r\nSubject: disk full\r\n\r\n/var is 98% full.\r\n")
	c := &graph.Client{Endpoint: srv.URL, Token: token("access-token")}
	res, err := c.SendMail(context.Background(), "alerts@contoso.com",
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(msg)), nil }, int64(len(msg)))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Status, res.RequestID, res.Attempts)
	// Output:
	// POST /v1.0/users/alerts@contoso.com/sendMail (text/plain)
	// From: alerts@contoso.com
	// To: ops@contoso.com
	// Subject: disk full
	//
	// /var is 98% full.
	// 202 0a1b2c3d 1
}
