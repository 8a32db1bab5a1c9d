package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// serveEnv, when set, makes this program (or its test binary) serve a sink
// instead of running: "fast" or "go-smtp", with ",chunking" when the sink
// offers CHUNKING. It prints the sink's address, then answers "count"
// lines on standard input with the number of messages received, and
// stops when standard input closes.
const serveEnv = "MW_BENCH_SERVE"

// procSink is a sink served by a child process (this program run again
// with serveEnv set): the relay in a process of its own, as a real one
// is, so that client and server do not share one Go scheduler. Setup
// starts one for the kinds "fast-proc" and "go-smtp-proc" (plaintext
// only).
type procSink struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	in   io.WriteCloser
	out  *bufio.Reader
}

// errProcPlaintext is Setup's error for a TLS case on a sink in another
// process; the comparison program skips such cases.
var errProcPlaintext = errors.New("bench: a sink in another process serves plaintext only")

func startProcSink(kind string, c Case) (*procSink, error) {
	if c.TLS {
		return nil, errProcPlaintext
	}
	spec := kind
	if c.Chunking {
		spec += ",chunking"
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), serveEnv+"="+spec)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &procSink{cmd: cmd, in: in, out: bufio.NewReader(outp)}
	line, err := s.out.ReadString('\n')
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("bench: sink process: %w", err)
	}
	s.addr = strings.TrimSpace(line)
	return s, nil
}

func (s *procSink) Addr() string { return s.addr }

// Count asks the child how many messages it has received (-1 when it
// cannot answer).
func (s *procSink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := io.WriteString(s.in, "count\n"); err != nil {
		return -1
	}
	line, err := s.out.ReadString('\n')
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return -1
	}
	return n
}

// Close closes the child's standard input (it stops) and waits for it.
func (s *procSink) Close() error {
	s.in.Close()
	return s.cmd.Wait()
}

// serveSink is the child's side of a procSink: spec is serveEnv's value.
func serveSink(spec string) int {
	kind, opt, _ := strings.Cut(spec, ",")
	e, err := Setup(Case{Chunking: opt == "chunking"}, kind)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench sink:", err)
		return 1
	}
	defer e.Sink.Close()
	fmt.Println(e.Sink.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "count" {
			fmt.Println(e.Sink.Count())
		}
	}
	return 0
}
