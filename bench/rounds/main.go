// Command rounds runs a compiled benchmark binary for several interleaved
// rounds (each round runs every matching sub-benchmark once, so the ratio
// between two variants is taken within a round, under the same load) and
// prints medians, ranges and the median of the per-round ratios to a
// reference variant, with the load average before each round.
//
//	cd bench && go test -c -o /tmp/bench.test . &&
//	  go run ./rounds -bin /tmp/bench.test -bench SenderSend -n 5 -ref net-smtp
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var line = regexp.MustCompile(`^(Benchmark\S+?)-\d+\s+\d+\s+([\d.]+) ns/op(.*)$`)

type obs struct{ rate, bytes, allocs float64 }

func field(rest, unit string) float64 {
	m := regexp.MustCompile(`([\d.]+) ` + regexp.QuoteMeta(unit)).FindStringSubmatch(rest)
	if m == nil {
		return -1
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	return f
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func main() {
	bin := flag.String("bin", "", "benchmark binary (go test -c)")
	bench := flag.String("bench", ".", "-test.bench pattern")
	n := flag.Int("n", 5, "rounds")
	benchtime := flag.String("benchtime", "1s", "-test.benchtime")
	ref := flag.String("ref", "net-smtp", "last name element of the reference variant")
	flag.Parse()
	var rounds []map[string]obs
	var names []string
	fmt.Printf("load average before: %s\n", loadavg())
	for r := range *n {
		fmt.Printf("round %d: load %s\n", r+1, loadavg())
		out, err := exec.Command(*bin, "-test.run", "^$", "-test.bench", *bench, "-test.benchmem", "-test.count", "1", "-test.benchtime", *benchtime).Output()
		if err != nil {
			fmt.Fprintf(os.Stderr, "rounds: %v\n%s", err, out)
			os.Exit(1)
		}
		cur := map[string]obs{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			m := line.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			fmt.Println(sc.Text())
			name := strings.TrimPrefix(m[1], "Benchmark")
			o := obs{rate: field(m[3], "msgs/s"), bytes: field(m[3], "B/op"), allocs: field(m[3], "allocs/op")}
			if o.rate < 0 {
				ns, _ := strconv.ParseFloat(m[2], 64)
				o.rate = 1e9 / ns
			}
			cur[name] = o
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
		rounds = append(rounds, cur)
	}
	fmt.Printf("load average after: %s\n\n", loadavg())
	fmt.Printf("| variant | msgs/s, median (range) | / %s, median of per-round ratios (range) | B/op | allocs/op |\n|---|---|---|---|---|\n", *ref)
	for _, name := range names {
		parts := strings.Split(name, "/")
		refName := ""
		for k := len(parts) - 1; k > 0 && refName == ""; k-- {
			if c := strings.Join(parts[:k], "/") + "/" + *ref; slices.Contains(names, c) {
				refName = c
			}
		}
		var rates, ratios, bs, as []float64
		for _, r := range rounds {
			o, ok := r[name]
			if !ok {
				continue
			}
			rates, bs, as = append(rates, o.rate), append(bs, o.bytes), append(as, o.allocs)
			if ro, ok := r[refName]; ok {
				ratios = append(ratios, o.rate/ro.rate)
			}
		}
		ratio := "-"
		if len(ratios) > 0 {
			ratio = fmt.Sprintf("%.2fx (%.2f-%.2f)", median(ratios), slices.Min(ratios), slices.Max(ratios))
		}
		fmt.Printf("| %s | %.0f (%.0f-%.0f) | %s | %.0f | %.0f |\n", name, median(rates), slices.Min(rates), slices.Max(rates), ratio, median(bs), median(as))
	}
}
