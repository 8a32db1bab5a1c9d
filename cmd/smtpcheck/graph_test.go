package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const cliGraphToken = "eyJhbGciOiJSUzI1NiJ9.Y2xpLWdyYXBoLXRva2Vu.c2ln"

// graphStub is a Graph stand-in on 127.0.0.1:0 answering every request
// with one status and error code; it records the decoded messages.
type graphStub struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs [][]byte
	uris []string
}

func newGraphStub(t *testing.T, status int, code string, extra map[string]string) *graphStub {
	t.Helper()
	g := &graphStub{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+cliGraphToken {
			t.Errorf("Authorization %q", r.Header.Get("Authorization"))
		}
		body, _ := io.ReadAll(r.Body)
		raw, _ := base64.StdEncoding.DecodeString(string(body))
		g.mu.Lock()
		g.msgs = append(g.msgs, raw)
		g.uris = append(g.uris, r.RequestURI)
		g.mu.Unlock()
		for k, v := range extra {
			w.Header().Set(k, v)
		}
		w.Header().Set("request-id", "cli-rid")
		if status == http.StatusOK && r.Method == http.MethodGet {
			io.WriteString(w, `{"id":"x"}`)
			return
		}
		if status != http.StatusAccepted {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		if status != http.StatusAccepted {
			io.WriteString(w, `{"error":{"code":"`+code+`","message":"fake refusal","innerError":{"request-id":"cli-rid","date":"2026-12-03T06:00:00"}}}`)
		}
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *graphStub) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.msgs)
}

func TestSendTransportGraphExitCodes(t *testing.T) {
	env := map[string]string{"GRAPH_TOKEN": cliGraphToken}
	tests := []struct {
		name   string
		status int
		code   string
		extra  map[string]string
		exit   int
		class  string
		hint   string
	}{
		{"accepted", 202, "", nil, exitOK, "", ""},
		{"401", 401, "InvalidAuthenticationToken", nil, exitAuth, "auth", ".default"},
		{"403", 403, "ErrorAccessDenied", nil, exitAuth, "auth", "Mail.Send"},
		{"404", 404, "ErrorInvalidUser", nil, exitRejected, "rejected", "does not exist"},
		{"400", 400, "ErrorMimeContentInvalidBase64String", nil, exitRejected, "rejected", "base64 MIME"},
		{"429", 429, "ApplicationThrottled", map[string]string{"Retry-After": "3600"}, exitTemporary, "temporary", "throttling"},
		{"503", 503, "ServiceNotAvailable", map[string]string{"Retry-After": "3600"}, exitTemporary, "temporary", "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGraphStub(t, tc.status, tc.code, tc.extra)
			out, stderr, code := runWith(t, env, "", "send", "--transport", "graph", "--graph-endpoint", g.srv.URL,
				"--oauth-token-env", "GRAPH_TOKEN", "--from", "Alerts <alerts@contoso.com>", "--to", "ops@contoso.com",
				"--bcc", "audit@contoso.com", "--subject", "cli graph", "--body", "hello", "--json")
			if code != tc.exit {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.exit, stderr)
			}
			if strings.Contains(out+stderr, cliGraphToken) {
				t.Error("the token was printed")
			}
			var got sendOut
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if g.count() != 1 {
				t.Fatalf("%d requests, want 1", g.count())
			}
			if tc.exit == exitOK {
				if !got.OK || got.Code != 202 || got.QueueID != "cli-rid" {
					t.Errorf("output %+v", got)
				}
				m, err := mail.ReadMessage(strings.NewReader(string(g.msgs[0])))
				if err != nil {
					t.Fatal(err)
				}
				if bcc, _ := m.Header.AddressList("Bcc"); len(bcc) != 1 || bcc[0].Address != "audit@contoso.com" {
					t.Errorf("Bcc %v", bcc)
				}
				if g.uris[0] != "/v1.0/users/alerts@contoso.com/sendMail" {
					t.Errorf("uri %s", g.uris[0])
				}
				return
			}
			e := got.Error
			if got.OK || e == nil || e.Class != tc.class || e.ExitCode != tc.exit || e.Code != tc.status || e.GraphCode != tc.code ||
				e.RequestID != "cli-rid" || !strings.Contains(e.Hint, tc.hint) {
				t.Errorf("error %+v", e)
			}
			if !strings.Contains(stderr, "hint: ") {
				t.Errorf("no hint on stderr: %s", stderr)
			}
		})
	}
}

func TestSendTransportGraphConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, stderr, code := runWith(t, map[string]string{"GRAPH_TOKEN": cliGraphToken}, "", "send", "--transport", "graph",
		"--graph-endpoint", "http://"+addr, "--graph-max-retries", "-1", "--oauth-token-env", "GRAPH_TOKEN",
		"--from", "alerts@contoso.com", "--to", "ops@contoso.com", "--subject", "x", "--body", "y")
	if code != exitConnection || !strings.Contains(stderr, "connection refused") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
}

func TestSendTransportGraphUsage(t *testing.T) {
	g := newGraphStub(t, 202, "", nil)
	dir := t.TempDir()
	raw := filepath.Join(dir, "m.eml")
	os.WriteFile(raw, []byte("From: alerts@contoso.com\r\nTo: ops@contoso.com\r\nSubject: x\r\n\r\ny\r\n"), 0o600)
	tokFile := filepath.Join(dir, "tok")
	os.WriteFile(tokFile, []byte(cliGraphToken+"\n"), 0o600)
	env := map[string]string{"GRAPH_TOKEN": cliGraphToken}
	for _, tc := range []struct {
		name string
		args []string
		exit int
	}{
		{"no token", []string{"--graph-endpoint", g.srv.URL, "--from", "a@contoso.com", "--to", "b@contoso.com", "--body", "x"}, exitUsage},
		{"server too", []string{"--server", "127.0.0.1:25", "--oauth-token-env", "GRAPH_TOKEN", "--from", "a@contoso.com", "--to", "b@contoso.com"}, exitUsage},
		{"cloud and endpoint", []string{"--graph-cloud", "usgov", "--graph-endpoint", g.srv.URL, "--oauth-token-env", "GRAPH_TOKEN", "--from", "a@contoso.com", "--to", "b@contoso.com"}, exitUsage},
		{"bad sender", []string{"--graph-endpoint", g.srv.URL, "--graph-sender", "a/b", "--oauth-token-env", "GRAPH_TOKEN", "--from", "a@contoso.com", "--to", "b@contoso.com"}, exitUsage},
		{"data with a bcc not in the header", []string{"--graph-endpoint", g.srv.URL, "--oauth-token-file", tokFile, "--from", "alerts@contoso.com", "--to", "ops@contoso.com", "--bcc", "hidden@contoso.com", "--data", raw}, exitUsage},
		{"data matching", []string{"--graph-endpoint", g.srv.URL, "--oauth-token-file", tokFile, "--from", "alerts@contoso.com", "--to", "ops@contoso.com", "--data", raw}, exitOK},
	} {
		before := g.count()
		_, stderr, code := runWith(t, env, "", append([]string{"send", "--transport", "graph"}, tc.args...)...)
		if code != tc.exit {
			t.Errorf("%s: exit %d, want %d; stderr %s", tc.name, code, tc.exit, stderr)
		}
		if sent := g.count() - before; (tc.exit == exitOK) != (sent == 1) {
			t.Errorf("%s: %d requests", tc.name, sent)
		}
	}
	if _, stderr, code := runWith(t, env, "", "send", "--server", "127.0.0.1:25", "--graph-sender", "a@contoso.com", "--from", "a@contoso.com", "--to", "b@contoso.com"); code != exitUsage {
		t.Errorf("graph flag without --transport graph: exit %d %s", code, stderr)
	}
}

func TestProbeTransportGraph(t *testing.T) {
	g := newGraphStub(t, 200, "", nil)
	out, stderr, code := runWith(t, map[string]string{"GRAPH_TOKEN": cliGraphToken}, "", "probe", "--transport", "graph",
		"--graph-endpoint", g.srv.URL, "--graph-sender", "alerts@contoso.com", "--oauth-token-env", "GRAPH_TOKEN", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got probeOut
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if !got.OK || got.Graph == nil || !got.Graph.MailboxFound || got.Graph.Status != 200 || g.uris[0] != "/v1.0/users/alerts@contoso.com?$select=id" {
		t.Errorf("probe %+v graph %+v", got, got.Graph)
	}
	out, _, code = runWith(t, map[string]string{"GRAPH_TOKEN": cliGraphToken}, "", "probe", "--transport", "graph",
		"--graph-endpoint", g.srv.URL, "--graph-sender", "alerts@contoso.com", "--oauth-token-env", "GRAPH_TOKEN")
	if code != exitOK || !strings.Contains(out, "token obtained") {
		t.Errorf("text probe: exit %d\n%s", code, out)
	}
}
