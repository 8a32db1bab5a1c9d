package transport_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mailwarden/internal/peers"
	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// progressLog collects ProgressEvents.
type progressLog struct {
	mu     sync.Mutex
	events []transport.ProgressEvent
}

func (l *progressLog) add(e transport.ProgressEvent) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *progressLog) all() []transport.ProgressEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]transport.ProgressEvent(nil), l.events...)
}

// checkProgress checks one successful send's events: connecting, then
// transferring with rising counts ending at size (Written == Total), then
// done; and at least minTransfer transferring events.
func checkProgress(t *testing.T, evs []transport.ProgressEvent, id string, size int64, minTransfer int) {
	t.Helper()
	if len(evs) < 3 {
		t.Fatalf("events %+v", evs)
	}
	if evs[0].Phase != transport.PhaseConnecting {
		t.Errorf("first phase %v, want connecting", evs[0].Phase)
	}
	last := evs[len(evs)-1]
	if last.Phase != transport.PhaseDone || last.Written != size || last.Total != size {
		t.Errorf("last event %+v, want done %d of %d", last, size, size)
	}
	transfers := evs[1 : len(evs)-1]
	if len(transfers) < minTransfer {
		t.Errorf("%d transferring events, want at least %d", len(transfers), minTransfer)
	}
	prev := int64(-1)
	for i, e := range transfers {
		if e.Phase != transport.PhaseTransferring {
			t.Fatalf("event %d: phase %v, want transferring", i+1, e.Phase)
		}
		if e.MessageID != id {
			t.Errorf("event %d: message id %q", i+1, e.MessageID)
		}
		if e.Written < prev || (i > 0 && i < len(transfers)-1 && e.Written == prev) {
			t.Errorf("event %d: written %d after %d", i+1, e.Written, prev)
		}
		prev = e.Written
	}
	if transfers[0].Written != 0 {
		t.Errorf("first transfer event at %d bytes, want 0", transfers[0].Written)
	}
	if f := transfers[len(transfers)-1]; f.Written != size || f.Total != size {
		t.Errorf("final transfer event %+v, want %d of %d", f, size, size)
	}
}

// bigBody returns a message of about n bytes in 78-byte lines.
func bigBody(id string, n int) string {
	var b strings.Builder
	b.WriteString("Message-ID: <" + id + "@mailwarden.test>\r\nSubject: progress\r\n\r\n")
	for b.Len() < n {
		b.WriteString(strings.Repeat("0123456789", 7) + "abcdef\r\n")
	}
	return b.String()
}

func TestProgressInProcess(t *testing.T) {
	checkGoroutines(t)
	for _, chunking := range []bool{true, false} {
		s := smtptest.Start(t, smtptest.Options{NoChunking: !chunking})
		var log progressLog
		cfg := testConfig(t)
		cfg.Progress = log.add
		r, err := transport.NewRelay(transport.RelayConfig{Servers: []transport.Address{serverAddr(t, s, transport.TLSNone)}, Session: cfg})
		if err != nil {
			t.Fatal(err)
		}
		body := bigBody("inproc", 300<<10)
		env := transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}, Size: int64(len(body)), MessageID: "inproc@mailwarden.test"}
		res, err := r.Send(ctxT(t, 10*time.Second), env, transport.BytesMessage([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		if res.UsedBDAT != chunking {
			t.Fatalf("UsedBDAT %v", res.UsedBDAT)
		}
		// 300 KiB at one event per 64 KiB at least: 0, 4 steps, the last.
		checkProgress(t, log.all(), env.MessageID, int64(len(body)), 5)
		r.Close()
	}
}

// smallBufDialer dials with a small send buffer, so that the bytes the
// transport counts are close to the bytes that left.
type smallBufDialer struct{}

func (smallBufDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err == nil {
		c.(*net.TCPConn).SetWriteBuffer(8 << 10)
	}
	return c, err
}

// TestProgressThroughThrottledProxy sends a 512 KiB message to the real
// Postfix through a proxy that passes about 2 MiB/s, with BDAT and with
// DATA: the observer sees connecting, rising byte counts ending at the
// message size, and done; and Postfix delivers the message intact.
func TestProgressThroughThrottledProxy(t *testing.T) {
	vals := peers.Need(t, "MW_POSTFIX_PLAIN", "MW_POSTFIX_MAILDIR")
	proxy := smtptest.Throttle(t, vals[0], 2<<20)
	for _, chunking := range []bool{true, false} {
		name := map[bool]string{true: "bdat", false: "data"}[chunking]
		t.Run(name, func(t *testing.T) {
			var log progressLog
			cfg := postfixConfig(t)
			cfg.DisableChunking = !chunking
			cfg.Dialer = smallBufDialer{}
			cfg.Progress = log.add
			cfg.DataTimeout = 30 * time.Second
			r, err := transport.NewRelay(transport.RelayConfig{Servers: []transport.Address{addrOf(t, proxy, transport.TLSNone)}, Session: cfg})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			id := token()
			body := bigBody(id, 512<<10)
			env := transport.Envelope{From: "sender@mailwarden.test", To: []string{"r1@example.net"}, Size: int64(len(body)), MessageID: id + "@mailwarden.test"}
			res, err := r.Send(ctxT(t, 60*time.Second), env, transport.BytesMessage([]byte(body)))
			if err != nil {
				t.Fatal(err)
			}
			if res.UsedBDAT != chunking {
				t.Fatalf("UsedBDAT %v", res.UsedBDAT)
			}
			checkProgress(t, log.all(), env.MessageID, int64(len(body)), 9)
			got, _ := delivered(t, vals[1], res.QueueID)
			if !bytes.Equal(got, normalised(body)) {
				t.Errorf("delivered message differs (%d bytes, sent %d)", len(got), len(body))
			}
		})
	}
}

// BenchmarkSendProgress sends 2 KB and 1 MB messages over one session to
// an in-process sink, without and with an observer. Compare allocs/op:
// without an observer nothing is added; with one, a constant per send
// (the meter), not per write (1 MB is ~32 writes of the body).
func BenchmarkSendProgress(b *testing.B) {
	s := smtptest.Start(b, smtptest.Options{Discard: true})
	for _, size := range []int{2 << 10, 1 << 20} {
		body := []byte(bigBody("bench", size))
		for _, observe := range []bool{false, true} {
			name := map[bool]string{false: "off", true: "on"}[observe]
			b.Run(map[int]string{2 << 10: "2KB", 1 << 20: "1MB"}[size]+"/"+name, func(b *testing.B) {
				cfg := testConfig(b)
				cfg.DisableChunking = true
				var n int
				if observe {
					cfg.Progress = func(transport.ProgressEvent) { n++ }
				}
				ctx := ctxT(b, time.Minute)
				c, err := transport.Dial(ctx, serverAddr(b, s, transport.TLSNone), cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				env := transport.Envelope{From: "a@example.org", To: []string{"b@example.net"}, Size: int64(len(body))}
				rd := bytes.NewReader(body)
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					rd.Reset(body)
					if _, err := c.Send(ctx, env, rd); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
