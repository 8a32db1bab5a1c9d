package main

// Batches against net/smtp: transport.Client.SendBatch and the public
// Sender.SendBatch (a profile, a new Message-ID per message, no audit
// file) send 2 KB messages over DATA (the sink offers no CHUNKING), in
// batches of 100, on one connection; transport.Client.Send and net/smtp
// send the same message one by one to the same sink in the same run.
//
//	cd bench && go test -run '^$' -bench SendBatch -benchmem
//
// and, in interleaved rounds (go test -count runs each variant N times in
// a row), with medians and per-round ratios:
//
//	cd bench && go test -c -o /tmp/bench.test . &&
//	  go run ./rounds -bin /tmp/bench.test -bench SendBatch -n 5 -ref net-smtp

import (
	"bytes"
	"context"
	"testing"

	"mailwarden"
	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/transport"
)

const batchSize = 100

// MailwardenBatch sends n messages with transport.Client.SendBatch, in
// batches of batchSize, over one connection.
func MailwardenBatch(e *Env, n int) error {
	ctx := context.Background()
	c, err := transport.Dial(ctx, transport.Address{Host: e.Host, Port: e.Port, TLS: transport.TLSNone},
		&transport.Config{HeloName: "bench.example.org"})
	if err != nil {
		return err
	}
	defer c.Close()
	env := transport.Envelope{From: "bench@example.org", To: []string{"sink@example.net"}}
	items := make([]transport.BatchItem, batchSize)
	readers := make([]bytes.Reader, batchSize)
	for n > 0 {
		k := min(n, batchSize)
		for i := range k {
			readers[i].Reset(e.Msg)
			items[i] = transport.BatchItem{Envelope: env, Body: &readers[i]}
		}
		res, err := c.SendBatch(ctx, items[:k])
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.State != transport.BatchAccepted {
				return r.Err
			}
		}
		n -= k
	}
	return c.Quit(ctx)
}

func BenchmarkSendBatch(b *testing.B) {
	for _, kind := range []string{"fast", "go-smtp", "go-smtp-proc"} {
		for _, chunking := range []bool{false, true} {
			e, err := Setup(Case{Size: 2 << 10, Chunking: chunking}, kind)
			if err != nil {
				b.Fatal(err)
			}
			name := kind + map[bool]string{false: "/data", true: "/bdat"}[chunking]
			run := func(sub string, s Sender) {
				b.Run(name+"/"+sub, func(b *testing.B) {
					b.SetBytes(int64(len(e.Msg)))
					b.ReportAllocs()
					if err := s(e, b.N); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
				})
			}
			run("transport-SendBatch", MailwardenBatch)
			run("transport-Send", Mailwarden)
			run("net-smtp", NetSMTP)
			b.Run(name+"/Sender.SendBatch", func(b *testing.B) { benchSenderBatch(b, e) })
			e.Sink.Close()
		}
	}
}

// benchSenderBatch sends b.N messages through one Sender with SendBatch,
// batchSize at a time.
func benchSenderBatch(b *testing.B, e *Env) {
	p := mailwarden.Profile{
		Name: "bench", Servers: []string{e.Sink.Addr()}, TLS: "none",
		From: "bench@example.org", Headers: []mailwarden.HeaderField{{Name: "X-Bench", Value: "1"}},
	}
	s, err := mailwarden.NewSender(context.Background(), p, &mailwarden.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	msgs := make([]*envelope.Message, batchSize)
	for i := range msgs {
		msgs[i] = &envelope.Message{To: []headers.Address{{Addr: "sink@example.net"}}, Subject: "benchmark", Text: apiText}
	}
	if _, err := s.SendBatch(ctx, msgs[:1]); err != nil { // connect outside the timing
		b.Fatal(err)
	}
	b.SetBytes(int64(len(apiText)))
	b.ReportAllocs()
	b.ResetTimer()
	for n := b.N; n > 0; {
		k := min(n, batchSize)
		for _, m := range msgs[:k] {
			m.MessageID = ""
		}
		res, err := s.SendBatch(ctx, msgs[:k])
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.State != mailwarden.BatchAccepted {
				b.Fatal(r.Err)
			}
		}
		n -= k
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// TestBatchSendersWork checks the batch senders deliver every message.
func TestBatchSendersWork(t *testing.T) {
	for _, kind := range []string{"fast", "go-smtp"} {
		e, err := Setup(Case{Size: 2 << 10}, kind)
		if err != nil {
			t.Fatal(err)
		}
		if err := MailwardenBatch(e, 250); err != nil {
			t.Fatal(err)
		}
		if got := e.Sink.Count(); got != 250 {
			t.Errorf("%s: %d messages arrived, want 250", kind, got)
		}
		e.Sink.Close()
	}
}
