package main

// 1 MB over CHUNKING, plaintext: transport.Client.Send against the minimal
// pipelining+BDAT client (minimal.go) and net/smtp, on the fast sink and on
// go-smtp's:
//
//	cd bench && go test -run '^$' -bench Chunking1MB -benchmem
//
// and, in interleaved rounds (go test -count runs each variant N times in
// a row), with medians and per-round ratios:
//
//	cd bench && go test -c -o /tmp/bench.test . &&
//	  go run ./rounds -bin /tmp/bench.test -bench Chunking1MB -n 7 -ref minimal-BDAT

import "testing"

func BenchmarkChunking1MB(b *testing.B) {
	for _, kind := range []string{"fast", "go-smtp"} {
		e, err := Setup(Case{Size: 1 << 20, Chunking: true}, kind)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range []struct {
			name string
			send Sender
		}{{"transport-Send", Mailwarden}, {"minimal-BDAT", MinimalBDAT}, {"net-smtp", NetSMTP}} {
			b.Run(kind+"/"+s.name, func(b *testing.B) {
				b.SetBytes(int64(len(e.Msg)))
				b.ReportAllocs()
				if err := s.send(e, b.N); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
		e.Sink.Close()
	}
}

// TestMinimalBDATWorks checks the minimal client delivers every message.
func TestMinimalBDATWorks(t *testing.T) {
	for _, kind := range []string{"fast", "go-smtp"} {
		e, err := Setup(Case{Size: 1 << 20, Chunking: true}, kind)
		if err != nil {
			t.Fatal(err)
		}
		if err := MinimalBDAT(e, 5); err != nil {
			t.Fatal(err)
		}
		if got := e.Sink.Count(); got != 5 {
			t.Errorf("%s: %d messages arrived, want 5", kind, got)
		}
		e.Sink.Close()
	}
}
