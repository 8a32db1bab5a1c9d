package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"mailwarden"
	"mailwarden/envelope"
)

// diagFlags are the swaks-style session flags that bindProfile cannot
// bind one flag to one field: -4 and -6 for every command that connects
// (two flags, one field), --quit-after for probe and send, the DSN ones for
// send only. --source-address, --tls-min-version and --tls-server-name are
// plain profile fields, bound in bindProfile.
type diagFlags struct {
	quitAfter     string
	ipv4, ipv6    bool
	saveCert      string
	dsnNotify     string
	dsnRet        string
	dsnEnvID      string
	dsnRequire    bool
	registeredDSN bool
}

func (d *diagFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&d.ipv4, "4", false, "connect over IPv4 only (to the relay, or to the proxy when there is one)")
	fs.BoolVar(&d.ipv6, "6", false, "connect over IPv6 only (to the relay, or to the proxy when there is one)")
}

// registerQuitAfter adds --quit-after (probe, send).
func (d *diagFlags) registerQuitAfter(fs *flag.FlagSet) {
	fs.StringVar(&d.quitAfter, "quit-after", "", "end the session after `STEP` and send nothing: connect, tls, ehlo, auth, mail (MAIL FROM), rcpt (RCPT TO each recipient; send only)")
}

// registerDSN adds the DSN flags (send).
func (d *diagFlags) registerDSN(fs *flag.FlagSet) {
	d.registeredDSN = true
	fs.StringVar(&d.dsnNotify, "dsn-notify", "", "ask for delivery status notifications (RFC 3461) `WHEN`: never, or a list of success, failure, delay")
	fs.StringVar(&d.dsnRet, "dsn-ret", "", "what a notification returns: full or hdrs (`RET`)")
	fs.StringVar(&d.dsnEnvID, "dsn-envid", "", "envelope `ID` that notifications quote (ENVID)")
	fs.BoolVar(&d.dsnRequire, "dsn-require", false, "fail when the server does not offer DSN instead of sending without it")
}

// apply copies the flags given onto p (a profile from flags or a file).
func (d *diagFlags) apply(fs *flag.FlagSet, p *mailwarden.Profile) error {
	if d.ipv4 && d.ipv6 {
		return errors.New("use either -4 or -6, not both")
	}
	switch {
	case d.ipv4:
		p.IPVersion = 4
	case d.ipv6:
		p.IPVersion = 6
	}
	set := func(name string, dst *string, v string) {
		if flagGiven(fs, name) {
			*dst = v
		}
	}
	if d.registeredDSN {
		if flagGiven(fs, "dsn-notify") {
			p.DSN.Notify = nil
			for _, n := range strings.Split(d.dsnNotify, ",") {
				if n = strings.TrimSpace(n); n != "" {
					p.DSN.Notify = append(p.DSN.Notify, n)
				}
			}
		}
		set("dsn-ret", &p.DSN.Return, d.dsnRet)
		set("dsn-envid", &p.DSN.EnvID, d.dsnEnvID)
		if flagGiven(fs, "dsn-require") {
			p.DSN.Require = d.dsnRequire
		}
	}
	return nil
}

// rehearse runs a session that quits after --quit-after and prints it as
// probe does. m is the message whose envelope mail and rcpt rehearse (nil
// for probe). A refused recipient gives the exit code of a refusal.
func rehearse(ctx context.Context, e *env, s *mailwarden.Sender, cf *connFlags, name string, m *envelope.Message) int {
	rep, err := s.Rehearse(ctx, cf.diag.quitAfter, m)
	if ce := (*mailwarden.ConfigError)(nil); errors.As(err, &ce) && rep == nil {
		fmt.Fprintf(e.stderr, "smtpcheck %s: --quit-after: %s\n", name, term(ce.Err.Error()))
		return exitUsage
	}
	if cf.json {
		writeJSON(e.stdout, probeJSON(rep, err))
	} else {
		printProbe(e.stdout, rep)
	}
	if err != nil {
		return report(e, name, err)
	}
	code := exitOK
	for _, sp := range rep.Servers {
		for _, r := range sp.Recipients {
			switch {
			case r.Reply.Code/100 == 5:
				fmt.Fprintf(e.stderr, "smtpcheck %s: %s refused: %s\n", name, r.Addr, term(r.Reply.String()))
				code = exitRejected
			case r.Reply.Code/100 != 2:
				fmt.Fprintf(e.stderr, "smtpcheck %s: %s not accepted now: %s\n", name, r.Addr, term(r.Reply.String()))
				if code == exitOK {
					code = exitTemporary
				}
			}
		}
	}
	return code
}

// checkQuitAfterFlags refuses --quit-after with --test or --data, which
// send a message as it is.
func checkQuitAfterFlags(e *env, test, data bool, quitAfter string) (int, bool) {
	if quitAfter == "" || (!test && !data) {
		return 0, false
	}
	other := "--test"
	if data {
		other = "--data"
	}
	fmt.Fprintf(e.stderr, "smtpcheck send: --quit-after rehearses a message built from the flags; it does not combine with %s\n", other)
	return exitUsage, true
}
