package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailwarden/audit"
	auditreport "mailwarden/audit/report"

	"mailwarden/internal/robustio"
)

const auditReportUsage = `usage: smtpcheck audit report [flags] FILE...

Writes a report of an audit trail for people: the verification verdict first
(intact, sealed or open, the key used, the anchor, crashes and gaps with their
sequence numbers, the first and last hash), messages by outcome, transport,
profile and relay, charts of the activity and of the delivery latency, silent
periods, failures by class with hints, operators' retries and purges, and
every message in a table. FILE... are the rotated files and the active one, in
any order. The verification always covers every record; --from, --to and
--profile select what is reported. A tampered trail is reported up to its
first bad record, and says so at the top.

HTML (the default) is one self-contained file, with no script and nothing
loaded from elsewhere, that prints cleanly to PDF from a browser. CSV and
JSON carry the same message table for other tools.

Flags:
  --key-file FILE    the HMAC key file the trail was written with
                     (--audit-key-file); needed for a keyed trail
  --anchor ANCHOR    a record kept elsewhere: SEQ:HASH, or a file holding a
                     sequence number and a 64-digit hash (for example the
                     output of 'audit verify --allow-open')
  --from TIME        report records from TIME (RFC 3339, or YYYY-MM-DD: that
                     day's start, UTC)
  --to TIME          report records before TIME (YYYY-MM-DD: up to the end
                     of that day, UTC)
  --profile NAME     only the messages of this sender profile
  --format FORMAT    html (default), csv or json
  -o FILE            write to FILE (mode 0600) instead of standard output
  --silence DURATION flag stretches with no record longer than this (default:
                     four times the usual gap between records, at least 1h)
  --title TEXT       the report's title
  --quiet            no progress line on a terminal (standard error)
  --verbose          not on a terminal: one progress line per file to
                     standard error

Exit codes: 0 report written, trail intact (or open: still being written);
1 report written, the trail is tampered or cut short; 2 usage, unreadable
input, or a keyed trail without its key (nothing written).
`

func runAuditReport(e *env, args []string) int {
	fs := flag.NewFlagSet("audit report", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	keyFile := fs.String("key-file", "", "")
	fs.StringVar(keyFile, "audit-key-file", "", "")
	anchor := fs.String("anchor", "", "")
	from := fs.String("from", "", "")
	to := fs.String("to", "", "")
	profile := fs.String("profile", "", "")
	format := fs.String("format", "html", "")
	out := fs.String("o", "", "")
	silence := fs.Duration("silence", 0, "")
	title := fs.String("title", "", "")
	var pf progressFlags
	pf.register(fs)
	files, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, auditReportUsage)
			return exitOK
		}
		fmt.Fprintf(e.stderr, "smtpcheck audit report: %v\n\n%s", err, auditReportUsage)
		return exitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "smtpcheck audit report: "+format+"\n", a...)
		return exitUsage
	}
	if len(files) == 0 {
		return usage("no files (give the rotated files and the active one)")
	}
	opts := auditreport.Options{Profile: *profile, Silence: *silence, Title: *title}
	if *format != "html" && *format != "csv" && *format != "json" {
		return usage("--format %q: want html, csv or json", *format)
	}
	if *silence < 0 {
		return usage("--silence must not be negative")
	}
	if opts.From, err = parseReportTime(*from, false); err != nil {
		return usage("--from: %v", err)
	}
	if opts.To, err = parseReportTime(*to, true); err != nil {
		return usage("--to: %v", err)
	}
	if !opts.From.IsZero() && !opts.To.IsZero() && !opts.From.Before(opts.To) {
		return usage("--from must be before --to")
	}
	if *keyFile != "" {
		if opts.Key, err = audit.LoadKey(*keyFile); err != nil {
			return usage("%v", err)
		}
	}
	if *anchor != "" {
		if opts.Anchor, err = parseAnchor(*anchor); err != nil {
			return usage("--anchor: %v", err)
		}
	}
	if *out != "" {
		opts.TempDir = filepath.Dir(*out)
	}
	tp := newTrailProgress(newDisplay(e, "audit report", pf, false), "reading", files)
	opts.Progress = tp.callback()
	rep, err := auditreport.Build(opts, files...)
	tp.done()
	if err != nil {
		return usage("%s", term(err.Error()))
	}
	defer rep.Close()
	v := rep.Verdict
	if v.Status == auditreport.StatusUnverified {
		return usage("%s", term(v.Problem)+"; nothing written (give --key-file for a keyed trail)")
	}
	write := map[string]func(io.Writer) error{"html": rep.WriteHTML, "csv": rep.WriteCSV, "json": rep.WriteJSON}[*format]
	if err := writeReport(e, *out, write); err != nil {
		return usage("%s", term(err.Error()))
	}
	fmt.Fprintf(e.stderr, "smtpcheck audit report: %s\n", v.Summary)
	if v.Status == auditreport.StatusIntact || v.Status == auditreport.StatusOpen {
		return exitOK
	}
	return exitCheck
}

