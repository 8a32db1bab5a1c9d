// Package promtext serves OpenTelemetry metrics in the Prometheus text
// exposition format (version 0.0.4) from an SDK ManualReader, with a
// health endpoint: enough for 'smtpcheck outbox run --metrics-addr'
// without the Prometheus client library.
//
// Names: dots become underscores, counters get _total, histograms
// _bucket/_sum/_count with le labels; the unit "s" adds _seconds.
// Attributes become labels, their values escaped as the format says.
package promtext

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// An Exporter is a MeterProvider whose metrics are read on each scrape.
type Exporter struct {
	reader   *sdkmetric.ManualReader
	Provider *sdkmetric.MeterProvider
}

// New returns an Exporter.
func New() *Exporter {
	r := sdkmetric.NewManualReader()
	return &Exporter{reader: r, Provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))}
}

// Handler serves /metrics and /health; health (nil: always healthy) says
// whether the program can do its work (its error text is not shown).
func (x *Exporter) Handler(health func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		var rm metricdata.ResourceMetrics
		if err := x.reader.Collect(r.Context(), &rm); err != nil {
			http.Error(w, "collecting metrics failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		Write(w, &rm)
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if health != nil {
			if err := health(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, "unhealthy\n")
				return
			}
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}

// Name turns an OpenTelemetry instrument name into a Prometheus one.
func Name(name, unit string) string {
	var b strings.Builder
	for i, c := range name {
		ok := c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9'
		if ok {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	n := b.String()
	if unit == "s" && !strings.HasSuffix(n, "_seconds") {
		n += "_seconds"
	}
	return n
}

// Write writes rm in the text format.
func Write(w io.Writer, rm *metricdata.ResourceMetrics) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			name := Name(m.Name, m.Unit)
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				writeSum(w, name, m.Description, d.IsMonotonic, d.DataPoints)
			case metricdata.Sum[float64]:
				writeSum(w, name, m.Description, d.IsMonotonic, d.DataPoints)
			case metricdata.Gauge[int64]:
				writePoints(w, name, m.Description, "gauge", d.DataPoints)
			case metricdata.Gauge[float64]:
				writePoints(w, name, m.Description, "gauge", d.DataPoints)
			case metricdata.Histogram[float64]:
				writeHist(w, name, m.Description, d.DataPoints)
			case metricdata.Histogram[int64]:
				writeHist(w, name, m.Description, d.DataPoints)
			}
		}
	}
}

func writeSum[N int64 | float64](w io.Writer, name, desc string, mono bool, pts []metricdata.DataPoint[N]) {
	if mono {
		writePoints(w, name+"_total", desc, "counter", pts)
		return
	}
	writePoints(w, name, desc, "gauge", pts)
}

func header(w io.Writer, name, desc, typ string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, escHelp(desc), name, typ)
}

func writePoints[N int64 | float64](w io.Writer, name, desc, typ string, pts []metricdata.DataPoint[N]) {
	header(w, name, desc, typ)
	for _, p := range sorted(pts, func(p metricdata.DataPoint[N]) attribute.Set { return p.Attributes }) {
		fmt.Fprintf(w, "%s%s %s\n", name, labels(p.Attributes), num(float64(p.Value)))
	}
}

func writeHist[N int64 | float64](w io.Writer, name, desc string, pts []metricdata.HistogramDataPoint[N]) {
	header(w, name, desc, "histogram")
	for _, p := range sorted(pts, func(p metricdata.HistogramDataPoint[N]) attribute.Set { return p.Attributes }) {
		var cum uint64
		for i, b := range p.Bounds {
			cum += p.BucketCounts[i]
			fmt.Fprintf(w, "%s_bucket%s %d\n", name, labels(p.Attributes, "le", num(b)), cum)
		}
		fmt.Fprintf(w, "%s_bucket%s %d\n", name, labels(p.Attributes, "le", "+Inf"), p.Count)
		fmt.Fprintf(w, "%s_sum%s %s\n", name, labels(p.Attributes), num(float64(p.Sum)))
		fmt.Fprintf(w, "%s_count%s %d\n", name, labels(p.Attributes), p.Count)
	}
}

func sorted[P any](pts []P, attrs func(P) attribute.Set) []P {
	out := append([]P(nil), pts...)
	sort.SliceStable(out, func(i, j int) bool { return labels(attrs(out[i])) < labels(attrs(out[j])) })
	return out
}

func labels(set attribute.Set, extra ...string) string {
	var parts []string
	for _, kv := range set.ToSlice() {
		parts = append(parts, Name(string(kv.Key), "")+`="`+escLabel(kv.Value.String())+`"`)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		parts = append(parts, extra[i]+`="`+escLabel(extra[i+1])+`"`)
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func num(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

var (
	labelEsc = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEsc  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escLabel(s string) string { return labelEsc.Replace(s) }
func escHelp(s string) string  { return helpEsc.Replace(s) }
