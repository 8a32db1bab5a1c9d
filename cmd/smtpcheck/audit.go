package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"mailwarden"
	"mailwarden/audit"
)

const auditUsage = `usage: smtpcheck audit verify [--key-file FILE] [--allow-open] [--anchor ANCHOR] FILE...
       smtpcheck audit report [flags] FILE...   (see 'smtpcheck audit report --help')

Checks the hash chain of an audit trail written with --audit-file: every
record's hash, its link to the record before it, and the sequence numbers,
across all the given files (rotated files and the active one, in any order).
It reports the first record that was edited, removed, inserted, reordered or
spliced in, and a trail cut short.

A writer that was killed (or whose disk filled up) leaves a file without
its seal; the next writer records that in its first record (reason crash or
recover, with the last intact seq and hash). verify reports such a recorded
gap as a fact, not tampering ("gap: ..."), and goes on checking the rest;
the record being written at that moment may be lost.

A trail is complete when it ends with the seal record written when the
writer closed it. A file still being written has no seal yet: --allow-open
accepts a trail whose only fault is a missing seal after a whole record, and
prints the last sequence number and hash so they can be compared with an
anchor kept elsewhere.

Every writer leaves a sealed end, so a trail whose newest files were
deleted still verifies. --anchor catches that: it checks that the trail
reaches the anchor (the head seq and hash kept in a second place, see
--audit-anchor and the chain_seq/chain_hash of the syslog records) and has
the anchor's hash at its seq. It proves that nothing up to the anchor was
cut off or replaced; it proves nothing about records after the anchor, nor
against someone who could rewrite both the trail and the anchor.

Flags:
  --key-file FILE  the HMAC key file the trail was written with
                   (--audit-key-file); needed for a keyed trail
  --allow-open     accept a trail without its closing seal
  --anchor ANCHOR  an anchor file (--audit-anchor), a collector's log file
                   holding the trail's syslog records (the highest
                   chain_seq with its chain_hash is used), or SEQ:HASH
  --quiet          no progress line on a terminal (standard error)
  --verbose        not on a terminal: one progress line per file to
                   standard error

Exit codes: 0 intact, 1 tampered, cut short, or ending before (or not
matching) its anchor, 2 usage or unreadable input (an unreadable anchor too).
`

func runAudit(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, auditUsage)
		return exitUsage
	}
	if isHelp(args[0]) {
		fmt.Fprint(e.stdout, auditUsage)
		return exitOK
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(e, args[1:])
	case "report":
		return runAuditReport(e, args[1:])
	}
	fmt.Fprintf(e.stderr, "smtpcheck audit: unknown command %q\n\n", args[0])
	fmt.Fprint(e.stderr, auditUsage)
	return exitUsage
}

