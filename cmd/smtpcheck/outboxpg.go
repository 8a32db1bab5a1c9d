package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailwarden"
	"mailwarden/audit"
	"mailwarden/internal/promtext"
)

const outboxStoreHelp = `
With --store REF the commands work on an outbox kept in PostgreSQL instead
of a spool directory (several 'run' nodes may share it). REF is a secret
reference to the connection string (env:NAME, file:PATH) or a postgres://
URL without a password (give that through PGPASSWORD or ~/.pgpass). A
database on another host needs sslmode=verify-full unless
--allow-unverified-tls says otherwise. 'migrate' creates or upgrades its
schema (run and the others also do, at start).`

// usesStore reports whether args select the PostgreSQL store.
func usesStore(args []string) bool {
	for _, a := range args {
		n := strings.TrimLeft(a, "-")
		if strings.HasPrefix(a, "-") && (n == "store" || strings.HasPrefix(n, "store=")) {
			return true
		}
	}
	return false
}

// storeFlags are the flags that reach the database.
type storeFlags struct {
	store      string
	unverified bool
	conns      int32 // connections a worker needs
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.store, "store", "", "PostgreSQL outbox: secret `REF` to the connection string (env:NAME, file:PATH) or a postgres:// URL without a password")
	fs.BoolVar(&f.unverified, "allow-unverified-tls", false, "accept a database on another host without sslmode=verify-full")
}

func (f *storeFlags) pool(ctx context.Context, e *env, name string) (*pgxpool.Pool, int) {
	if f.store == "" {
		fmt.Fprintf(e.stderr, "smtpcheck outbox %s: --store is required\n", name)
		return nil, exitUsage
	}
	p, err := mailwarden.OpenPostgresPool(ctx, mailwarden.PostgresConn{Store: f.store, AllowUnverifiedTLS: f.unverified, Getenv: e.getenv, MaxConns: f.conns})
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck outbox %s: %s\n", name, errLine(err))
		if errors.Is(err, mailwarden.ErrSecretUnresolved) {
			return nil, exitUsage
		}
		return nil, exitCheck
	}
	return p, 0
}

// runOutboxStore runs an outbox command on the PostgreSQL store.
func runOutboxStore(ctx context.Context, e *env, name string, args []string) int {
	switch name {
	case "migrate":
		return runOutboxMigrate(ctx, e, args)
	case "list":
		return runOutboxStoreList(ctx, e, args)
	case "retry", "purge":
		return runOutboxStoreAct(ctx, e, name, args)
	}
	fmt.Fprintf(e.stderr, "smtpcheck outbox %s: not available with --store (migrate, list, retry, purge, enqueue and run are)\n", name)
	return exitUsage
}

func runOutboxMigrate(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("outbox migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sf storeFlags
	sf.register(fs)
	if code, done := parseFlags(fs, e, args, "outbox migrate", "usage: smtpcheck outbox migrate --store REF\n\nCreates or upgrades the PostgreSQL outbox's schema (versioned, idempotent,\nsafe when several nodes start at once)."+outboxStoreHelp); done {
		return code
	}
	pool, code := sf.pool(ctx, e, "migrate")
	if pool == nil {
		return code
	}
	defer pool.Close()
	from, to, err := mailwarden.MigratePostgres(ctx, pool)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck outbox migrate: %s\n", errLine(err))
		return exitCheck
	}
	if from == to {
		fmt.Fprintf(e.stdout, "schema version %d: up to date\n", to)
	} else {
		fmt.Fprintf(e.stdout, "schema version %d -> %d\n", from, to)
	}
	return exitOK
}

func openStore(ctx context.Context, e *env, sf *storeFlags, name string, trail *audit.Handler) (*mailwarden.PostgresStore, func(), int) {
	pool, code := sf.pool(ctx, e, name)
	if pool == nil {
		return nil, nil, code
	}
	var h slog.Handler = &eventPrinter{w: e.stderr}
	if trail != nil {
		h = slog.NewMultiHandler(h, trail)
	}
	var cfg mailwarden.PostgresConfig
	cfg.Logger = slog.New(h)
	st, err := mailwarden.OpenPostgresStore(ctx, pool, cfg)
	if err != nil {
		pool.Close()
		fmt.Fprintf(e.stderr, "smtpcheck outbox %s: %s\n", name, errLine(err))
		return nil, nil, exitCheck
	}
	return st, pool.Close, 0
}

