package main

import (
	"os"
	"testing"
)

// TestMain serves a sink when the test binary is run again as a procSink's
// child.
func TestMain(m *testing.M) {
	if spec := os.Getenv(serveEnv); spec != "" {
		os.Exit(serveSink(spec))
	}
	os.Exit(m.Run())
}

// TestProcSink: a sink in a child process takes messages and counts them.
func TestProcSink(t *testing.T) {
	for _, kind := range []string{"fast-proc", "go-smtp-proc"} {
		e, err := Setup(Case{Size: 2 << 10, Chunking: true}, kind)
		if err != nil {
			t.Fatal(err)
		}
		if err := Mailwarden(e, 3); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
		if got := e.Sink.Count(); got != 3 {
			t.Errorf("%s: sink counted %d messages, want 3", kind, got)
		}
		if err := e.Sink.Close(); err != nil {
			t.Errorf("%s: close: %v", kind, err)
		}
	}
}