func runAuditVerify(e *env, args []string) int {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	keyFile := fs.String("key-file", "", "")
	fs.StringVar(keyFile, "audit-key-file", "", "")
	allowOpen := fs.Bool("allow-open", false, "")
	anchorArg := fs.String("anchor", "", "")
	var pf progressFlags
	pf.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, auditUsage)
			return exitOK
		}
		fmt.Fprintf(e.stderr, "smtpcheck audit verify: %v\n\n%s", err, auditUsage)
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(e.stderr, "smtpcheck audit verify: no files\n\n%s", auditUsage)
		return exitUsage
	}
	var key []byte
	if *keyFile != "" {
		var err error
		if key, err = audit.LoadKey(*keyFile); err != nil {
			fmt.Fprintf(e.stderr, "smtpcheck audit verify: %v\n", err)
			return exitUsage
		}
	}
	var rep *audit.Report
	var err error
	anchorOK := ""
	if *anchorArg != "" {
		a, aerr := audit.ParseAnchor(*anchorArg)
		if aerr != nil {
			a, aerr = audit.ReadAnchor(*anchorArg)
		}
		if aerr != nil {
			fmt.Fprintf(e.stderr, "smtpcheck audit verify: --anchor: %s\n", term(aerr.Error()))
			return exitUsage
		}
		tp := newTrailProgress(newDisplay(e, "audit verify", pf, false), "checking", fs.Args())
		rep, err = audit.VerifyAnchorProgress(key, a, tp.callback(), fs.Args()...)
		tp.done()
		var ae *audit.AnchorError
		if errors.As(err, &ae) {
			fmt.Fprintf(e.stderr, "smtpcheck audit verify: %s\n", term(ae.Error()))
			if rep != nil && rep.Records > 0 {
				fmt.Fprintf(e.stderr, "  the files hold records %d to %d (last hash %s); without --anchor they would verify\n", rep.FirstSeq, rep.LastSeq, rep.LastHash)
			}
			return exitCheck
		}
		if rep != nil && rep.LastSeq >= a.Seq {
			anchorOK = fmt.Sprintf("anchor: record %d of the trail matches the anchor from %s (%d record(s) after it)\n", a.Seq, term(a.Source), rep.LastSeq-a.Seq)
		}
	} else {
		tp := newTrailProgress(newDisplay(e, "audit verify", pf, false), "checking", fs.Args())
		rep, err = audit.VerifyProgress(key, tp.callback(), fs.Args()...)
		tp.done()
	}
	var te *audit.TamperError
	switch {
	case err == nil:
		fmt.Fprintf(e.stdout, "ok: %d records, seq %d to %d, %d file(s), %s, sealed\n", rep.Records, rep.FirstSeq, rep.LastSeq, len(rep.Files), rep.Alg)
	case errors.As(err, &te) && te.Tail && *allowOpen:
		fmt.Fprintf(e.stdout, "ok (open): %d records, seq %d to %d, %d file(s), %s, not sealed; last hash %s\n", rep.Records, rep.FirstSeq, rep.LastSeq, len(rep.Files), rep.Alg, rep.LastHash)
	case te != nil:
		fmt.Fprintf(e.stderr, "smtpcheck audit verify: %s line %d: record %d %s: %s\n", te.File, te.Line, te.Seq, te.Kind, term(te.Detail))
		if rep != nil && rep.Records > 0 {
			fmt.Fprintf(e.stderr, "  %d records before it are intact (seq %d to %d)\n", rep.Records, rep.FirstSeq, rep.LastSeq)
		}
		if rep != nil {
			printGaps(e.stderr, rep.Gaps)
		}
		return exitCheck
	default:
		fmt.Fprintf(e.stderr, "smtpcheck audit verify: %v\n", err)
		return exitUsage
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(e.stdout, "warning: %s\n", term(w))
	}
	printGaps(e.stdout, rep.Gaps)
	if rep.Records > 0 && !rep.Anchored {
		fmt.Fprintf(e.stdout, "note: the trail starts at seq %d, linked to an earlier record that is not among the files (rotated out by retention?)\n", rep.FirstSeq)
	}
	fmt.Fprint(e.stdout, anchorOK)
	return exitOK
}

// auditFlags are the audit flags of the commands that record without a
// Sender (outbox retry and purge); see bindAudit.
type auditFlags struct{ mailwarden.AuditConfig }

func (a *auditFlags) register(fs *flag.FlagSet) { bindAudit(fs, &a.AuditConfig) }

// handler builds the audit Handler the flags describe, or returns nil when
// no sink was asked for. Under --audit-fail-open each failure is printed to
// stderr. Errors are configuration errors (exit 2), except a trail that
// cannot be opened, which wraps mailwarden.ErrAuditFailed (exit 1).
func (a *auditFlags) handler(ctx context.Context, stderr io.Writer) (*audit.Handler, error) {
	if a.KeyFile != "" && a.File == "" {
		return nil, errors.New("--audit-key-file needs --audit-file")
	}
	if a.AnchorFile != "" && a.File == "" {
		return nil, errors.New("--audit-anchor needs --audit-file")
	}
	cfg := audit.Config{Syslog: a.Syslog, EventLog: a.EventLog}
	if a.File != "" {
		cfg.File = &audit.FileConfig{Path: a.File, AnchorFile: a.AnchorFile}
		if a.KeyFile != "" {
			key, err := audit.LoadKey(a.KeyFile)
			if err != nil {
				return nil, err
			}
			cfg.File.Key = key
		}
	}
	if cfg.File == nil && cfg.Syslog == "" && cfg.EventLog == "" {
		return nil, nil
	}
	if a.FailOpen {
		cfg.Policy = audit.FailOpen
		cfg.OnError = func(err error) { fmt.Fprintf(stderr, "smtpcheck: audit: %s\n", term(err.Error())) }
	}
	if a.Syslog != "" {
		sc, err := audit.ParseSyslogURL(a.Syslog)
		if err != nil {
			return nil, err
		}
		if !a.FailOpen && !sc.CanFailClose() {
			return nil, fmt.Errorf("--syslog: %w (%s)", audit.ErrSyslogFailOpenOnly, sc.Network)
		}
	}
	h, err := audit.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (it cannot be opened): %w", mailwarden.ErrAuditFailed, err)
	}
	return h, nil
}

// printGaps prints the breaks the writer recorded itself.
func printGaps(w io.Writer, gaps []audit.Gap) {
	for _, g := range gaps {
		torn := ""
		if g.Torn {
			torn = ", a partial line after it set aside"
		}
		fmt.Fprintf(w, "gap: %s ends without its seal after record %d (%s recorded at record %d%s); the record being written then may be lost\n",
			g.File, g.LastSeq, g.Reason, g.At, torn)
	}
}
