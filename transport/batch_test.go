package transport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden/internal/peers"
	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// countingDialer counts the writes on the connections it makes: one per
// flight of commands.
type countingDialer struct {
	writes atomic.Int64
}

func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: nc, n: &d.writes}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

func batchBody(i int) string {
	return fmt.Sprintf("Subject: batch %d\r\n\r\nmarker-%03d\r\n.leading dot\r\n", i, i)
}

func batchItem(from string, i int, to ...string) transport.BatchItem {
	return transport.BatchItem{Envelope: transport.Envelope{From: from, To: to}, Body: strings.NewReader(batchBody(i))}
}

// TestSendBatchAttribution: a go-smtp server refuses the RCPTs of one
// message, the MAIL of another, the data (after the dot) of a third; every
// outcome lands on its own message, refused bodies are never sent, and the
// batch takes about one flight per message.
func TestSendBatchAttribution(t *testing.T) {
	for _, tc := range []struct {
		name     string
		chunking bool
		policy   transport.RecipientPolicy
	}{
		{"data", false, transport.AllRecipients},
		{"data-accepted-policy", false, transport.AcceptedRecipients},
		{"bdat", true, transport.AllRecipients},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{
				NoChunking: !tc.chunking,
				Mail: func(from string, _ *smtp.MailOptions) error {
					if strings.HasPrefix(from, "blocked@") {
						return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "sender blocked"}
					}
					return nil
				},
				Rcpt: func(to string, _ *smtp.RcptOptions) error {
					if strings.HasPrefix(to, "bad") {
						return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user " + to}
					}
					return nil
				},
				Data: func(b []byte) error {
					if bytes.Contains(b, []byte("marker-003")) {
						return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "content refused"}
					}
					return nil
				},
			})
			cfg := testConfig(t)
			cfg.Recipients = tc.policy
			var tr logBuf
			cfg.Transcript = &tr
			d := &countingDialer{}
			cfg.Dialer = d
			c, err := transport.Dial(ctxT(t, 10e9), serverAddr(t, srv, transport.TLSNone), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			items := []transport.BatchItem{
				batchItem("a@example.org", 0, "ok0@example.org"),
				batchItem("a@example.org", 1, "bad1@example.org"),
				batchItem("a@example.org", 2, "ok2@example.org"),
				batchItem("a@example.org", 3, "ok3@example.org"),
				batchItem("a@example.org", 4, "ok4@example.org", "bad4@example.org"),
				batchItem("a@example.org", 5, "ok5@example.org"),
				batchItem("blocked@example.org", 6, "ok6@example.org"),
				batchItem("a@example.org", 7, "ok7@example.org"),
				batchItem("a@example.org", 8, "bad\r\nRSET@example.org"),
				batchItem("a@example.org", 9, "ok9@example.org"),
			}
			before := d.writes.Load()
			res, err := c.SendBatch(ctxT(t, 10e9), items)
			if err != nil {
				t.Fatal(err)
			}
			flights := d.writes.Load() - before
			want := map[int]transport.BatchState{0: transport.BatchAccepted, 1: transport.BatchFailed, 2: transport.BatchAccepted,
				3: transport.BatchFailed, 4: transport.BatchFailed, 5: transport.BatchAccepted, 6: transport.BatchFailed,
				7: transport.BatchAccepted, 8: transport.BatchFailed, 9: transport.BatchAccepted}
			if tc.policy == transport.AcceptedRecipients {
				want[4] = transport.BatchAccepted
			}
			for i, r := range res {
				if r.State != want[i] {
					t.Errorf("message %d: state %v (err %v), want %v", i, r.State, r.Err, want[i])
				}
				if r.State == transport.BatchAccepted && (r.Err != nil || r.Result == nil || r.Result.Reply.Code != 250) {
					t.Errorf("message %d accepted with %+v", i, r)
				}
			}
			stageCode := func(i int, stage transport.Stage, code int) {
				t.Helper()
				var e *transport.Error
				if !errors.As(res[i].Err, &e) || e.Stage != stage || e.Code != code {
					t.Errorf("message %d: error %v, want stage %s code %d", i, res[i].Err, stage, code)
				}
			}
			stageCode(1, transport.StageRcpt, 550)
			if !errors.Is(res[1].Err, transport.ErrRecipientsRefused) {
				t.Errorf("message 1: %v is not ErrRecipientsRefused", res[1].Err)
			}
			stageCode(3, transport.StageData, 554)
			if res[3].Result.Reply.Code != 554 {
				t.Errorf("message 3 final reply %v", res[3].Result.Reply)
			}
			if tc.policy == transport.AllRecipients {
				stageCode(4, transport.StageRcpt, 550)
			}
			stageCode(6, transport.StageMail, 553)
			var ae *transport.AddressError
			if !errors.As(res[8].Err, &ae) {
				t.Errorf("message 8: %v, want an *AddressError", res[8].Err)
			}
			// The server kept exactly the accepted messages, in order,
			// with their own bodies.
			var got []string
			for _, m := range srv.Messages() {
				got = append(got, strings.Join(m.To, ","))
				if !bytes.Contains(m.Data, []byte("marker-")) || !bytes.Contains(m.Data, []byte("\r\n.leading dot\r\n")) {
					t.Errorf("stored body %q", m.Data)
				}
				if i := strings.Index(string(m.Data), "marker-"); i >= 0 && !strings.Contains(m.To[0], string(m.Data[i+9:i+10])) {
					t.Errorf("message for %v carries %q", m.To, m.Data[i:i+10])
				}
			}
			wantTo := "ok0@example.org ok2@example.org ok5@example.org ok7@example.org ok9@example.org"
			if tc.policy == transport.AcceptedRecipients {
				wantTo = "ok0@example.org ok2@example.org ok4@example.org ok5@example.org ok7@example.org ok9@example.org"
			}
			if strings.Join(got, " ") != wantTo {
				t.Errorf("server kept %v, want %s", got, wantTo)
			}
			// Bodies went only for messages whose envelope was accepted:
			// 0, 2, 3, 5, 7, 9 (and 4 under AcceptedRecipients).
			bodies := strings.Count(tr.String(), "bytes of message]")
			wantBodies := 6
			if tc.policy == transport.AcceptedRecipients {
				wantBodies = 7
			}
			if bodies != wantBodies {
				t.Errorf("%d bodies sent, want %d:\n%s", bodies, wantBodies, tr.String())
			}
			// About one flight per message: 9 messages reach the server
			// (plus one flight for the last body, and one DATA round trip
			// for message 4 under AllRecipients).
			if flights > 12 {
				t.Errorf("%d writes for a batch of 10", flights)
			}
			// The session goes on.
			if _, err := c.Send(ctxT(t, 5e9), transport.Envelope{From: "a@example.org", To: []string{"after@example.org"}}, strings.NewReader(batchBody(99))); err != nil {
				t.Fatalf("send after the batch: %v", err)
			}
		})
	}
}

