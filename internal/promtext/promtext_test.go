package promtext

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// TestExposition: a counter with an escaped label, a gauge and a histogram
// come out in the text format with cumulative buckets.
func TestExposition(t *testing.T) {
	x := New()
	m := x.Provider.Meter("t")
	c, _ := m.Int64Counter("outbox.dead")
	c.Add(context.Background(), 2, metric.WithAttributes(attribute.String("class", `per"m\`)))
	h, _ := m.Float64Histogram("outbox.send.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.1, 1))
	for _, v := range []float64{0.05, 0.5, 0.7, 3} {
		h.Record(context.Background(), v)
	}
	srv := httptest.NewServer(x.Handler(nil))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	got := string(b)
	for _, want := range []string{
		"# TYPE outbox_dead_total counter\n",
		`outbox_dead_total{class="per\"m\\"} 2` + "\n",
		"# TYPE outbox_send_duration_seconds histogram\n",
		`outbox_send_duration_seconds_bucket{le="0.1"} 1` + "\n",
		`outbox_send_duration_seconds_bucket{le="1"} 3` + "\n",
		`outbox_send_duration_seconds_bucket{le="+Inf"} 4` + "\n",
		"outbox_send_duration_seconds_sum 4.25\n",
		"outbox_send_duration_seconds_count 4\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	res, err = srv.Client().Get(srv.URL + "/health")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("health: %v %v", res, err)
	}
}