func runOutboxStoreList(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("outbox list", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sf storeFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := parseFlags(fs, e, args, "outbox list", "usage: smtpcheck outbox list --store REF [--json]"+outboxStoreHelp); done {
		return code
	}
	st, done, code := openStore(ctx, e, &sf, "list", nil)
	if st == nil {
		return code
	}
	defer done()
	list, err := st.List(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck outbox list: %s\n", errLine(err))
		return exitCheck
	}
	if *asJSON {
		out := listJSON{Entries: []entryJSON{}, Quarantined: []string{}}
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
	states := make([]string, len(list))
	for i, en := range list {
		states[i] = string(en.State)
		next, state, last := "-", string(en.State), en.LastError
		if !en.NextAttempt.IsZero() {
			next = en.NextAttempt.UTC().Format(time.RFC3339)
		}
		if en.Reason != "" {
			state += " (" + en.Reason + ")"
		}
		if last == "" {
			last = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", en.ID, state, en.Attempts, next, term(en.Envelope.MessageID),
			term(strings.Join(en.Envelope.To, ",")), term(last))
	}
	tw.Flush()
	fmt.Fprintln(e.stdout, stateSummary(states))
	return exitOK
}

func runOutboxStoreAct(ctx context.Context, e *env, name string, args []string) int {
	id, rest := splitID(args)
	fs := flag.NewFlagSet("outbox "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sf storeFlags
	sf.register(fs)
	var af auditFlags
	af.register(fs)
	if code, done := parseFlags(fs, e, rest, "outbox "+name, "usage: smtpcheck outbox "+name+" --store REF [audit flags] ID"+outboxStoreHelp); done {
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
	st, done, code := openStore(ctx, e, &sf, name, tracked)
	if st == nil {
		return code
	}
	defer done()
	var err error
	if name == "retry" {
		err = st.Retry(ctx, id)
	} else {
		err = st.Purge(ctx, id)
	}
	return entryActionDone(ctx, e, name, id, tracked, err)
}

// runOutboxStoreRun is 'outbox run --store'.
func runOutboxStoreRun(ctx context.Context, e *env, rf *runFlags) int {
	cf, of, sf := &rf.cf, &rf.of, &rf.sf
	if of.spool != "" {
		fmt.Fprintln(e.stderr, "smtpcheck outbox run: --spool and --store exclude each other")
		return exitUsage
	}
	cf.maxIdle = of.concurrency
	s, code := newSender(ctx, e, cf, "outbox run")
	if s == nil {
		return code
	}
	defer closeSender(e, s, "outbox run")
	sf.conns = int32(max(of.concurrency, 1) + 2)
	pool, code := sf.pool(ctx, e, "run")
	if pool == nil {
		return code
	}
	defer pool.Close()
	var h slog.Handler = &eventPrinter{w: e.stdout}
	if cf.json {
		h = slog.NewJSONHandler(e.stdout, nil)
	}
	cfg := mailwarden.PostgresConfig{Config: of.config(slog.New(outboxOnly{h})), NodeID: rf.node, Lease: rf.lease, RateKey: rf.rateKey}
	cfg.Dir = ""
	if cfg.RateKey == "" {
		cfg.RateKey = strings.Join(cf.p.Servers, ",")
	}
	var exp *promtext.Exporter
	if rf.metricsAddr != "" {
		exp = promtext.New()
		cfg.MeterProvider = exp.Provider
	}
	o, err := s.OpenPostgresOutbox(ctx, pool, cfg)
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
	if of.once {
		st, err := o.RunOnce(ctx)
		if err != nil {
			fmt.Fprintf(e.stderr, "smtpcheck outbox run: %s\n", errLine(err))
			return exitCheck
		}
		fmt.Fprintf(e.stderr, "delivered %d, deferred %d, dead %d\n", st.Delivered, st.Deferred, st.Dead)
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
	if err := o.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stderr, "smtpcheck outbox run: %s\n", errLine(err))
		return exitCheck
	}
	return exitOK
}
