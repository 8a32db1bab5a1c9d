package main

// Progress display for long commands (send, outbox enqueue, outbox run,
// audit verify, audit report).
//
// On a terminal (standard error is a TTY and neither --json nor --quiet is
// given) one line on standard error is redrawn in place with a carriage
// return, at most ten times a second, and cleared at the end. Anywhere else
// nothing is shown, or with --verbose one line per phase. Standard output
// is never written to, so a command's output can be piped as before.
//
// No progress-bar library: the display is one line of text that we already
// compose (phases, counts, the outbox's states), redrawn when an event
// arrives. vbauerster/mpb renders from its own refresh goroutine and brings
// go-runewidth, stripansi and ewma; schollz/progressbar draws one bar for one
// total (not a phase that changes, nor the outbox's several counts) and
// brings colorstring and uniseg (grapheme widths). Neither would let us drop
// much code here, and both would put their formatting between our already
// escaped text and the terminal. The status line is ASCII (no file names,
// addresses or server text on it), so widths are byte counts. golang.org/x/term
// gives the two things that are hard to get right by hand: whether a file is
// a terminal and its width, on Unix and Windows consoles alike. The line is
// erased by padding with spaces rather than an ANSI erase sequence, so it
// works on consoles without VT processing.

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	xterm "golang.org/x/term"

	"mailwarden"
)

// progressFlags are --quiet and --verbose.
type progressFlags struct {
	quiet, verbose bool
}

func (p *progressFlags) register(fs *flag.FlagSet) {
	p.registerQuiet(fs)
	fs.BoolVar(&p.verbose, "verbose", false, "when standard error is not a terminal, print one progress line per phase to it")
}

// registerQuiet registers --quiet alone (outbox run, whose state changes
// are printed one per line anyway).
func (p *progressFlags) registerQuiet(fs *flag.FlagSet) {
	fs.BoolVar(&p.quiet, "quiet", false, "no progress display on a terminal (standard error)")
}

// redrawEvery is the shortest interval between two redraws.
const redrawEvery = 100 * time.Millisecond

// A display shows progress on standard error: a line redrawn in place on a
// terminal (tty), one line per phase (lines), or nothing (both false).
type display struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	lines  bool
	width  int
	prefix string // "smtpcheck send: " for the per-phase lines
	shown  int    // length of the line now on screen (tty)
	last   time.Time
	phase  string // the last phase printed (lines)
	now    func() time.Time

	// transfer rate
	start     time.Time
	startDone int64
}

// newDisplay decides how progress is shown for command name: nothing with
// --quiet; on a terminal the status line, unless noLine (--json, or other
// output that streams to the terminal as the work goes); elsewhere lines
// with --verbose.
func newDisplay(e *env, name string, pf progressFlags, noLine bool) *display {
	d := &display{w: e.stderr, prefix: "smtpcheck " + name + ": ", now: time.Now}
	if pf.quiet {
		return d
	}
	if f, ok := e.stderr.(*os.File); ok && xterm.IsTerminal(int(f.Fd())) {
		if noLine {
			return d
		}
		d.tty = true
		d.width = 80
		if w, _, err := xterm.GetSize(int(f.Fd())); err == nil && w > 0 {
			d.width = w
		}
		return d
	}
	d.lines = pf.verbose
	return d
}

// active reports whether the display shows anything.
func (d *display) active() bool { return d != nil && (d.tty || d.lines) }

// show puts text on the status line (tty), at most every redrawEvery unless
// force; with lines, it prints text when phase differs from the last one.
func (d *display) show(phase, text string, force bool) {
	if !d.active() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lines {
		if phase != d.phase {
			d.phase = phase
			fmt.Fprintln(d.w, d.prefix+text)
		}
		return
	}
	now := d.now()
	if !force && phase == d.phase && now.Sub(d.last) < redrawEvery {
		return
	}
	d.phase, d.last = phase, now
	d.drawLocked(text)
}

// drawLocked redraws the status line with text, cut to the terminal's width
// and padded over what was there.
func (d *display) drawLocked(text string) {
	if max := d.width - 1; max > 0 && len(text) > max {
		text = text[:max]
	}
	pad := ""
	if n := d.shown - len(text); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprint(d.w, "\r"+text+pad)
	d.shown = len(text)
}

// clear erases the status line (tty), e.g. before other output or at the end.
func (d *display) clear() {
	if d == nil || !d.tty {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clearLocked()
}

func (d *display) clearLocked() {
	if d.shown == 0 {
		return
	}
	fmt.Fprint(d.w, "\r"+strings.Repeat(" ", d.shown)+"\r")
	d.shown = 0
	d.phase = ""
}

// sendProgress returns an Options.Progress that shows a send's phases and
// the transfer's bytes, rate and time left; nil when nothing is shown.
func (d *display) sendProgress() func(mailwarden.ProgressEvent) {
	if !d.active() {
		return nil
	}
	return func(ev mailwarden.ProgressEvent) {
		phase := ev.Phase.String()
		switch ev.Phase {
		case mailwarden.PhaseTransferring:
			d.show(phase, d.transferLine(ev), ev.Written == ev.Total && ev.Total > 0)
		case mailwarden.PhaseSpooling, mailwarden.PhaseDone:
			d.show(phase, phase+" "+bytesText(ev.Total), true)
		default:
			d.show(phase, phase, true)
		}
	}
}

// transferLine is "transferring 1.2 MiB of 40.0 MiB  310 KiB/s  2:05 left".
func (d *display) transferLine(ev mailwarden.ProgressEvent) string {
	d.mu.Lock()
	now := d.now()
	if ev.Written == 0 || d.start.IsZero() || ev.Written < d.startDone {
		d.start, d.startDone = now, ev.Written // a new attempt starts again
	}
	elapsed := now.Sub(d.start).Seconds()
	done := ev.Written - d.startDone
	d.mu.Unlock()
	var b strings.Builder
	b.WriteString("transferring " + bytesText(ev.Written))
	if ev.Total > 0 {
		b.WriteString(" of " + bytesText(ev.Total))
	}
	if elapsed >= 0.2 && done > 0 {
		rate := float64(done) / elapsed
		b.WriteString("  " + bytesText(int64(rate)) + "/s")
		if ev.Total > ev.Written {
			left := time.Duration(float64(ev.Total-ev.Written) / rate * float64(time.Second))
			b.WriteString("  " + clock(left) + " left")
		}
	}
	return b.String()
}

// bytesText is n in B, KiB, MiB or GiB.
func bytesText(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// clock is d as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// aboveDisplay is a writer for output that shares the terminal with the
// status line: each write clears the line first, and the next event
// redraws it. Writes are serialized: the outbox's deliveries log
// concurrently.
type aboveDisplay struct {
	mu sync.Mutex
	d  *display
	w  io.Writer
}

func (a *aboveDisplay) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.d.clear()
	return a.w.Write(p)
}
