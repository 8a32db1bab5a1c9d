package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var sampleRe = regexp.MustCompile(`(?m)^([a-z_]+)(\{[^}]*\})? (\S+)$`)

// scrape returns the samples of the exposition as name{labels} -> value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("scrape: %s %q", res.Status, res.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	for _, m := range sampleRe.FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.ParseFloat(m[3], 64)
		out[m[1]+m[2]] = v
	}
	return out
}

// metricsEndpoint waits for the "metrics on URL/metrics" line that a
// running 'outbox run --metrics-addr' prints on stderr, checks that its
// /health answers 200 and returns the base URL. The run exiting first (its
// code on done) fails the test.
func metricsEndpoint(t *testing.T, stderr *syncBuffer, done <-chan int) string {
	t.Helper()
	addrRe := regexp.MustCompile(`metrics on (http://\S+)/metrics`)
	var base string
	for base == "" {
		if m := addrRe.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("run exited %d: %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	res, err := http.Get(base + "/health")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("health: %v %v", res, err)
	}
	res.Body.Close()
	return base
}
