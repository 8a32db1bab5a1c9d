package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"mailwarden"
	"mailwarden/audit"
	"mailwarden/envelope"
	"mailwarden/internal/promtext"
)

const outboxUsage = `usage: smtpcheck outbox <command> --spool DIR [flags]

Looks at and acts on a durable outbox (a spool directory of queued
messages).

Commands:
  list               show every entry: id, state, attempts, next attempt,
                     last error, Message-ID, recipients (--json for JSON)
  retry ID           make a deferred or dead entry due now
  purge ID           delete an entry without sending it
  enqueue            build a message from the send flags and queue it
  status             a snapshot: entries by state, the oldest entry's age,
                     the next attempt, one line per entry (--json for JSON)
  run                deliver the queue with the send connection flags, until
                     interrupted (--once: one pass over what is due, then exit);
                     on a terminal a status line on stderr (--quiet: none), and
                     a full snapshot to stderr on SIGUSR1 (Unix)
  migrate --store REF
                     create or upgrade the PostgreSQL outbox's schema

With --store REF instead of --spool DIR, list, retry, purge, enqueue and run
work on an outbox kept in PostgreSQL, shared by several 'run' nodes (REF: env:NAME or
file:PATH holding the connection string, or a postgres:// URL without a
password; verify-full TLS for a database on another host). 'run --store'
also takes --node-id, --lease and --rate-key; 'run' (either store) takes
--metrics-addr ADDR (Prometheus /metrics and /health).

Run 'smtpcheck outbox <command> --help' for a command's flags.

Only one 'run' delivers a spool at a time (a lock, worker.lock): a second
one exits 1 naming the first one's pid; the other commands work beside it.
A message the relay accepted is never sent again, even when its audit
record failed: list shows it as "delivered" until the record is written.

list, status, retry and purge need an existing spool: a missing directory,
or one that is not a spool, exits 2 (enqueue and run create it).

Exit codes: 0 success; 2 usage, configuration, unknown id or no spool; 1 the spool
cannot be read or written, another run is delivering it, or the audit trail
cannot be opened; for run --once: 5 some entry was dead-lettered,
6 some entry was deferred; 3-6 for enqueue as for send.
`

func runOutbox(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, outboxUsage)
		return exitUsage
	}
	if isHelp(args[0]) {
		fmt.Fprint(e.stdout, outboxUsage)
		return exitOK
	}
	if args[0] == "migrate" || args[0] != "run" && args[0] != "enqueue" && usesStore(args[1:]) {
		return runOutboxStore(ctx, e, args[0], args[1:])
	}
	switch args[0] {
	case "list":
		return runOutboxList(ctx, e, args[1:])
	case "retry", "purge":
		return runOutboxAct(ctx, e, args[0], args[1:])
	case "run":
		return runOutboxRun(ctx, e, args[1:])
	case "enqueue":
		return runOutboxEnqueue(ctx, e, args[1:])
	case "status":
		return runOutboxStatus(ctx, e, args[1:])
	}
	fmt.Fprintf(e.stderr, "smtpcheck outbox: unknown command %q\n\n", args[0])
	fmt.Fprint(e.stderr, outboxUsage)
	return exitUsage
}

// openSpool opens the spool for inspection (no delivery); quarantine
// reports go to stderr.
func openSpool(e *env, name, dir string) (*mailwarden.Spool, int) {
	return openSpoolLogged(e, name, dir, nil)
}

// openSpoolLogged is openSpool whose records also go to an audit trail
// when trail is not nil.
func openSpoolLogged(e *env, name, dir string, trail *audit.Handler) (*mailwarden.Spool, int) {
	if dir == "" {
		fmt.Fprintf(e.stderr, "smtpcheck outbox %s: --spool is required\n", name)
		return nil, exitUsage
	}
	var h slog.Handler = &eventPrinter{w: e.stderr}
	if trail != nil {
		h = slog.NewMultiHandler(h, trail)
	}
	o, err := mailwarden.OpenSpool(mailwarden.OutboxConfig{Dir: dir, Logger: slog.New(h), Existing: true})
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck outbox %s: %s\n", name, errLine(err))
		if errors.Is(err, mailwarden.ErrNoSpool) {
			return nil, exitUsage
		}
		return nil, exitCheck
	}
	return o, 0
}

