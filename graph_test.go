package mailwarden_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailwarden"
	"mailwarden/audit"
	"mailwarden/envelope"
	"mailwarden/graph"
	"mailwarden/headers"
	"mailwarden/internal/fakes"
	"mailwarden/internal/testcert"
	"mailwarden/smime"
)

const graphToken = "eyJhbGciOiJSUzI1NiJ9.Z3JhcGgtdG9rZW4tc2VjcmV0.c2ln"

type graphCall struct {
	method, uri, auth, contentType string
	mime                           []byte // the decoded body
}

// fakeGraph is a Graph stand-in on 127.0.0.1:0: it decodes each sendMail
// body and answers with status (and a Graph error JSON for failures).
type fakeGraph struct {
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []graphCall
	status int
	code   string
}

func newFakeGraph(t *testing.T, status int, code string) *fakeGraph {
	t.Helper()
	f := &fakeGraph{status: status, code: code}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		raw, err := base64.StdEncoding.DecodeString(string(body))
		if err != nil {
			t.Errorf("fake graph: body is not base64: %v", err)
		}
		f.mu.Lock()
		f.calls = append(f.calls, graphCall{r.Method, r.RequestURI, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), raw})
		status, code := f.status, f.code
		f.mu.Unlock()
		w.Header().Set("request-id", "req-"+strconv.Itoa(status))
		if status == http.StatusOK && r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"5c1a"}`)
			return
		}
		if status != http.StatusAccepted {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, `{"error":{"code":"`+code+`","message":"refused by the fake","innerError":{"request-id":"req-err","date":"2026-12-03T06:00:00"}}}`)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGraph) got() []graphCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]graphCall(nil), f.calls...)
}

func graphProfile(f *fakeGraph, dir string) mailwarden.Profile {
	return mailwarden.Profile{
		Name: "m365", Transport: "graph", From: "Alerts <alerts@contoso.com>",
		Graph: mailwarden.GraphConfig{Endpoint: f.srv.URL, MaxRetries: -1},
		Auth:  mailwarden.Auth{OAuthToken: "env:GRAPH_TOKEN"},
		Audit: mailwarden.AuditConfig{File: filepath.Join(dir, "audit.log")},
	}
}

func graphOpts() *mailwarden.Options {
	return &mailwarden.Options{Getenv: func(k string) string {
		if k == "GRAPH_TOKEN" {
			return graphToken
		}
		return ""
	}}
}

func readAudit(t *testing.T, file string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(graphToken)) || bytes.Contains(data, []byte("Z3JhcGgtdG9rZW4tc2VjcmV0")) {
		t.Error("the access token is in the audit trail")
	}
	var recs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	return recs
}

func findRecord(recs []map[string]any, msg string) map[string]any {
	for _, r := range recs {
		if r["msg"] == msg {
			return r
		}
	}
	return nil
}

// TestGraphSendSignedEndToEnd sends an S/MIME-signed message with a Bcc
// recipient through a Profile with Transport "graph" to a fake Graph, and
// checks the request, that the signature still verifies on what Graph got,
// that Bcc reached Graph in the header, and the audit trail.
func TestGraphSendSignedEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ca, err := testcert.NewCA("Graph Test CA")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ca.Issue(testcert.Options{CommonName: "Alerts", Emails: []string{"alerts@contoso.com"}, Purpose: testcert.SMIME})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "signer.pem"), filepath.Join(dir, "signer.key")
	os.WriteFile(certFile, signer.CertPEM, 0o600)
	os.WriteFile(keyFile, signer.KeyPEM, 0o600)

	f := newFakeGraph(t, http.StatusAccepted, "")
	p := graphProfile(f, dir)
	p.SMIME = mailwarden.SMIMEConfig{SignCert: certFile, SignKey: keyFile}
	s, err := mailwarden.NewSender(context.Background(), p, graphOpts())
	if err != nil {
		t.Fatal(err)
	}
	m := &envelope.Message{
		From:    headers.Address{Name: "Alerts", Addr: "alerts@contoso.com"},
		To:      []headers.Address{{Addr: "ops@contoso.com"}},
		Cc:      []headers.Address{{Addr: "lead@contoso.com"}},
		Bcc:     []headers.Address{{Addr: "auditor@fabrikam.com"}},
		Subject: "disk full", Text: "/var is 98% full.\r\n",
	}
	res, err := s.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	calls := f.got()
	if len(calls) != 1 {
		t.Fatalf("%d requests, want 1", len(calls))
	}
	c := calls[0]
	if c.method != "POST" || c.uri != "/v1.0/users/alerts@contoso.com/sendMail" || c.auth != "Bearer "+graphToken || c.contentType != "text/plain" {
		t.Errorf("request %s %s auth %q type %q", c.method, c.uri, c.auth, c.contentType)
	}
	// The signature verifies on exactly what Graph received.
	opened, err := smime.Open(bytes.NewReader(c.mime), smime.OpenOptions{Roots: ca.Pool()})
	if err != nil {
		t.Fatalf("S/MIME signature does not verify on the bytes Graph got: %v", err)
	}
	if len(opened.Signers) != 1 || !opened.Signers[0].Equal(signer.Cert) || !bytes.Contains(opened.Entity, []byte("/var is 98% full.")) {
		t.Errorf("opened: %d signers, entity %q", len(opened.Signers), opened.Entity)
	}
	hdr, err := mail.ReadMessage(bytes.NewReader(c.mime))
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{"To": "ops@contoso.com", "Cc": "lead@contoso.com", "Bcc": "auditor@fabrikam.com"} {
		l, err := hdr.Header.AddressList(field)
		if err != nil || len(l) != 1 || l[0].Address != want {
			t.Errorf("%s = %v %v, want %s", field, l, err, want)
		}
	}
	if got := strings.Trim(hdr.Header.Get("Message-Id"), "<>"); got != m.MessageID || got == "" {
		t.Errorf("Message-ID %q, Send set %q", got, m.MessageID)
	}
	if res.Reply.Code != 202 || res.QueueID != "req-202" || res.Attempts != 1 || res.Server != strings.TrimPrefix(f.srv.URL, "http://") ||
		len(res.Accepted()) != 3 || res.Size != int64(len(c.mime)) {
		t.Errorf("result %+v", res)
	}
	if m.Bcc == nil || m.BccHeader {
		t.Error("Send changed the caller's message")
	}

	recs := readAudit(t, p.Audit.File)
	intent, send := findRecord(recs, "graph.intent"), findRecord(recs, "graph.send")
	if intent == nil || send == nil {
		t.Fatalf("graph.intent %v graph.send %v in %v", intent, send, recs)
	}
	for _, r := range []map[string]any{intent, send} {
		if r["profile"] != "m365" || r["message_id"] != m.MessageID || r["from"] != "alerts@contoso.com" || r["transport"] != "graph" {
			t.Errorf("%s: %v", r["msg"], r)
		}
		rc, _ := r["rcpts"].([]any)
		if len(rc) != 3 || rc[2] != "auditor@fabrikam.com" {
			t.Errorf("%s rcpts %v", r["msg"], r["rcpts"])
		}
		if sm, _ := r["smime"].(map[string]any); sm == nil || sm["signed"] != true {
			t.Errorf("%s smime %v", r["msg"], r["smime"])
		}
	}
	if send["status"] != float64(202) || send["request_id"] != "req-202" || send["attempts"] != float64(1) || send["sender"] != "alerts@contoso.com" {
		t.Errorf("graph.send %v", send)
	}
	if _, err := audit.Verify(nil, p.Audit.File); err != nil {
		t.Errorf("audit chain: %v", err)
	}
}

func TestGraphSendRefusedIsTypedAndAudited(t *testing.T) {
	dir := t.TempDir()
	f := newFakeGraph(t, http.StatusForbidden, "ErrorAccessDenied")
	p := graphProfile(f, dir)
	p.Graph.Sender = "noreply@contoso.com"
	s, err := mailwarden.NewSender(context.Background(), p, graphOpts())
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.SendTest(context.Background(), "ops@contoso.com")
	s.Close()
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Status != 403 || ge.Code != "ErrorAccessDenied" || ge.Class() != graph.ClassAuth || !strings.Contains(ge.Hint(), "Mail.Send") {
		t.Fatalf("err = %v (%T)", err, err)
	}
	if res != nil {
		t.Errorf("result %+v", res)
	}
	if c := f.got(); len(c) != 1 || c[0].uri != "/v1.0/users/noreply@contoso.com/sendMail" {
		t.Errorf("calls %+v", c)
	}
	send := findRecord(readAudit(t, p.Audit.File), "graph.send")
	if send == nil || send["level"] != "ERROR" || send["test"] != true {
		t.Fatalf("graph.send %v", send)
	}
	if e, _ := send["error"].(map[string]any); e == nil || e["status"] != float64(403) || e["graph_code"] != "ErrorAccessDenied" || e["temporary"] != false {
		t.Errorf("error fields %v", send["error"])
	}
}

func TestGraphSendRawRecipientsMustBeInHeader(t *testing.T) {
	f := newFakeGraph(t, http.StatusAccepted, "")
	p := graphProfile(f, t.TempDir())
	s, err := mailwarden.NewSender(context.Background(), p, graphOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw := "From: alerts@contoso.com\r\nTo: ops@contoso.com\r\nBcc: Hidden <hidden@contoso.com>\r\nSubject: x\r\n\r\nbody\r\n"
	for _, tc := range []struct {
		to []string
		ok bool
	}{
		{[]string{"ops@contoso.com", "HIDDEN@contoso.com"}, true},
		{[]string{"ops@contoso.com"}, false},                                           // hidden@ in the header only
		{[]string{"ops@contoso.com", "hidden@contoso.com", "boss@contoso.com"}, false}, // boss@ in the envelope only
	} {
		before := len(f.got())
		_, err := s.SendRaw(context.Background(), "alerts@contoso.com", tc.to, strings.NewReader(raw))
		sent := len(f.got()) - before
		if tc.ok && (err != nil || sent != 1) {
			t.Errorf("%v: err %v, %d sent", tc.to, err, sent)
		}
		if !tc.ok && (!errors.Is(err, mailwarden.ErrGraphRecipients) || sent != 0) {
			t.Errorf("%v: err %v, %d sent; want ErrGraphRecipients and nothing sent", tc.to, err, sent)
		}
	}
	if got := f.got(); len(got) != 1 || string(got[0].mime) != raw {
		t.Errorf("SendRaw changed the message: %q", got)
	}
}

func TestGraphFailClosedAuditSendsNothing(t *testing.T) {
	f := newFakeGraph(t, http.StatusAccepted, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	p := graphProfile(f, t.TempDir())
	p.Audit = mailwarden.AuditConfig{Syslog: "tcp://" + ln.Addr().String()}
	s, err := mailwarden.NewSender(context.Background(), p, graphOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the syslog sink never connected")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = s.SendTest(ctx, "ops@contoso.com")
	if !errors.Is(err, mailwarden.ErrAuditFailed) || len(f.got()) != 0 {
		t.Errorf("err %v, %d requests; want ErrAuditFailed and nothing sent", err, len(f.got()))
	}
}

func TestGraphProbe(t *testing.T) {
	f := newFakeGraph(t, http.StatusOK, "")
	p := graphProfile(f, t.TempDir())
	s, err := mailwarden.NewSender(context.Background(), p, graphOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Graph == nil || !rep.Graph.MailboxFound || len(rep.Servers) != 1 || rep.Servers[0].Server != f.srv.URL {
		t.Errorf("report %+v", rep)
	}
	if c := f.got(); len(c) != 1 || c[0].method != "GET" || c[0].uri != "/v1.0/users/alerts@contoso.com?$select=id" {
		t.Errorf("calls %+v", c)
	}
}

func TestGraphProfileErrors(t *testing.T) {
	f := newFakeGraph(t, http.StatusAccepted, "")
	base := graphProfile(f, t.TempDir())
	base.Audit = mailwarden.AuditConfig{}
	for _, tc := range []struct {
		name  string
		edit  func(p *mailwarden.Profile)
		field string
	}{
		{"no token", func(p *mailwarden.Profile) { p.Auth.OAuthToken = "" }, "auth.oauth_token"},
		{"unset token", func(p *mailwarden.Profile) { p.Auth.OAuthToken = "env:NOPE" }, "auth.oauth_token"},
		{"cloud and endpoint", func(p *mailwarden.Profile) { p.Graph.Cloud = "usgov" }, "graph.endpoint"},
		{"unknown cloud", func(p *mailwarden.Profile) { p.Graph.Endpoint, p.Graph.Cloud = "", "mars" }, "graph.cloud"},
		{"sender injection", func(p *mailwarden.Profile) { p.Graph.Sender = "a/../b@contoso.com" }, "graph.sender"},
		{"unknown transport", func(p *mailwarden.Profile) { p.Transport = "carrier-pigeon" }, "transport"},
	} {
		p := base
		tc.edit(&p)
		s, err := mailwarden.NewSender(context.Background(), p, graphOpts())
		var ce *mailwarden.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			if s != nil {
				s.Close()
			}
			t.Errorf("%s: err %v, want field %s", tc.name, err, tc.field)
		}
	}
	// A national cloud needs no servers and is accepted without any request.
	p := base
	p.Graph.Endpoint, p.Graph.Cloud = "", "usgov"
	s, err := mailwarden.NewSender(context.Background(), p, graphOpts())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestGraphOverTLSThroughSOCKS5 reaches an https endpoint through the
// profile's SOCKS5 proxy, trusting it by CAFile; without the CA the
// failure is a connection error with the CA hint.
func TestGraphOverTLSThroughSOCKS5(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, _ = base64.StdEncoding.DecodeString(string(body))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted case's handshake error is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	proxy, err := fakes.StartSOCKS5("pu", "proxy-pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })

	p := mailwarden.Profile{Name: "tls", Transport: "graph", From: "alerts@contoso.com", CAFile: caFile,
		Graph: mailwarden.GraphConfig{Endpoint: srv.URL, MaxRetries: -1},
		Auth:  mailwarden.Auth{OAuthToken: "env:GRAPH_TOKEN"},
		Proxy: mailwarden.Proxy{Type: "socks5", Host: "127.0.0.1", Port: proxyPort(t, proxy.Addr()), User: "pu", Password: "env:PROXY_PW"},
		Audit: mailwarden.AuditConfig{File: filepath.Join(dir, "audit.log")}}
	opts := &mailwarden.Options{Getenv: func(k string) string {
		return map[string]string{"GRAPH_TOKEN": graphToken, "PROXY_PW": "proxy-pw"}[k]
	}}
	s, err := mailwarden.NewSender(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendTest(context.Background(), "ops@contoso.com"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	mu.Lock()
	if !bytes.Contains(got, []byte("Subject: Mailwarden test message (profile tls)")) {
		t.Errorf("message %q", got)
	}
	mu.Unlock()
	if proxy.Tunnels() != 1 {
		t.Errorf("%d tunnels through the proxy, want 1", proxy.Tunnels())
	}
	send := findRecord(readAudit(t, p.Audit.File), "graph.send")
	if send == nil || !strings.HasPrefix(fmt.Sprint(send["proxy"]), "socks5") || strings.Contains(fmt.Sprint(send["proxy"]), "proxy-pw") {
		t.Errorf("graph.send %v", send)
	}

	p.CAFile, p.Audit = "", mailwarden.AuditConfig{}
	s, err = mailwarden.NewSender(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.SendTest(context.Background(), "ops@contoso.com")
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Class() != graph.ClassConnection || !strings.Contains(ge.Hint(), "--ca") {
		t.Errorf("untrusted endpoint: %v", err)
	}
}

func proxyPort(t *testing.T, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
