package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"mailwarden"
	"mailwarden/headers"
)

func runSend(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cf connFlags
	cf.register(fs)
	mf := addMessageFlags(fs)
	mf.stdin = e.stdin
	var sf smimeFlags
	sf.register(fs)
	tf := addTemplateFlags(fs)
	data := fs.String("data", "", "send the ready RFC 5322 message in `FILE` ('-' for standard input) instead of building one; --from and --to/--cc/--bcc give the envelope")
	cf.diag.registerQuitAfter(fs)
	cf.diag.registerDSN(fs)
	var pf progressFlags
	pf.register(fs)
	test := fs.Bool("test", false, "send the canned test message (\"Send test email\") from --from or the profile's from, to --to/--cc/--bcc or the profile's default to and cc; the audit trail marks it test: true")
	if code, done := parseFlags(fs, e, args, "send", sendUsage); done {
		return code
	}
	if *test {
		if code, bad := checkTestFlags(e, fs); bad {
			return code
		}
	}
	if code, bad := checkQuitAfterFlags(e, *test, *data != "", cf.diag.quitAfter); bad {
		return code
	}
	cf.smime = sf.config()
	cf.from = mf.from
	// --transcript - writes the conversation to the terminal as it goes:
	// no status line between its lines.
	disp := newDisplay(e, "send", pf, cf.json || cf.transcript == "-")
	cf.progress = disp.sendProgress()
	s, code := newSender(ctx, e, &cf, "send")
	if s == nil {
		return code
	}
	defer closeSender(e, s, "send")
	if strings.TrimSpace(mf.from) == "" {
		mf.from = s.Profile().From // a profile's sender identity
	}

	var res *mailwarden.Result
	var err error
	var msgID string
	if *test {
		res, msgID, err = sendTest(ctx, s, mf)
		if ue := (usageError{}); errors.As(err, &ue) {
			fmt.Fprintf(e.stderr, "smtpcheck send: %s\n", term(ue.Error()))
			return exitUsage
		}
	} else if *data != "" {
		from, rcpts, perr := rawEnvelope(mf)
		if perr != nil {
			fmt.Fprintf(e.stderr, "smtpcheck send: %s\n", errLine(perr))
			return exitUsage
		}
		var r io.Reader = e.stdin
		if *data != "-" {
			f, oerr := os.Open(*data)
			if oerr != nil {
				fmt.Fprintf(e.stderr, "smtpcheck send: --data: %s\n", errLine(oerr))
				return exitUsage
			}
			defer f.Close()
			r = f
		}
		idr := &messageIDReader{r: r}
		res, err = s.SendRaw(ctx, from, rcpts, idr)
		msgID = idr.id()
	} else {
		msg, berr := mf.build()
		defer mf.close()
		if berr == nil {
			berr = tf.apply(msg, mf, e.stdin)
		}
		if berr != nil {
			fmt.Fprintf(e.stderr, "smtpcheck send: %s\n", errLine(berr))
			return exitUsage
		}
		if cf.diag.quitAfter != "" {
			return rehearse(ctx, e, s, &cf, "send", msg)
		}
		res, err = s.Send(ctx, msg)
		msgID = msg.MessageID
	}
	disp.clear()
	if cf.json {
		out := sendJSON(res, err)
		out.MessageID = msgID
		out.Unencrypted = res != nil && res.TLS == "none"
		writeJSON(e.stdout, out)
	} else {
		printResult(e.stdout, res)
		printSendExtras(e, s.PlaintextByChoice(), res, msgID)
	}
	return report(e, "send", err)
}

// rawEnvelope takes the envelope of a --data message from the flags.
func rawEnvelope(mf *messageFlags) (string, []string, error) {
	from, err := headers.ParseAddress(mf.from)
	if err != nil {
		return "", nil, fmt.Errorf("--from: %w", err)
	}
	var rcpts []string
	// RCPT TO goes in the order given: --to, then --cc, then --bcc.
	for _, f := range []struct{ name, list string }{{"to", mf.to}, {"cc", mf.cc}, {"bcc", mf.bcc}} {
		name, list := f.name, f.list
		if strings.TrimSpace(list) == "" {
			continue
		}
		addrs, err := headers.ParseAddressList(list)
		if err != nil {
			return "", nil, fmt.Errorf("--%s: %w", name, err)
		}
		for _, a := range addrs {
			rcpts = append(rcpts, a.Addr)
		}
	}
	if len(rcpts) == 0 {
		return "", nil, fmt.Errorf("--data needs at least one of --to, --cc or --bcc")
	}
	return from.Addr, rcpts, nil
}

func printResult(w io.Writer, res *mailwarden.Result) {
	if res == nil {
		return
	}
	for _, r := range res.Recipients {
		fmt.Fprintf(w, "rcpt      %-30s %s\n", term(r.Addr), term(r.Reply.String()))
	}
	if res.Reply.Code != 0 {
		fmt.Fprintf(w, "reply     %s\n", term(res.Reply.String()))
	}
	if res.QueueID != "" {
		fmt.Fprintf(w, "queue id  %s\n", term(res.QueueID))
	}
	var how []string
	if res.Pipelined {
		how = append(how, "pipelined")
	}
	if res.UsedBDAT {
		how = append(how, "BDAT")
	}
	if res.Reply.Code/100 != 2 {
		return // not sent: the error says why
	}
	fmt.Fprintf(w, "sent      %d bytes to %s in %s (%d attempt(s)) %s\n", res.Size, term(res.Server), ms(res.Duration), res.Attempts, term(strings.Join(how, ", ")))
}

type rcptJSON struct {
	Addr     string `json:"addr"`
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced,omitempty"`
	Text     string `json:"text"`
}

type sendOut struct {
	OK         bool       `json:"ok"`
	Server     string     `json:"server,omitempty"`
	Recipients []rcptJSON `json:"rcpts,omitempty"`
	Code       int        `json:"code,omitempty"`
	Enhanced   string     `json:"enhanced,omitempty"`
	Text       string     `json:"text,omitempty"`
	QueueID    string     `json:"queue_id,omitempty"`
	MessageID  string     `json:"message_id,omitempty"`
	// Unencrypted is true when the message went without TLS.
	Unencrypted bool       `json:"unencrypted,omitempty"`
	Size        int64      `json:"size,omitempty"`
	Pipelined   bool       `json:"pipelined,omitempty"`
	Chunking    bool       `json:"chunking,omitempty"`
	Attempts    int        `json:"attempts,omitempty"`
	DurationMS  int64      `json:"duration_ms,omitempty"`
	Error       *errorJSON `json:"error,omitempty"`
}

func replyParts(r mailwarden.Reply) (int, string, string) {
	enh := ""
	if !r.Enhanced.IsZero() {
		enh = r.Enhanced.String()
	}
	return r.Code, enh, r.Text
}

func sendJSON(res *mailwarden.Result, err error) sendOut {
	out := sendOut{OK: err == nil, Error: errJSON(err)}
	if res == nil {
		return out
	}
	out.Server, out.QueueID, out.Size, out.Pipelined, out.Chunking, out.Attempts, out.DurationMS =
		res.Server, res.QueueID, res.Size, res.Pipelined, res.UsedBDAT, res.Attempts, res.Duration.Milliseconds()
	out.Code, out.Enhanced, out.Text = replyParts(res.Reply)
	for _, r := range res.Recipients {
		c, enh, t := replyParts(r.Reply)
		out.Recipients = append(out.Recipients, rcptJSON{r.Addr, c, enh, t})
	}
	return out
}
