package report

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"iter"
	"strings"
	"sync"
	"time"
)

//go:embed report.html.tmpl
var htmlTemplate string

// tmpl is parsed on first use, not at start-up: every smtpcheck command
// links this package, and only 'audit report' renders HTML.
var tmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"ts": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"dur":   humanDuration,
		"join":  strings.Join,
		"label": func(o Outcome) string { return o.Label() },
		"ms": func(p *int64) string {
			if p == nil {
				return ""
			}
			return humanDuration(time.Duration(*p) * time.Millisecond)
		},
		"count": func(m map[Outcome]int, o Outcome) int { return m[o] },
		"bad":   func(o Outcome) bool { return o.bad() },
		"fp": func(s string) string {
			if len(s) > 16 {
				return s[:16] + "…"
			}
			return s
		},
		"next":  func(u uint64) uint64 { return u + 1 },
		"group": func(name string, c []*Count) map[string]any { return map[string]any{"Name": name, "Counts": c} },
	}).Parse(htmlTemplate))
})

// humanDuration prints a duration for people: 3d 4h, 2h 5m, 4m 10s, 1.2s.
func humanDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd %dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm %ds", d/time.Minute, d%time.Minute/time.Second)
	case d >= time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// htmlView is what the template reads.
type htmlView struct {
	*Report
	Outcomes []Outcome
	Activity chart
	Latency  chart
	Rows     iter.Seq[*Message]
}

// A chart is an SVG bar chart laid out in Go; the template only draws it.
type chart struct {
	Width, Height int
	Bars          []bar
	Ticks         []tick
	YTicks        []tick
	Empty         bool
	Max           int
}

type bar struct {
	X, Y, W, H int
	Class      string
	Title      string
}

type tick struct {
	X, Y  int
	Label string
}

const (
	chartW, chartH       = 960, 240
	padL, padB, padT     = 48, 36, 12
	plotW, plotH         = chartW - padL - 8, chartH - padB - padT
	maxActivityTickLabel = 12
)

func (r *Report) activityChart() chart {
	c := chart{Width: chartW, Height: chartH}
	a := r.Summary.Activity
	if len(a) == 0 {
		c.Empty = true
		return c
	}
	for _, b := range a {
		c.Max = max(c.Max, b.Sent+b.Failures)
	}
	if c.Max == 0 {
		c.Max = 1
	}
	slot := float64(plotW) / float64(len(a))
	w := max(int(slot*0.8), 1)
	layout := "2006-01-02 15:00"
	if r.Summary.Step >= 24*time.Hour {
		layout = "2006-01-02"
	}
	every := max((len(a)+maxActivityTickLabel-1)/maxActivityTickLabel, 1)
	for i, b := range a {
		x := padL + int(float64(i)*slot)
		hs := b.Sent * plotH / c.Max
		hf := b.Failures * plotH / c.Max
		base := padT + plotH
		title := fmt.Sprintf("%s: %d sent, %d failures", b.Start.Format(layout), b.Sent, b.Failures)
		if b.Sent > 0 {
			c.Bars = append(c.Bars, bar{X: x, Y: base - hs, W: w, H: max(hs, 1), Class: "sent", Title: title})
		}
		if b.Failures > 0 {
			c.Bars = append(c.Bars, bar{X: x, Y: base - hs - max(hf, 1), W: w, H: max(hf, 1), Class: "fail", Title: title})
		}
		if i%every == 0 {
			lbl := b.Start.Format(layout)
			if r.Summary.Step < 24*time.Hour && i > 0 && a[i-1].Start.YearDay() == b.Start.YearDay() {
				lbl = b.Start.Format("15:00")
			}
			c.Ticks = append(c.Ticks, tick{X: x, Y: chartH - padB + 14, Label: lbl})
		}
	}
	c.YTicks = yTicks(c.Max)
	return c
}

func (r *Report) latencyChart() chart {
	c := chart{Width: chartW, Height: chartH}
	l := r.Summary.Latency
	if l.Count == 0 {
		c.Empty = true
		return c
	}
	for _, n := range l.Counts {
		c.Max = max(c.Max, n)
	}
	n := len(l.Counts)
	slot := plotW / n
	for i, k := range l.Counts {
		x := padL + i*slot + slot/10
		h := k * plotH / c.Max
		if k > 0 {
			c.Bars = append(c.Bars, bar{X: x, Y: padT + plotH - max(h, 1), W: slot * 8 / 10, H: max(h, 1), Class: "lat",
				Title: fmt.Sprintf("%s: %d messages", BucketLabel(i), k)})
		}
		c.Ticks = append(c.Ticks, tick{X: x, Y: chartH - padB + 14, Label: BucketLabel(i)})
	}
	c.YTicks = yTicks(c.Max)
	return c
}

// yTicks labels 0, half and the maximum of the y axis.
func yTicks(maxV int) []tick {
	var out []tick
	for _, v := range []int{0, maxV / 2, maxV} {
		out = append(out, tick{X: padL - 6, Y: padT + plotH - v*plotH/maxV + 4, Label: fmt.Sprint(v)})
	}
	return out
}

// WriteHTML writes the report as one self-contained HTML document: no
// script, no remote resource, charts as inline SVG, print styles for
// saving it as PDF. Every value from the trail is escaped.
func (r *Report) WriteHTML(w io.Writer) error {
	var rowErr error
	view := htmlView{Report: r, Outcomes: Outcomes, Activity: r.activityChart(), Latency: r.latencyChart(),
		Rows: func(yield func(*Message) bool) {
			stop := fmt.Errorf("stop")
			err := r.rows(func(m *Message) error {
				if !yield(m) {
					return stop
				}
				return nil
			})
			if err != nil && err != stop {
				rowErr = err
			}
		}}
	bw := bufio.NewWriterSize(w, 256<<10)
	if err := tmpl().Execute(bw, view); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	if rowErr != nil {
		return rowErr
	}
	return bw.Flush()
}
