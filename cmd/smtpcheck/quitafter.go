package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"mailwarden"
	"mailwarden/envelope"
)

// diagFlags are the swaks-style session flags probe and send share.
type diagFlags struct {
	quitAfter string
}

func (d *diagFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.quitAfter, "quit-after", "", "end the session after `STEP` and send nothing: connect, tls, ehlo, auth, mail (MAIL FROM), rcpt (RCPT TO each recipient; send only)")
}

// rehearse runs a session that quits after --quit-after and prints it as
// probe does. m is the message whose envelope mail and rcpt rehearse (nil
// for probe). A refused recipient gives the exit code of a refusal.
func rehearse(ctx context.Context, e *env, s *mailwarden.Sender, cf *connFlags, name string, m *envelope.Message) int {
	rep, err := s.Rehearse(ctx, cf.diag.quitAfter, m)
	if ce := (*mailwarden.ConfigError)(nil); errors.As(err, &ce) && rep == nil {
		fmt.Fprintf(e.stderr, "smtpcheck %s: --quit-after: %s\n", name, oneLine(ce.Err.Error()))
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
				fmt.Fprintf(e.stderr, "smtpcheck %s: %s refused: %s\n", name, r.Addr, oneLine(r.Reply.String()))
				code = exitRejected
			case r.Reply.Code/100 != 2:
				fmt.Fprintf(e.stderr, "smtpcheck %s: %s not accepted now: %s\n", name, r.Addr, oneLine(r.Reply.String()))
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