type entryJSON struct {
	ID          string   `json:"id"`
	State       string   `json:"state"`
	Attempts    int      `json:"attempts"`
	NextAttempt string   `json:"next_attempt,omitempty"`
	LastError   string   `json:"last_error,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	MessageID   string   `json:"message_id,omitempty"`
	From        string   `json:"from"`
	Rcpts       []string `json:"rcpts"`
	Size        int64    `json:"size"`
	Created     string   `json:"created"`
}

type listJSON struct {
	Entries     []entryJSON `json:"entries"`
	Quarantined []string    `json:"quarantined"`
}

func runOutboxList(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("outbox list", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	spool := fs.String("spool", "", "spool `DIR`")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := parseFlags(fs, e, args, "outbox list", "usage: smtpcheck outbox list --spool DIR [--json]"); done {
		return code
	}
	o, code := openSpool(e, "list", *spool)
	if o == nil {
		return code
	}
	defer o.Close()
	list, err := o.List(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck outbox list: %s\n", errLine(err))
		return exitCheck
	}
	q, _ := o.Quarantined()
	if *asJSON {
		out := listJSON{Entries: []entryJSON{}, Quarantined: q}
		if out.Quarantined == nil {
			out.Quarantined = []string{}
		}
		for _, en := range list {
			j := entryJSON{ID: en.ID, State: string(en.State), Attempts: en.Attempts, LastError: en.LastError, Reason: en.Reason,
				MessageID: en.Envelope.MessageID, From: en.Envelope.From, Rcpts: en.Envelope.To, Size: en.Envelope.Size,
				Created: en.Created.UTC().Format(time.RFC3339)}
			if !en.NextAttempt.IsZero() {
				j.NextAttempt = en.NextAttempt.UTC().Format(time.RFC3339)
			}
			out.Entries = append(out.Entries, j)
		}
		writeJSON(e.stdout, out)
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tATTEMPTS\tNEXT ATTEMPT\tMESSAGE-ID\tRECIPIENTS\tLAST ERROR")
	for _, en := range list {
		next := "-"
		if !en.NextAttempt.IsZero() {
			next = en.NextAttempt.UTC().Format(time.RFC3339)
		}
		state := string(en.State)
		if en.Reason != "" {
			state += " (" + en.Reason + ")"
		}
		lastErr := en.LastError
		if lastErr == "" {
			lastErr = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", en.ID, state, en.Attempts, next, term(en.Envelope.MessageID),
			term(strings.Join(en.Envelope.To, ",")), term(lastErr))
	}
	tw.Flush()
	states := make([]string, len(list))
	for i, en := range list {
		states[i] = string(en.State)
	}
	fmt.Fprint(e.stdout, stateSummary(states))
	if len(q) > 0 {
		fmt.Fprintf(e.stdout, ", %d file(s) in quarantine (%s/quarantine)", len(q), *spool)
	}
	fmt.Fprintln(e.stdout)
	return exitOK
}

// splitID takes the one positional ID from args, before or after the
// flags.
func splitID(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	if n := len(args); n > 0 && !strings.HasPrefix(args[n-1], "-") && (n < 2 || !takesValue(args[n-2])) {
		return args[n-1], args[:n-1]
	}
	return "", args
}

// takesValue reports whether arg is a flag whose value is the next
// argument: every flag of retry and purge but the boolean one.
func takesValue(arg string) bool {
	name := strings.TrimLeft(arg, "-")
	return strings.HasPrefix(arg, "-") && !strings.Contains(arg, "=") && name != "audit-fail-open"
}

func runOutboxAct(ctx context.Context, e *env, name string, args []string) int {
	id, rest := splitID(args)
	fs := flag.NewFlagSet("outbox "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	spool := fs.String("spool", "", "spool `DIR`")
	var af auditFlags
	af.register(fs)
	help := map[string]string{"retry": "usage: smtpcheck outbox retry --spool DIR [audit flags] ID\n\nMakes a deferred or dead entry due now (its maximum age counts again from now).\nWith --audit-file or --syslog the operator's action is recorded in the audit trail.",
		"purge": "usage: smtpcheck outbox purge --spool DIR [audit flags] ID\n\nDeletes an entry without sending it.\nWith --audit-file or --syslog the operator's action is recorded in the audit trail."}[name]
	if code, done := parseFlags(fs, e, rest, "outbox "+name, help); done {
		return code
	}
	if id == "" {
		fmt.Fprintf(e.stderr, "smtpcheck outbox %s: an entry ID is required (see 'smtpcheck outbox list')\n", name)
		return exitUsage
	}
	tracked, closeTrail, code, ok := operatorTrail(ctx, e, name, &af)
	if !ok {
		return code
	}
	defer closeTrail()
	o, code := openSpoolLogged(e, name, *spool, tracked)
	if o == nil {
		return code
	}
	defer o.Close()
	var err error
	if name == "retry" {
		err = o.Retry(ctx, id)
	} else {
		err = o.Purge(ctx, id)
	}
	return entryActionDone(ctx, e, name, id, tracked, err)
}

// operatorTrail opens the audit trail of an operator's action (retry or
// purge, name) on either store: a handler that records who acted (nil
// without a trail) and the trail's close. ok false: the error is printed
// and code is the exit code.
func operatorTrail(ctx context.Context, e *env, name string, af *auditFlags) (tracked *audit.Handler, closeTrail func(), code int, ok bool) {
	trail, err := af.handler(ctx, e.stderr)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck outbox %s: %s\n", name, errLine(err))
		if errors.Is(err, mailwarden.ErrAuditFailed) {
			return nil, nil, exitCheck, false
		}
		return nil, nil, exitUsage, false
	}
	if trail == nil {
		return nil, func() {}, 0, true
	}
	return withOperator(trail.Track()), func() { trail.Close() }, 0, true // who, for the report
}

// entryActionDone reports the outcome err of retry or purge (name) of entry
// id, for either store, and waits for its audit record.
func entryActionDone(ctx context.Context, e *env, name, id string, tracked *audit.Handler, err error) int {
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck outbox %s: %s\n", name, errLine(err))
		if errors.Is(err, mailwarden.ErrOutboxEntryNotFound) {
			return exitUsage
		}
		return exitCheck
	}
	fmt.Fprintf(e.stdout, "%s %s\n", map[string]string{"retry": "due now:", "purge": "purged:"}[name], id)
	if tracked != nil {
		if werr := tracked.Wait(ctx); werr != nil {
			fmt.Fprintf(e.stderr, "smtpcheck outbox %s: done, but the audit trail could not record it: %s\n", name, errLine(werr))
			return exitCheck
		}
	}
	return exitOK
}

// outboxFlags are the worker's settings.
type outboxFlags struct {
	spool                  string
	concurrency, rate      int
	ratePeriod, maxAge     time.Duration
	minBackoff, maxBackoff time.Duration
	maxBytes               int64
	maxMessages            int
	maxBatch               int
	once                   bool
}

func (f *outboxFlags) register(fs *flag.FlagSet, run bool) {
	fs.StringVar(&f.spool, "spool", "", "spool `DIR` (created if missing)")
	fs.Int64Var(&f.maxBytes, "max-bytes", 0, "refuse to queue beyond `N` bytes in the spool (0: no limit)")
	fs.IntVar(&f.maxMessages, "max-messages", 0, "refuse to queue beyond `N` entries (0: no limit)")
	if !run {
		return
	}
	fs.IntVar(&f.concurrency, "concurrency", 1, "deliveries (connections) at once")
	fs.IntVar(&f.maxBatch, "max-batch", 1, "hand up to `N` due entries at once to one connection, pipelined (1: one by one)")
	fs.IntVar(&f.rate, "rate", 0, "send at most `N` messages per --rate-period (0: no limit; Exchange Online: 30 a minute)")
	fs.DurationVar(&f.ratePeriod, "rate-period", time.Minute, "the period of --rate")
	fs.DurationVar(&f.maxAge, "max-age", 24*time.Hour, "dead-letter an entry still failing temporarily after this long")
	fs.DurationVar(&f.minBackoff, "min-backoff", 30*time.Second, "delay after the first temporary failure (doubled each time)")
	fs.DurationVar(&f.maxBackoff, "max-backoff", 15*time.Minute, "longest delay between attempts")
	fs.BoolVar(&f.once, "once", false, "one pass over the entries due now, then exit")
}

func (f *outboxFlags) config(logger *slog.Logger) mailwarden.OutboxConfig {
	return mailwarden.OutboxConfig{Dir: f.spool, Logger: logger, MaxBytes: f.maxBytes, MaxMessages: f.maxMessages,
		Concurrency: f.concurrency, RateLimit: f.rate, RatePeriod: f.ratePeriod, MaxAge: f.maxAge,
		MinBackoff: f.minBackoff, MaxBackoff: f.maxBackoff, MaxBatch: f.maxBatch}
}

// runFlags are 'outbox run's flags, for the spool and the PostgreSQL
// store alike (one flag set, so that --help lists them all).
type runFlags struct {
	cf          connFlags
	of          outboxFlags
	pf          progressFlags
	sf          storeFlags
	node        string
	lease       time.Duration
	rateKey     string
	metricsAddr string
}

func (f *runFlags) register(fs *flag.FlagSet) {
	f.cf.register(fs)
	f.of.register(fs, true)
	f.pf.registerQuiet(fs)
	f.sf.register(fs)
	fs.StringVar(&f.node, "node-id", "", "with --store: this node's `NAME` in leases and events (default host/pid/random)")
	fs.DurationVar(&f.lease, "lease", time.Minute, "with --store: how long a claimed entry stays this node's without renewal")
	fs.StringVar(&f.rateKey, "rate-key", "", "with --store: the mailbox or relay `KEY` whose --rate all nodes share (default: the relay address)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics (/metrics) and /health on `ADDR` (host:port)")
}

const outboxRunHelp = `usage: smtpcheck outbox run (--spool DIR | --store REF) --server ADDR [flags]

Delivers the queue through the relay the connection flags describe, printing
every state change, until interrupted (or, with --once, after one pass).

With --spool DIR: the spool directory; one 'run' delivers it at a time. On a
terminal a status line on standard error shows the queue (--quiet: none);
SIGUSR1 (Unix) prints a full snapshot to standard error (see 'outbox status').

With --store REF: the PostgreSQL outbox, beside any other nodes running on the
same database (--node-id, --lease and --rate-key apply to it alone).

--metrics-addr ADDR serves the outbox's metrics in Prometheus text format on
/metrics (the same names for both stores) and /health.
`

// parseOutboxRun parses and checks 'outbox run's flags; done true: the
// help was printed or the flags are wrong, and code is the exit code.
// 'service install' checks the flags it will store with it.
func parseOutboxRun(e *env, args []string) (rf *runFlags, code int, done bool) {
	fs := flag.NewFlagSet("outbox run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	rf = &runFlags{}
	rf.register(fs)
	if code, done := parseFlags(fs, e, args, "outbox run", outboxRunHelp+outboxStoreHelp); done {
		return nil, code, true
	}
	if rf.sf.store != "" {
		return rf, 0, false
	}
	var storeOnly []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "node-id", "lease", "rate-key", "allow-unverified-tls":
			storeOnly = append(storeOnly, "--"+f.Name)
		}
	})
	if len(storeOnly) > 0 {
		fmt.Fprintf(e.stderr, "smtpcheck outbox run: %s: only with --store\n", strings.Join(storeOnly, ", "))
		return nil, exitUsage, true
	}
	if rf.of.spool == "" {
		fmt.Fprintln(e.stderr, "smtpcheck outbox run: --spool or --store is required")
		return nil, exitUsage, true
	}
	return rf, 0, false
}

func runOutboxRun(ctx context.Context, e *env, args []string) int {
	rf, code, done := parseOutboxRun(e, args)
	if done {
		return code
	}
	if rf.sf.store != "" {
		return runOutboxStoreRun(ctx, e, rf)
	}
	cf, of, pf := &rf.cf, &rf.of, rf.pf
	cf.maxIdle = of.concurrency // every delivery keeps its connection
	s, code := newSender(ctx, e, cf, "outbox run")
	if s == nil {
		return code
	}
	defer closeSender(e, s, "outbox run")
	disp := newDisplay(e, "outbox run", pf, cf.json || cf.transcript == "-")
	var h slog.Handler = &eventPrinter{w: &aboveDisplay{d: disp, w: e.stdout}}
	if cf.json {
		h = slog.NewJSONHandler(e.stdout, nil)
	}
	rs := newRunStatus(disp, of.spool)
	cfg := of.config(slog.New(outboxOnly{statusHandler{rs, h}}))
	var exp *promtext.Exporter
	if rf.metricsAddr != "" {
		exp = promtext.New()
		cfg.MeterProvider = exp.Provider
	}
	o, err := s.OpenOutbox(cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck outbox run: %s\n", errLine(err))
		return exitCheck
	}
	defer o.Close()
	if exp != nil {
		stop, code := serveMetrics(e, rf.metricsAddr, exp, func(ctx context.Context) error { _, err := o.Depth(ctx); return err })
		if stop == nil {
			return code
		}
		defer stop()
	}
	rs.list, rs.quar = o.List, o.Quarantined
	stopWatch := rs.start(ctx, e.stderr)
	defer stopWatch()
	if of.once {
		st, err := o.RunOnce(ctx)
		stopWatch()
		if err != nil {
			fmt.Fprintf(e.stderr, "smtpcheck outbox run: %s\n", errLine(err))
			return exitCheck
		}
		fmt.Fprintf(e.stderr, "delivered %d, deferred %d, dead %d, quarantined %d\n", st.Delivered, st.Deferred, st.Dead, st.Quarantined)
		switch {
		case st.Dead > 0:
			return exitRejected
		case st.Deferred > 0:
			return exitTemporary
		}
		return exitOK
	}
	if e.ready != nil {
		e.ready()
	}
	err = o.Run(ctx)
	stopWatch()
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stderr, "smtpcheck outbox run: %s\n", errLine(err))
		return exitCheck
	}
	return exitOK
}

// serveMetrics serves exp's /metrics and /health (health says whether the
// store can be read) on addr and says where on stderr; stop ends it. A nil
// stop comes with the exit code.
func serveMetrics(e *env, addr string, exp *promtext.Exporter, health func(context.Context) error) (func(), int) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck outbox run: --metrics-addr: %s\n", errLine(err))
		return nil, exitUsage
	}
	srv := &http.Server{Handler: exp.Handler(health), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Fprintf(e.stderr, "metrics on http://%s/metrics\n", ln.Addr())
	return func() { srv.Close() }, 0
}

func runOutboxEnqueue(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("outbox enqueue", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cf connFlags
	cf.register(fs)
	mf := addMessageFlags(fs)
	mf.stdin = e.stdin
	var sf smimeFlags
	sf.register(fs)
	var of outboxFlags
	of.register(fs, false)
	var pf progressFlags
	pf.register(fs)
	var stf storeFlags
	stf.register(fs)
	if code, done := parseFlags(fs, e, args, "outbox enqueue", "usage: smtpcheck outbox enqueue (--spool DIR | --store REF) --server ADDR --from ADDRESS --to LIST [flags]\n\nBuilds a message as send does (the profile's S/MIME included) and queues it\ndurably, in the spool directory or (--store) the PostgreSQL outbox;\n'outbox run' delivers it."+outboxStoreHelp); done {
		return code
	}
	switch {
	case of.spool != "" && stf.store != "":
		fmt.Fprintln(e.stderr, "smtpcheck outbox enqueue: --spool and --store exclude each other")
		return exitUsage
	case of.spool == "" && stf.store == "":
		fmt.Fprintln(e.stderr, "smtpcheck outbox enqueue: --spool or --store is required")
		return exitUsage
	}
	cf.smime = sf.config()
	disp := newDisplay(e, "outbox enqueue", pf, cf.json)
	cf.progress = disp.sendProgress()
	s, code := newSender(ctx, e, &cf, "outbox enqueue")
	if s == nil {
		return code
	}
	defer closeSender(e, s, "outbox enqueue")
	var enqueue func(context.Context, *envelope.Message) (mailwarden.OutboxEntry, error)
	if stf.store != "" {
		pool, code := stf.pool(ctx, e, "enqueue")
		if pool == nil {
			return code
		}
		defer pool.Close()
		o, err := s.OpenPostgresOutbox(ctx, pool, mailwarden.PostgresConfig{})
		if err != nil {
			fmt.Fprintf(e.stderr, "smtpcheck outbox enqueue: %s\n", errLine(err))
			return exitCheck
		}
		defer o.Close()
		enqueue = o.Enqueue
	} else {
		o, err := s.OpenOutbox(of.config(nil))
		if err != nil {
			fmt.Fprintf(e.stderr, "smtpcheck outbox enqueue: %s\n", errLine(err))
			return exitCheck
		}
		defer o.Close()
		enqueue = o.Enqueue
	}
	msg, err := mf.build()
	defer mf.close()
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck outbox enqueue: %s\n", errLine(err))
		return exitUsage
	}
	en, err := enqueue(ctx, msg)
	disp.clear()
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck outbox enqueue: %s\n", errLine(err))
		var oe *mailwarden.OutboxError
		if errors.As(err, &oe) {
			return exitCheck
		}
		return exitUsage
	}
	if cf.json {
		writeJSON(e.stdout, map[string]any{"id": en.ID, "message_id": en.Envelope.MessageID, "size": en.Envelope.Size})
	} else {
		fmt.Fprintf(e.stdout, "queued %s <%s> (%d bytes)\n", en.ID, en.Envelope.MessageID, en.Envelope.Size)
	}
	return exitOK
}

// outboxOnly passes on the outbox's own records, not the transport's.
type outboxOnly struct{ slog.Handler }

func (h outboxOnly) Handle(ctx context.Context, r slog.Record) error {
	if !strings.HasPrefix(r.Message, "outbox.") {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h outboxOnly) WithAttrs(a []slog.Attr) slog.Handler { return outboxOnly{h.Handler.WithAttrs(a)} }
func (h outboxOnly) WithGroup(g string) slog.Handler      { return outboxOnly{h.Handler.WithGroup(g)} }

// eventPrinter prints outbox events as one human line each.
type eventPrinter struct {
	w     io.Writer
	attrs []slog.Attr
}

func (p *eventPrinter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (p *eventPrinter) WithAttrs(a []slog.Attr) slog.Handler {
	return &eventPrinter{w: p.w, attrs: append(append([]slog.Attr(nil), p.attrs...), a...)}
}
func (p *eventPrinter) WithGroup(string) slog.Handler { return p }
func (p *eventPrinter) Handle(_ context.Context, r slog.Record) error {
	if !strings.HasPrefix(r.Message, "outbox.") {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-19s", r.Time.UTC().Format("15:04:05"), r.Message)
	var walk func(prefix string, a slog.Attr)
	walk = func(prefix string, a slog.Attr) {
		if a.Value.Kind() == slog.KindGroup {
			for _, g := range a.Value.Group() {
				walk(prefix, g)
			}
			return
		}
		if a.Key == "profile" {
			return
		}
		fmt.Fprintf(&b, " %s=%s", prefix+a.Key, term(a.Value.String()))
	}
	r.Attrs(func(a slog.Attr) bool { walk("", a); return true })
	fmt.Fprintln(p.w, b.String())
	return nil
}
