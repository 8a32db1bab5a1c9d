// Command startup measures how many times per second whole processes run:
// smtpcheck probe against swaks --quit-after EHLO (or any other command
// lines), interleaved round by round, with medians and the machine's load.
//
//	go run ./startup -c 'probe=/path/smtpcheck probe --server {addr} --tls none --quit-after ehlo' \
//	    -c 'swaks=swaks --server {addr} --quit-after EHLO' [-server host:port] [-rounds 15 -n 20]
//
// {addr} is the SMTP server: -server (a real relay, e.g. the test
// environment's Postfix) or, by default, an in-process server on 127.0.0.1
// that greets at once and answers EHLO and QUIT, so that the figures are
// the clients' start-up and not the relay's. Each round runs every command
// n times in a row, commands in a rotating order; a run that exits non-zero
// stops the harness. Reported per command: the median runs per second over
// the rounds (wall clock), the median CPU (user+system) per run, and the
// ratio of each command's rate to the last command's in the same round.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

type cmdFlag []string

func (c *cmdFlag) String() string     { return strings.Join(*c, "; ") }
func (c *cmdFlag) Set(v string) error { *c = append(*c, v); return nil }

func main() {
	var cmds cmdFlag
	flag.Var(&cmds, "c", "`LABEL=COMMAND LINE` to run (repeat; split on spaces, no shell); {addr} is the server")
	server := flag.String("server", "", "SMTP server `ADDR` (default: an in-process one on 127.0.0.1)")
	rounds := flag.Int("rounds", 15, "rounds")
	n := flag.Int("n", 20, "runs of each command per round")
	flag.Parse()
	if len(cmds) == 0 {
		fmt.Fprintln(os.Stderr, "startup: give at least one -c LABEL=COMMAND")
		os.Exit(2)
	}
	addr := *server
	if addr == "" {
		a, err := serve()
		if err != nil {
			fmt.Fprintln(os.Stderr, "startup:", err)
			os.Exit(1)
		}
		addr = a
	}
	type job struct {
		label string
		argv  []string
	}
	var jobs []job
	for _, c := range cmds {
		label, line, ok := strings.Cut(c, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "startup: %q is not LABEL=COMMAND\n", c)
			os.Exit(2)
		}
		jobs = append(jobs, job{label, strings.Fields(strings.ReplaceAll(line, "{addr}", addr))})
	}
	// A warm-up run of each (page cache, the relay's first session).
	for _, j := range jobs {
		if _, _, err := runOnce(j.argv); err != nil {
			fmt.Fprintf(os.Stderr, "startup: %s: %v\n", j.label, err)
			os.Exit(1)
		}
	}
	rates := make([][]float64, len(jobs))
	cpus := make([][]float64, len(jobs))
	ratios := make([][]float64, len(jobs))
	load0 := loadavg()
	for r := range *rounds {
		round := make([]float64, len(jobs))
		for k := range jobs {
			i := (k + r) % len(jobs) // rotate the order
			var wall, cpu time.Duration
			for range *n {
				w, c, err := runOnce(jobs[i].argv)
				if err != nil {
					fmt.Fprintf(os.Stderr, "startup: %s: %v\n", jobs[i].label, err)
					os.Exit(1)
				}
				wall += w
				cpu += c
			}
			round[i] = float64(*n) / wall.Seconds()
			rates[i] = append(rates[i], round[i])
			cpus[i] = append(cpus[i], float64(cpu.Microseconds())/1000/float64(*n))
		}
		for i := range jobs {
			ratios[i] = append(ratios[i], round[i]/round[len(jobs)-1])
		}
	}
	load1 := loadavg()
	fmt.Printf("server %s; %d rounds x %d runs; load average before %s, after %s\n", addr, *rounds, *n, load0, load1)
	fmt.Printf("%-14s %12s %12s %14s %12s\n", "command", "runs/s", "(min-max)", "CPU ms/run", "ratio")
	for i, j := range jobs {
		lo, hi := minmax(rates[i])
		fmt.Printf("%-14s %12.1f %12s %14.2f %11.2fx\n", j.label, median(rates[i]), fmt.Sprintf("%.0f-%.0f", lo, hi), median(cpus[i]), median(ratios[i]))
	}
}

// runOnce runs argv with no input and its output discarded, returning the
// wall-clock time and the CPU time (user+system) it took.
func runOnce(argv []string) (time.Duration, time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%v: %s", err, firstLine(out))
	}
	ps := cmd.ProcessState
	return wall, ps.UserTime() + ps.SystemTime(), nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minmax(v []float64) (float64, float64) {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[0], s[len(s)-1]
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// serve starts a minimal SMTP server on 127.0.0.1: a greeting at once, a
// fixed EHLO reply, 221 to QUIT, 250 to anything else.
func serve() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go session(c)
		}
	}()
	return ln.Addr().String(), nil
}

func session(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	w := bufio.NewWriter(c)
	r := bufio.NewReader(c)
	w.WriteString("220 startup.test ESMTP\r\n")
	w.Flush()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.TrimSpace(line))
		if len(verb) > 4 {
			verb = verb[:4]
		}
		switch verb {
		case "EHLO":
			w.WriteString("250-startup.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10240000\r\n")
		case "HELO":
			w.WriteString("250 startup.test\r\n")
		case "QUIT":
			w.WriteString("221 bye\r\n")
			w.Flush()
			return
		default:
			w.WriteString("250 ok\r\n")
		}
		w.Flush()
	}
}
