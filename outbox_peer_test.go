package mailwarden_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailwarden"
	"mailwarden/internal/peers"
	"mailwarden/outbox"
)

// queueIDs collects the queue ids of outbox.delivered records.
type queueIDs struct {
	mu  sync.Mutex
	ids map[string]string // message_id -> queue_id
}

func (q *queueIDs) Enabled(context.Context, slog.Level) bool { return true }
func (q *queueIDs) WithAttrs([]slog.Attr) slog.Handler       { return q }
func (q *queueIDs) WithGroup(string) slog.Handler            { return q }
func (q *queueIDs) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "outbox.delivered" {
		return nil
	}
	var mid, qid string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "message_id":
			mid = a.Value.String()
		case "queue_id":
			qid = a.Value.String()
		}
		return true
	})
	q.mu.Lock()
	q.ids[mid] = qid
	q.mu.Unlock()
	return nil
}

// TestOutboxDeliversThroughRealPostfix queues messages and delivers them
// through the test environment's Postfix over STARTTLS, then finds each in
// its sink by the queue id the outbox recorded.
func TestOutboxDeliversThroughRealPostfix(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_STARTTLS", "MW_POSTFIX_MAILDIR", "MW_TEST_CA")
	qids := &queueIDs{ids: map[string]string{}}
	s, err := mailwarden.NewSender(context.Background(), mailwarden.Profile{Name: "outbox-peer", Servers: []string{v[0]},
		TLS: "explicit", CAFile: v[2]}, &mailwarden.Options{Logger: slog.New(qids)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ob, err := s.OpenOutbox(outbox.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	tag := "outbox-" + time.Now().Format("150405.000000000")
	var mids []string
	for i := range 3 {
		m := alert(t, fmt.Sprintf("%s-%d", tag, i))
		if _, err := ob.Enqueue(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		mids = append(mids, m.MessageID)
	}
	st, err := ob.RunOnce(context.Background())
	if err != nil || st.Delivered != 3 {
		t.Fatalf("%+v %v", st, err)
	}
	for i, mid := range mids {
		qids.mu.Lock()
		qid := qids.ids[mid]
		qids.mu.Unlock()
		if qid == "" {
			t.Fatalf("no queue id recorded for %s", mid)
		}
		got := waitInSink(t, v[1], qid)
		if !bytes.Contains(got, []byte("<"+mid+">")) || !bytes.Contains(got, []byte(fmt.Sprintf("Subject: %s-%d\r\n", tag, i))) {
			t.Errorf("delivered file for %s lacks what was queued:\n%.500s", mid, got)
		}
	}
	if l, _ := ob.List(context.Background()); len(l) != 0 {
		t.Fatalf("left in the spool: %+v", l)
	}
}

func waitInSink(t *testing.T, dir, queueID string) []byte {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(dir, "*."+queueID))
		if len(m) == 1 {
			b, err := os.ReadFile(m[0])
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no file for queue id %s in %s", queueID, dir)
	return nil
}

// TestOutboxAgainstRealPostfixRefusals: the test environment's Postfix
// answers 451 for defer-* recipients and 550 for reject-* ones (a
// check_recipient_access table). The outbox defers the first with the
// MTA's reply kept, dead-letters the second, and delivers the ordinary
// message in the same pass.
func TestOutboxAgainstRealPostfixRefusals(t *testing.T) {
	v := peers.Need(t, "MW_POSTFIX_STARTTLS", "MW_POSTFIX_MAILDIR", "MW_TEST_CA")
	qids := &queueIDs{ids: map[string]string{}}
	s, err := mailwarden.NewSender(context.Background(), mailwarden.Profile{Name: "outbox-refusals", Servers: []string{v[0]},
		TLS: "explicit", CAFile: v[2]}, &mailwarden.Options{Logger: slog.New(qids)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ob, err := s.OpenOutbox(outbox.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	tag := "outbox-cue-" + time.Now().Format("150405.000000000")
	mids := map[string]string{}
	for _, rcpt := range []string{"ops@example.org", "defer-1@example.org", "reject-1@example.org"} {
		m := alert(t, tag+" "+rcpt)
		m.To[0].Addr = rcpt
		if _, err := ob.Enqueue(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		mids[rcpt] = m.MessageID
	}
	st, err := ob.RunOnce(context.Background())
	if err != nil || st.Delivered != 1 || st.Deferred != 1 || st.Dead != 1 {
		t.Fatalf("one pass: %+v %v, want 1 delivered, 1 deferred, 1 dead", st, err)
	}
	qids.mu.Lock()
	qid := qids.ids[mids["ops@example.org"]]
	qids.mu.Unlock()
	if got := waitInSink(t, v[1], qid); !bytes.Contains(got, []byte(tag)) {
		t.Errorf("the ordinary message did not arrive: %.300s", got)
	}
	list, err := ob.List(context.Background())
	if err != nil || len(list) != 2 {
		t.Fatalf("left in the spool: %+v %v", list, err)
	}
	for _, e := range list {
		switch e.Envelope.MessageID {
		case mids["defer-1@example.org"]:
			if e.State != outbox.StateDeferred || e.Attempts != 1 || !strings.Contains(e.LastError, "451 4.3.0") || e.NextAttempt.IsZero() {
				t.Errorf("deferred entry: %+v", e)
			}
		case mids["reject-1@example.org"]:
			if e.State != outbox.StateDead || !strings.Contains(e.LastError, "550 5.1.1") {
				t.Errorf("dead entry: %+v", e)
			}
		default:
			t.Errorf("unexpected entry %+v", e)
		}
	}
}