// parseInterspersed parses flags that may come before, between or after
// the files, and returns the files.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return files, nil
		}
		if args[0] == "--" {
			return append(files, args[1:]...), nil
		}
		files = append(files, args[0])
		args = args[1:]
	}
}

// parseReportTime reads RFC 3339 or a UTC date; a date as the end of a
// period (--to) means the end of that day.
func parseReportTime(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-11-02T07:00:00Z) nor a date (2026-11-02)", s)
	}
	if end {
		t = t.Add(24 * time.Hour)
	}
	return t, nil
}

var (
	anchorInline = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]+):([0-9a-fA-F]{64})$`) })
	anchorSeq    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)(?:seq(?:uence)?|last_seq|to)["':= ]+([0-9]+)`) })
	anchorHash   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b[0-9a-fA-F]{64}\b`) })
)

// parseAnchor reads SEQ:HASH, or a file with a JSON object {"seq":N,
// "hash":"..."} (or last_seq/last_hash), or text naming a sequence number
// and one 64-digit hash, such as the line 'audit verify --allow-open'
// prints.
func parseAnchor(s string) (*auditreport.Anchor, error) {
	if m := anchorInline().FindStringSubmatch(s); m != nil {
		seq, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil {
			return nil, err
		}
		return &auditreport.Anchor{Seq: seq, Hash: strings.ToLower(m[2])}, nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("neither SEQ:HASH nor a readable file: %w", err)
	}
	var j struct {
		Seq      uint64 `json:"seq"`
		Hash     string `json:"hash"`
		LastSeq  uint64 `json:"last_seq"`
		LastHash string `json:"last_hash"`
	}
	if json.Unmarshal(b, &j) == nil {
		if j.Seq == 0 {
			j.Seq, j.Hash = j.LastSeq, j.LastHash
		}
		if j.Seq > 0 && anchorHash().MatchString(j.Hash) && len(j.Hash) == 64 {
			return &auditreport.Anchor{Seq: j.Seq, Hash: strings.ToLower(j.Hash)}, nil
		}
	}
	text := string(b)
	hashes := anchorHash().FindAllString(text, -1)
	seqs := anchorSeq().FindAllStringSubmatch(text, -1)
	if len(hashes) != 1 || len(seqs) == 0 {
		return nil, fmt.Errorf("%s: want one sequence number and one 64-digit hash", s)
	}
	seq, err := strconv.ParseUint(seqs[len(seqs)-1][1], 10, 64)
	if err != nil {
		return nil, err
	}
	return &auditreport.Anchor{Seq: seq, Hash: strings.ToLower(hashes[0])}, nil
}

// writeReport writes to path through a temporary file renamed into place
// (so a failed run leaves no half report), or to stdout.
func writeReport(e *env, path string, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		return write(e.stdout)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".report-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = robustio.Rename(tmp, path) // a viewer may hold the old report open (Windows)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
