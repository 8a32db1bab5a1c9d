package mailwarden

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"mailwarden/audit"
	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// auditEvents returns, for each message_id in the audit file, the sorted
// list of its records' event names with the reply code of smtp.send.
func auditEvents(t *testing.T, file string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			continue
		}
		id, _ := rec["message_id"].(string)
		msg, _ := rec["msg"].(string)
		if id == "" || msg == "" {
			continue
		}
		if r, ok := rec["reply"].(map[string]any); ok {
			msg += fmt.Sprintf(":%v", r["code"])
		}
		if e, ok := rec["error"].(map[string]any); ok {
			msg += fmt.Sprintf(":err-%v", e["stage"])
		}
		out[id] = append(out[id], msg)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// TestSenderSendBatch: a batch through the public API gives each message
// the outcome and the audit records Send gives it.
func TestSenderSendBatch(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{NoChunking: true, Rcpt: func(to string, _ *smtp.RcptOptions) error {
		if strings.HasPrefix(to, "bad") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	dir := t.TempDir()
	newSender := func(name string) (*Sender, string) {
		f := filepath.Join(dir, name)
		s, err := NewSender(context.Background(), Profile{Name: "batch", Servers: []string{srv.Addr}, TLS: "none",
			From: "alerts@example.com", Audit: AuditConfig{File: f}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s, f
	}
	msg := func(i int, to string) *envelope.Message {
		return &envelope.Message{To: []headers.Address{{Addr: to}}, Subject: fmt.Sprintf("batch %d", i), Text: "body\r\n",
			MessageID: fmt.Sprintf("<m%d@example.com>", i)}
	}
	// The reference: the same messages with Send.
	one, oneFile := newSender("one.log")
	for i, to := range []string{"ok@example.org", "bad@example.org"} {
		one.Send(context.Background(), msg(100+i, to))
	}
	one.Close()
	ref := auditEvents(t, oneFile)
	okRef, badRef := ref["<m100@example.com>"], ref["<m101@example.com>"]
	if len(okRef) == 0 || len(badRef) == 0 {
		t.Fatalf("reference records: %v", ref)
	}

	s, file := newSender("batch.log")
	var msgs []*envelope.Message
	for i := range 6 {
		to := "ok@example.org"
		if i == 2 {
			to = "bad@example.org"
		}
		msgs = append(msgs, msg(i, to))
	}
	msgs = append(msgs, &envelope.Message{Subject: "no recipients", Text: "x\r\n"})
	res, err := s.SendBatch(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i, r := range res[:6] {
		want := BatchAccepted
		if i == 2 {
			want = BatchFailed
		}
		if r.State != want {
			t.Errorf("message %d: %v (%v)", i, r.State, r.Err)
		}
	}
	var te *transport.Error
	if !errors.As(res[2].Err, &te) || te.Code != 550 || te.Stage != transport.StageRcpt {
		t.Errorf("message 2: %v", res[2].Err)
	}
	if res[6].State != BatchFailed || res[6].Err == nil || res[6].Result != nil {
		t.Errorf("message without recipients: %+v", res[6])
	}
	if !res[0].Result.Pipelined || res[0].Result.Transport != "smtp" || res[0].Result.Reply.Code != 250 {
		t.Errorf("result %+v", res[0].Result)
	}
	if srv.Count() != 5+1 {
		t.Errorf("server stored %d messages", srv.Count())
	}
	got := auditEvents(t, file)
	for i := range 6 {
		want := okRef
		if i == 2 {
			want = badRef
		}
		id := fmt.Sprintf("<m%d@example.com>", i)
		if strings.Join(got[id], " ") != strings.Join(want, " ") {
			t.Errorf("audit records of %s: %v, Send gives %v", id, got[id], want)
		}
	}
	if rep, err := audit.Verify(nil, file); err != nil || !rep.Sealed {
		t.Fatalf("audit trail: %+v %v", rep, err)
	}
}
