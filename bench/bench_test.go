package main

import "testing"

// BenchmarkSend reports messages per second for every client and case.
func BenchmarkSend(b *testing.B) {
	for _, c := range Cases() {
		e, err := Setup(c, "fast")
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range Senders {
			b.Run(c.String()+"/"+s.Name, func(b *testing.B) {
				b.SetBytes(int64(len(e.Msg)))
				if err := s.Send(e, b.N); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
		e.Sink.Close()
	}
}

// TestSendersWork checks every sender delivers to every sink.
func TestSendersWork(t *testing.T) {
	for _, kind := range []string{"fast", "go-smtp"} {
		for _, c := range Cases() {
			e, err := Setup(c, kind)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range Senders {
				before := e.Sink.Count()
				if err := s.Send(e, 3); err != nil {
					t.Fatalf("%s %s %s: %v", kind, c, s.Name, err)
				}
				if got := e.Sink.Count() - before; got != 3 {
					t.Errorf("%s %s %s: %d messages arrived", kind, c, s.Name, got)
				}
			}
			e.Sink.Close()
		}
	}
}
