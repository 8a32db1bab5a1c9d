package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailwarden"
	"mailwarden/internal/smtptest"
	"mailwarden/outbox"
)

// TestOutboxRunSpoolMetricsWhileMessagesFlow: 'outbox run --spool
// --metrics-addr' serves the same metrics as the PostgreSQL store. 20
// messages go to an in-process relay, 2 more are refused with a 451 and 1
// with a 550, paced to 10 a second; the endpoint is scraped while they flow
// (delivered plus still spooled always accounts for all of them) and at the
// end every value matches what the relay saw.
func TestOutboxRunSpoolMetricsWhileMessagesFlow(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Rcpt: func(to string, _ *smtp.RcptOptions) error {
		switch {
		case strings.HasPrefix(to, "busy@"):
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		case strings.HasPrefix(to, "gone@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	spool := filepath.Join(t.TempDir(), "spool")
	const good, busy, gone = 20, 2, 1
	const total = good + busy + gone
	sp, err := mailwarden.OpenSpool(mailwarden.OutboxConfig{Dir: spool})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range total {
		to := "ops@example.org"
		switch {
		case i >= good+busy:
			to = "gone@example.org"
		case i >= good:
			to = "busy@example.org"
		}
		mid := fmt.Sprintf("spool-metrics-%02d@outbox.test", i)
		if _, err := sp.Enqueue(ctx, outbox.Envelope{From: "alerts@example.com", To: []string{to}, MessageID: mid}, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "From: alerts@example.com\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\nbody\r\n", to, mid, mid)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	sp.Close()

	var out, stderr syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &stderr, getenv: func(string) string { return "" }}
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(rctx, e, []string{"outbox", "run", "--spool", spool, "--server", srv.Addr, "--tls", "none", "--quiet",
			"--concurrency", "2", "--rate", "10", "--rate-period", "1s", "--min-backoff", "1h", "--metrics-addr", "127.0.0.1:0"})
	}()
	base := metricsEndpoint(t, &stderr, done)
	const (
		delivered = "outbox_delivered_total"
		deferredC = `outbox_deferred_total{class="temporary"}`
		deadC     = `outbox_dead_total{class="permanent"}`
	)
	spooled := func(m map[string]float64) float64 {
		var n float64
		for _, st := range []string{"queued", "deferred", "dead", "delivered"} {
			n += m[`outbox_entries{state="`+st+`"}`]
		}
		return n
	}
	midway := 0
	var m map[string]float64
	for {
		m = scrape(t, base+"/metrics")
		// The gauges are read from the directory and the counters from
		// memory, not at the same instant: a delivery is counted just
		// before its file goes, so one under way (at most --concurrency,
		// 2) may be in both.
		if sum := m[delivered] + spooled(m); sum < total || sum > total+2 {
			t.Errorf("delivered %v + spooled %v = %v, want %d (+2 under way)", m[delivered], spooled(m), sum, total)
		}
		if m[delivered] > 0 && m[`outbox_entries{state="queued"}`] > 0 {
			midway++
		}
		// The counters move just before the entry's file does: wait for
		// the last lease to go as well before the final reading.
		settled := m[`outbox_entries{state="leased"}`] == 0 && m[`outbox_entries{state="queued"}`] == 0
		if m[delivered] == good && m[deferredC] == busy && m[deadC] == gone && settled || rctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	m = scrape(t, base+"/metrics")
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("run exited %d: %s", code, stderr.String())
	}
	if midway == 0 {
		t.Error("no scrape saw messages flowing")
	}
	if srv.Count() != good {
		t.Errorf("the relay got %d messages, want %d", srv.Count(), good)
	}
	for name, want := range map[string]float64{
		delivered:                          good,
		deferredC:                          busy,
		deadC:                              gone,
		"outbox_attempts_total":            total,
		`outbox_entries{state="queued"}`:   0,
		`outbox_entries{state="deferred"}`: busy,
		`outbox_entries{state="dead"}`:     gone,
		`outbox_entries{state="leased"}`:   0,
		`outbox_send_duration_seconds_count{outcome="delivered"}`: good,
		`outbox_send_duration_seconds_count{outcome="failed"}`:    busy + gone,
	} {
		if m[name] != want {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
	if m["outbox_oldest_age_seconds"] <= 0 {
		t.Errorf("outbox_oldest_age_seconds = %v with deferred entries spooled", m["outbox_oldest_age_seconds"])
	}
	if m["outbox_rate_limit_waits_total"] < 1 || m["outbox_rate_limit_wait_seconds_total"] <= 0 {
		t.Errorf("23 messages at 10 a second never waited: %v, %v", m["outbox_rate_limit_waits_total"], m["outbox_rate_limit_wait_seconds_total"])
	}
	t.Logf("%d scrapes saw messages in flight; final: delivered %v, deferred %v, dead %v, attempts %v, rate-limit waits %v (%.2f s)", midway,
		m[delivered], m[deferredC], m[deadC], m["outbox_attempts_total"], m["outbox_rate_limit_waits_total"], m["outbox_rate_limit_wait_seconds_total"])
}
