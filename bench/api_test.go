package main

// The public API against net/smtp: Sender.Send (a profile with defaults,
// a new Message-ID per message, without and with the audit trail written
// to a file under each audit.sync policy) and
// net/smtp sending the same 2 KB message, each over one connection to the
// same in-process sink, in one run.
//
//	cd bench && go test -run '^$' -bench SenderSend -benchmem
//
// and, in interleaved rounds (go test -count runs each variant N times in
// a row), with medians and per-round ratios:
//
//	cd bench && go test -c -o /tmp/bench.test . &&
//	  go run ./rounds -bin /tmp/bench.test -bench SenderSend -n 5 -ref net-smtp

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"mailwarden"
	"mailwarden/envelope"
	"mailwarden/headers"
)

// apiText is about 2 KB of text in 76-character lines, some with a
// leading dot.
var apiText = func() string {
	_, body, _ := strings.Cut(string(Message(2<<10)), "\r\n\r\n")
	return body
}()

func BenchmarkSenderSend(b *testing.B) {
	for _, kind := range []string{"fast", "go-smtp", "go-smtp-proc"} {
		e, err := Setup(Case{Size: 2 << 10, Chunking: true}, kind)
		if err != nil {
			b.Fatal(err)
		}
		for _, trail := range []string{"no-audit", "audit-none", "audit-interval", "audit-every"} {
			b.Run(kind+"/Sender.Send/"+trail, func(b *testing.B) { benchSenderSend(b, e, strings.TrimPrefix(trail, "audit-")) })
		}
		b.Run(kind+"/net-smtp", func(b *testing.B) {
			b.SetBytes(int64(len(e.Msg)))
			b.ReportAllocs()
			if err := NetSMTP(e, b.N); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
		e.Sink.Close()
	}
}

// benchSenderSend sends b.N messages through one Sender (its relay keeps
// the connection). With a trail other than "no-audit", the profile's audit
// file records each send, with that audit.sync policy (every, the
// default, fsyncs after every record; interval once a second; none never).
func benchSenderSend(b *testing.B, e *Env, trail string) {
	benchSenderSendWith(b, e, trail, &mailwarden.Options{}, apiText)
}

// BenchmarkSenderSpool is Sender.Send (no audit) with the message spooled
// in memory or in a temporary file, by size: where the file's cost stops
// mattering is where Options.SpoolInMemory belongs.
func BenchmarkSenderSpool(b *testing.B) {
	e, err := Setup(Case{Size: 2 << 10, Chunking: true}, "fast")
	if err != nil {
		b.Fatal(err)
	}
	defer e.Sink.Close()
	for _, size := range []int{2 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20} {
		_, text, _ := strings.Cut(string(Message(size)), "\r\n\r\n")
		for _, mode := range []string{"memory", "file"} {
			opts := &mailwarden.Options{SpoolInMemory: 64 << 20}
			if mode == "file" {
				opts.SpoolInMemory = -1
			}
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, mode), func(b *testing.B) {
				benchSenderSendWith(b, e, "no-audit", opts, text)
			})
		}
	}
}

func benchSenderSendWith(b *testing.B, e *Env, trail string, opts *mailwarden.Options, text string) {
	p := mailwarden.Profile{
		Name: "bench", Servers: []string{e.Sink.Addr()}, TLS: "none",
		From: "bench@example.org", Headers: []mailwarden.HeaderField{{Name: "X-Bench", Value: "1"}},
	}
	if trail != "no-audit" {
		p.Audit.File = filepath.Join(b.TempDir(), "audit.log")
		p.Audit.Sync = trail
	}
	s, err := mailwarden.NewSender(context.Background(), p, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m := envelope.Message{To: []headers.Address{{Addr: "sink@example.net"}}, Subject: "benchmark", Text: text}
	ctx := context.Background()
	if _, err := s.Send(ctx, &m); err != nil { // connect outside the timing
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		m.MessageID = ""
		if _, err := s.Send(ctx, &m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