// scripted is a raw SMTP server with PIPELINING that answers each command
// as reply says (by message number, from 1, and command); after the dot of
// message breakAfter it closes the connection without a reply.
func scripted(t *testing.T, reply func(msg int, cmd string) string, breakAfter int) (string, *[]string) {
	var mu sync.Mutex
	var bodies []string
	addr := smtptest.Hostile(t, func(c *smtptest.Conn) {
		c.Send("220 scripted ESMTP\r\n")
		msg := 0
		for {
			l, ok := c.Line()
			if !ok {
				return
			}
			verb := strings.ToUpper(strings.Fields(l + " x")[0])
			r := ""
			switch verb {
			case "EHLO":
				c.Send("250-scripted\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
				continue
			case "MAIL":
				msg++
				r = reply(msg, "MAIL")
			case "RCPT":
				r = reply(msg, "RCPT")
			case "DATA":
				if r = reply(msg, "DATA"); r == "" {
					r = "354 go on"
				}
				if !strings.HasPrefix(r, "354") {
					break
				}
				c.Send(r + "\r\n")
				var b strings.Builder
				for {
					l, ok := c.Line()
					if !ok {
						return
					}
					if l == "." {
						break
					}
					b.WriteString(l + "\n")
				}
				mu.Lock()
				bodies = append(bodies, b.String())
				mu.Unlock()
				if msg == breakAfter {
					return
				}
				if r = reply(msg, "."); r == "" {
					r = fmt.Sprintf("250 2.0.0 Ok: queued as Q%d", msg)
				}
			case "RSET":
				r = "250 reset"
			case "QUIT":
				c.Send("221 bye\r\n")
				return
			default:
				r = "500 unknown " + verb
			}
			if r == "" {
				r = "250 ok"
			}
			c.Send(r + "\r\n")
		}
	})
	return addr, &bodies
}

// TestSendBatchDataRefused: DATA refused (451) after being pipelined with
// MAIL and RCPT: no body goes, the transaction is reset, and the next
// messages' replies stay theirs.
func TestSendBatchDataRefused(t *testing.T) {
	addr, bodies := scripted(t, func(msg int, cmd string) string {
		switch {
		case msg == 2 && cmd == "DATA":
			return "451 4.3.0 try DATA later"
		case msg == 3 && cmd == "RCPT":
			return "550 5.1.1 no such user"
		case msg == 3 && cmd == "DATA":
			return "554 5.5.1 no valid recipients"
		case msg == 4 && cmd == ".":
			return "452 4.3.1 queue full"
		}
		return ""
	}, 0)
	cfg := testConfig(t)
	c, err := transport.Dial(ctxT(t, 10e9), addrOf(t, addr, transport.TLSNone), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var items []transport.BatchItem
	for i := 1; i <= 5; i++ {
		items = append(items, batchItem("a@example.org", i, fmt.Sprintf("r%d@example.org", i)))
	}
	res, err := c.SendBatch(ctxT(t, 10e9), items)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		state transport.BatchState
		stage transport.Stage
		code  int
	}
	wants := []want{{transport.BatchAccepted, "", 250}, {transport.BatchFailed, transport.StageData, 451},
		{transport.BatchFailed, transport.StageRcpt, 550}, {transport.BatchFailed, transport.StageData, 452}, {transport.BatchAccepted, "", 250}}
	for i, w := range wants {
		r := res[i]
		if r.State != w.state {
			t.Errorf("message %d: %v (%v), want %v", i+1, r.State, r.Err, w.state)
			continue
		}
		if w.state == transport.BatchAccepted {
			if q := r.Result.QueueID; q != fmt.Sprintf("Q%d", i+1) {
				t.Errorf("message %d queue id %q", i+1, q)
			}
			continue
		}
		var e *transport.Error
		if !errors.As(r.Err, &e) || e.Stage != w.stage || e.Code != w.code {
			t.Errorf("message %d: %v, want %s %d", i+1, r.Err, w.stage, w.code)
		}
	}
	got := strings.Join(*bodies, "|")
	for _, m := range []string{"marker-001", "marker-004", "marker-005"} {
		if !strings.Contains(got, m) {
			t.Errorf("body %s not received", m)
		}
	}
	for _, m := range []string{"marker-002", "marker-003"} {
		if strings.Contains(got, m) {
			t.Errorf("body %s was sent after its DATA was refused", m)
		}
	}
}

// TestSendBatchBrokenConnection: the server closes the connection after
// reading the dot of message 3: messages 1-2 are accepted, 3 is unknown
// (it may have been delivered), 4-5 were not sent.
func TestSendBatchBrokenConnection(t *testing.T) {
	addr, _ := scripted(t, func(int, string) string { return "" }, 3)
	c, err := transport.Dial(ctxT(t, 10e9), addrOf(t, addr, transport.TLSNone), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var items []transport.BatchItem
	for i := 1; i <= 5; i++ {
		items = append(items, batchItem("a@example.org", i, fmt.Sprintf("r%d@example.org", i)))
	}
	res, err := c.SendBatch(ctxT(t, 10e9), items)
	if err == nil {
		t.Fatal("no error from a broken batch")
	}
	if !errors.Is(err, transport.ErrConnectionClosed) {
		t.Errorf("error %v", err)
	}
	want := []transport.BatchState{transport.BatchAccepted, transport.BatchAccepted, transport.BatchUnknown, transport.BatchNotSent, transport.BatchNotSent}
	for i, w := range want {
		if res[i].State != w {
			t.Errorf("message %d: %v (%v), want %v", i+1, res[i].State, res[i].Err, w)
		}
	}
	if res[2].Err == nil {
		t.Error("the unknown message carries no error")
	}
	if _, err := c.Send(ctxT(t, 5e9), transport.Envelope{From: "a@example.org", To: []string{"x@example.org"}}, strings.NewReader("x\r\n")); !errors.Is(err, transport.ErrBusy) {
		t.Errorf("send on the broken session: %v", err)
	}
}

// TestSendBatchNoPipelining: without PIPELINING the batch goes one by
// one with the same attribution.
func TestSendBatchNoPipelining(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Rcpt: func(to string, _ *smtp.RcptOptions) error {
		if strings.HasPrefix(to, "bad") {
			return &smtp.SMTPError{Code: 550, Message: "no"}
		}
		return nil
	}})
	cfg := testConfig(t)
	cfg.DisablePipelining = true
	c, err := transport.Dial(ctxT(t, 10e9), serverAddr(t, srv, transport.TLSNone), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.SendBatch(ctxT(t, 10e9), []transport.BatchItem{
		batchItem("a@example.org", 0, "ok0@example.org"),
		batchItem("a@example.org", 1, "bad1@example.org"),
		batchItem("a@example.org", 2, "ok2@example.org"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].State != transport.BatchAccepted || res[1].State != transport.BatchFailed || res[2].State != transport.BatchAccepted {
		t.Fatalf("states %v %v %v", res[0].State, res[1].State, res[2].State)
	}
	if res[0].Result.Pipelined || srv.Count() != 2 {
		t.Errorf("pipelined %v, %d stored", res[0].Result.Pipelined, srv.Count())
	}
}

// TestRelaySendBatchFailover: the first server breaks after the dot of
// message 3 and refuses message 2's recipient with a 4xx; the batch goes
// on at the second server with messages 2, 4 and 5 only: the accepted
// message 1 and the unknown message 3 are not sent again.
func TestRelaySendBatchFailover(t *testing.T) {
	addr, _ := scripted(t, func(msg int, cmd string) string {
		if msg == 2 && cmd == "RCPT" {
			return "451 4.7.1 greylisted"
		}
		if msg == 2 && cmd == "DATA" {
			return "554 5.5.1 no valid recipients"
		}
		return ""
	}, 3)
	second := smtptest.Start(t, smtptest.Options{NoChunking: true})
	r, err := transport.NewRelay(transport.RelayConfig{
		Servers: []transport.Address{addrOf(t, addr, transport.TLSNone), serverAddr(t, second, transport.TLSNone)},
		Session: testConfig(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var items []transport.RelayBatchItem
	for i := 1; i <= 5; i++ {
		items = append(items, transport.RelayBatchItem{Envelope: transport.Envelope{From: "a@example.org", To: []string{fmt.Sprintf("r%d@example.org", i)}},
			Open: transport.BytesMessage([]byte(batchBody(i)))})
	}
	res, err := r.SendBatch(ctxT(t, 10e9), items)
	if err != nil {
		t.Fatal(err)
	}
	want := []transport.BatchState{transport.BatchAccepted, transport.BatchAccepted, transport.BatchUnknown, transport.BatchAccepted, transport.BatchAccepted}
	wantAttempts := []int{1, 2, 1, 2, 2}
	for i, w := range want {
		if res[i].State != w {
			t.Errorf("message %d: %v (%v), want %v", i+1, res[i].State, res[i].Err, w)
			continue
		}
		if res[i].Result.Attempts != wantAttempts[i] {
			t.Errorf("message %d: %d attempts, want %d", i+1, res[i].Result.Attempts, wantAttempts[i])
		}
	}
	var got []string
	for _, m := range second.Messages() {
		got = append(got, m.To[0])
	}
	if strings.Join(got, " ") != "r2@example.org r4@example.org r5@example.org" {
		t.Errorf("second server got %v", got)
	}
	if res[0].Result.Server == res[1].Result.Server {
		t.Errorf("messages 1 and 2 both on %s", res[0].Result.Server)
	}
}

// TestPostfixSendBatch sends a batch of 50 through the real Postfix, over
// DATA and over BDAT, and finds each message, intact, under its own queue
// id in the sink.
func TestPostfixSendBatch(t *testing.T) {
	vals := peers.Need(t, "MW_POSTFIX_STARTTLS", "MW_POSTFIX_MAILDIR")
	for _, chunking := range []bool{false, true} {
		t.Run(map[bool]string{true: "bdat", false: "data"}[chunking], func(t *testing.T) {
			cfg := postfixConfig(t)
			cfg.DisableChunking = !chunking
			ctx := ctxT(t, 60*time.Second)
			c, err := transport.Dial(ctx, addrOf(t, vals[0], transport.TLSExplicit), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var items []transport.BatchItem
			var bodies []string
			for i := range 50 {
				body := "Message-ID: <" + token() + "@mailwarden.test>\r\nSubject: batch " + strconv.Itoa(i) + "\r\n\r\n.leading dot\nbare LF\r\n" +
					strings.Repeat("0123456789", 200) + "\r\n"
				bodies = append(bodies, body)
				items = append(items, transport.BatchItem{Envelope: transport.Envelope{From: "sender@mailwarden.test", To: []string{"batch" + strconv.Itoa(i) + "@example.net"}},
					Body: strings.NewReader(body)})
			}
			res, err := c.SendBatch(ctx, items)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for i, r := range res {
				if r.State != transport.BatchAccepted || r.Result.QueueID == "" || r.Result.UsedBDAT != chunking {
					t.Fatalf("message %d: %v %v %+v", i, r.State, r.Err, r.Result)
				}
				if seen[r.Result.QueueID] {
					t.Fatalf("queue id %s twice", r.Result.QueueID)
				}
				seen[r.Result.QueueID] = true
			}
			for i, r := range res {
				got, env := delivered(t, vals[1], r.Result.QueueID)
				if want := normalised(bodies[i]); !bytes.Equal(got, want) {
					t.Errorf("message %d delivered %q\nwant %q", i, got, want)
				}
				if strings.Join(env, ",") != "sender@mailwarden.test,batch"+strconv.Itoa(i)+"@example.net" {
					t.Errorf("message %d envelope %q", i, env)
				}
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSendBatchProgress: Config.Progress reports each message's body in a
// batch as Send does, and PhaseDone only for the accepted ones.
func TestSendBatchProgress(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		srv := smtptest.Start(t, smtptest.Options{NoChunking: !chunking, Data: func(b []byte) error {
			if bytes.Contains(b, []byte("marker-002")) {
				return &smtp.SMTPError{Code: 554, Message: "refused"}
			}
			return nil
		}})
		var mu sync.Mutex
		done := map[string]int64{}
		var transferring int
		cfg := testConfig(t)
		cfg.Progress = func(ev transport.ProgressEvent) {
			mu.Lock()
			defer mu.Unlock()
			switch ev.Phase {
			case transport.PhaseDone:
				done[ev.MessageID] = ev.Written
			case transport.PhaseTransferring:
				transferring++
			}
		}
		c, err := transport.Dial(ctxT(t, 10e9), serverAddr(t, srv, transport.TLSNone), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var items []transport.BatchItem
		for i := 1; i <= 3; i++ {
			it := batchItem("a@example.org", i, "r@example.org")
			it.Envelope.MessageID = fmt.Sprintf("<%d@x>", i)
			items = append(items, it)
		}
		res, err := c.SendBatch(ctxT(t, 10e9), items)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if len(done) != 2 || done["<1@x>"] != res[0].Result.Size || done["<3@x>"] != res[2].Result.Size || res[0].Result.Size == 0 {
			t.Errorf("chunking %v: done events %v, sizes %d %d", chunking, done, res[0].Result.Size, res[2].Result.Size)
		}
		if transferring < 3 {
			t.Errorf("chunking %v: %d transferring events", chunking, transferring)
		}
		mu.Unlock()
	}
}

// TestSendBatchBodyReadError: the body of message 2 fails to read half
// way: the session is closed before its end (the server discards it),
// message 1 stays accepted and message 3 is not sent.
func TestSendBatchBodyReadError(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{NoChunking: true})
	c, err := transport.Dial(ctxT(t, 10e9), serverAddr(t, srv, transport.TLSNone), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bad := transport.BatchItem{Envelope: transport.Envelope{From: "a@example.org", To: []string{"r2@example.org"}},
		Body: io.MultiReader(strings.NewReader("Subject: two\r\n\r\nhalf"), iotest.ErrReader(errors.New("disk gone")))}
	res, err := c.SendBatch(ctxT(t, 10e9), []transport.BatchItem{batchItem("a@example.org", 1, "r1@example.org"), bad, batchItem("a@example.org", 3, "r3@example.org")})
	if err == nil {
		t.Fatal("no error")
	}
	if res[0].State != transport.BatchAccepted || res[1].State != transport.BatchFailed || res[2].State != transport.BatchNotSent {
		t.Fatalf("states %v %v %v", res[0].State, res[1].State, res[2].State)
	}
	if !strings.Contains(res[1].Err.Error(), "disk gone") {
		t.Errorf("message 2: %v", res[1].Err)
	}
	if n := srv.Count(); n != 1 {
		t.Errorf("server stored %d messages", n)
	}
}
