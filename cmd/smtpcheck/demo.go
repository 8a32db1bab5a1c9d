package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailwarden"
	"mailwarden/audit"
	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/fakes"
)

func runDemo(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 {
		if isHelp(args[0]) {
			fmt.Fprintln(e.stdout, "usage: smtpcheck demo\n\nRuns Mailwarden end to end against an embedded relay on 127.0.0.1, with no configuration.")
			return exitOK
		}
		fmt.Fprintf(e.stderr, "smtpcheck demo: unexpected argument %q\n", args[0])
		return exitUsage
	}
	if err := runDemoIn(ctx, e.stdout, ""); err != nil {
		return report(e, "demo", err)
	}
	return exitOK
}

// demoRun is one run of the demonstration: its embedded peers, files and
// the sender under test.
type demoRun struct {
	out       io.Writer
	dir       string
	pki       *fakes.PKI
	relay     *fakes.Relay
	proxy     *fakes.SOCKS5
	caFile    string
	keyFile   string
	auditFile string
	secrets   cliSecrets // the demo's throwaway passwords
}

func (d *demoRun) step(format string, args ...any) { fmt.Fprintf(d.out, "==> "+format+"\n", args...) }

// runDemoIn runs the whole demonstration and writes what happens to out: an
// embedded relay with a throwaway CA, a message with priority and
// sensitivity headers sent over STARTTLS with authentication, an audit
// trail written and verified, and the message as the relay received it.
// dir keeps its CA file and audit trail; empty means a new temporary
// directory, removed afterwards. Only the peers are embedded (package
// fakes): every step is the real code path a profile takes.
func runDemoIn(ctx context.Context, out io.Writer, dir string) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "mailwarden-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	d := &demoRun{out: out, dir: dir}
	defer d.close()
	if err := d.startPeers(); err != nil {
		return err
	}
	sender, err := mailwarden.NewSender(ctx, d.profile(), &mailwarden.Options{Secrets: d.secrets})
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			sender.Close()
		}
	}()
	if err := d.checkAndSend(ctx, sender); err != nil {
		return err
	}
	if err := demoOutbox(ctx, out, d.step, sender, d.relay, filepath.Join(dir, "spool")); err != nil {
		return err
	}
	closed = true
	if err := sender.Close(); err != nil {
		return err
	}
	if err := d.verifyTrail(); err != nil {
		return err
	}
	return d.showReceived()
}

// startPeers makes the throwaway PKI and starts the relay and the proxy.
func (d *demoRun) startPeers() error {
	d.step("making a throwaway certificate authority and a certificate for 127.0.0.1")
	pki, err := fakes.NewPKI()
	if err != nil {
		return err
	}
	d.pki = pki
	d.caFile = filepath.Join(d.dir, "demo-ca.pem")
	if err := os.WriteFile(d.caFile, pki.CAPEM, 0o644); err != nil {
		return err
	}
	password := randomHex(12)
	if d.relay, err = fakes.StartRelay(pki.Server, "demo", password); err != nil {
		return err
	}
	d.step("embedded relay listening on %s (STARTTLS; AUTH only after TLS)", d.relay.Addr())

	d.step("making throwaway S/MIME certificates: signer alerts@example.com, recipient ops@example.com")
	certFiles := map[string][]byte{"signer.pem": pki.Signer.CertPEM, "signer.key": pki.Signer.KeyPEM, "recipient.pem": pki.Recipient.CertPEM}
	for name, b := range certFiles {
		if err := os.WriteFile(filepath.Join(d.dir, name), b, 0o600); err != nil {
			return err
		}
	}
	proxyPassword := randomHex(12)
	if d.proxy, err = fakes.StartSOCKS5("demo-proxy", proxyPassword); err != nil {
		return err
	}
	d.step("embedded SOCKS5 proxy listening on %s (user/password; loopback destinations only)", d.proxy.Addr())
	d.keyFile = filepath.Join(d.dir, "audit.key")
	if err := os.WriteFile(d.keyFile, []byte(randomHex(32)+"\n"), 0o600); err != nil {
		return err
	}
	d.auditFile = filepath.Join(d.dir, "audit.log")
	d.secrets = cliSecrets{"demo:password": password, "demo:proxy-password": proxyPassword}
	return nil
}

func (d *demoRun) close() {
	if d.proxy != nil {
		d.proxy.Close()
	}
	if d.relay != nil {
		d.relay.Close()
	}
}

// profile is the demo's profile, as an administrator would configure it.
func (d *demoRun) profile() mailwarden.Profile {
	return mailwarden.Profile{
		Name: "demo",
		// The relay is reached through the proxy by name: the certificate
		// is checked against "localhost", never against the proxy.
		Servers: []string{"localhost:" + portOf(d.relay.Addr()) + "-starttls"},
		Proxy:   mailwarden.Proxy{URL: "socks5h://" + d.proxy.Addr(), User: "demo-proxy", Password: "demo:proxy-password"},
		CAFile:  d.caFile,
		Timeout: 10 * time.Second,
		// auto picks CRAM-MD5 (stronger than PLAIN) from what the relay
		// offers after STARTTLS.
		Auth:  mailwarden.Auth{Mechanism: "auto", Username: "demo", Password: "demo:password"},
		Audit: mailwarden.AuditConfig{File: d.auditFile, KeyFile: d.keyFile},
		SMIME: mailwarden.SMIMEConfig{
			SignCert: filepath.Join(d.dir, "signer.pem"), SignKey: filepath.Join(d.dir, "signer.key"),
			EncryptCerts: []string{filepath.Join(d.dir, "recipient.pem")}, EncryptCipher: "aes256-gcm",
		},
	}
}

// checkAndSend presses the "Verify" and "Test connection" buttons, then
// sends the alert.
func (d *demoRun) checkAndSend(ctx context.Context, sender *mailwarden.Sender) error {
	out := d.out
	d.step("checking the S/MIME configuration (the \"Verify\" button)")
	if err := sender.VerifySMIME("alerts@example.com"); err != nil {
		return err
	}
	fmt.Fprintln(out, "    signer key matches its certificate, certificates valid and allow S/MIME, From is in the signer certificate")

	d.step("probing the relay (the \"Test connection\" button)")
	rep, err := sender.Probe(ctx)
	if err != nil {
		return err
	}
	for _, sp := range rep.Servers {
		for _, h := range sp.ProxyHops {
			fmt.Fprintf(out, "    %-10s %5d ms  %s (%s)\n", "proxy", h.Duration.Milliseconds(), h.Proxy, h.Step)
		}
		for _, st := range sp.Info.Steps {
			fmt.Fprintf(out, "    %-10s %5d ms  %s\n", st.Name, st.Duration.Milliseconds(), term(st.Detail))
		}
	}
	d.step("sending an urgent, company-confidential alert with an attachment, signed (SHA-256) and encrypted (AES-256-GCM)")
	res, err := sender.Send(ctx, demoAlert())
	if err != nil {
		return err
	}
	for _, r := range res.Recipients {
		fmt.Fprintf(out, "    rcpt %-22s %s\n", r.Addr, term(r.Reply.String()))
	}
	fmt.Fprintf(out, "    final reply: %s\n", term(res.Reply.String()))
	fmt.Fprintf(out, "    queue id: %s, %d bytes, pipelined=%v, BDAT=%v\n", res.QueueID, res.Size, res.Pipelined, res.UsedBDAT)
	return nil
}

// demoAlert is the alert the demo sends.
func demoAlert() *envelope.Message {
	return &envelope.Message{
		From:         headers.Address{Name: "Mailwarden Demo", Addr: "alerts@example.com"},
		Organization: "Example Corp Security Operations",
		To:           []headers.Address{{Addr: "ops@example.com"}, {Name: "Doe, Jane", Addr: "jane@example.org"}},
		Bcc:          []headers.Address{{Addr: "archive@example.net"}},
		Subject:      "Disk almost full on db-01 — 95 % used",
		Text:         "Volume /var on db-01 is 95% full.\r\n\r\nThis alert was sent by `smtpcheck demo`.\r\n",
		HTML:         "<p>Volume <b>/var</b> on db-01 is <b>95%</b> full.</p>\r\n",
		Priority:     headers.PriorityUrgent,
		Importance:   headers.ImportanceHigh,
		Sensitivity:  headers.SensitivityCompanyConfidential,
		Attachments: []envelope.Attachment{{
			Filename: "df.txt", ContentType: "text/plain; charset=utf-8",
			Body: strings.NewReader("Filesystem  Size  Used Avail Use% Mounted on\r\n/dev/vdb1   100G   95G    5G  95% /var\r\n"),
		}},
	}
}

// verifyTrail checks the audit trail's hash chain and prints it.
func (d *demoRun) verifyTrail() error {
	d.step("verifying the audit trail's hash chain (%s)", filepath.Base(d.auditFile))
	key, err := audit.LoadKey(d.keyFile)
	if err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(d.dir, "audit*.log"))
	var trail []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".lock") {
			trail = append(trail, f)
		}
	}
	vr, err := audit.Verify(key, trail...)
	if err != nil {
		return fmt.Errorf("demo: audit trail does not verify: %w", err)
	}
	fmt.Fprintf(d.out, "    %d records, seq %d to %d, %s, sealed=%v\n", vr.Records, vr.FirstSeq, vr.LastSeq, vr.Alg, vr.Sealed)
	return printTrail(d.out, trail)
}

// showReceived shows what the relay received, and opens it as the
// recipient would.
func (d *demoRun) showReceived() error {
	out := d.out
	got := d.relay.Messages()
	if len(got) != 2 {
		return fmt.Errorf("demo: the relay received %d messages, want 2 (the alert and the queued follow-up)", len(got))
	}
	g := got[0]
	fmt.Fprintf(out, "    the proxy opened %d tunnel(s)\n", d.proxy.Tunnels())
	d.step("what the relay received (TLS=%v, AUTH %s as %s, MAIL FROM %s, RCPT TO %s)",
		g.TLS, g.AuthMech, g.AuthUser, g.From, strings.Join(g.Recipients, ", "))
	writeAbbreviated(out, g.Data, 6)

	d.step("opening it as the recipient would: decrypt with ops@example.com's key, verify the signature")
	opened, err := d.pki.OpenAsRecipient(g.Data)
	if err != nil {
		return fmt.Errorf("demo: the received message does not open: %w", err)
	}
	for _, c := range opened.Signers {
		fmt.Fprintf(out, "    signature verified: %s <%s>\n", c.Subject.CommonName, strings.Join(c.EmailAddresses, ", "))
	}
	fmt.Fprintf(out, "    encrypted=%v cipher=%s; the inner message:\n\n", opened.Encrypted, opened.Cipher)
	writeAbbreviated(out, opened.Entity, 40)
	return nil
}

// demoOutbox shows the durable outbox: with the relay answering 451, a
// follow-up alert is stored on disk and deferred with backoff, then
// delivered once the relay accepts mail again.
func demoOutbox(ctx context.Context, out io.Writer, step func(string, ...any), sender *mailwarden.Sender, relay *fakes.Relay, spool string) error {
	step("the relay is now busy (451): a follow-up alert goes into the durable outbox (%s)", filepath.Base(spool))
	relay.SetBusy(true)
	ob, err := sender.OpenOutbox(mailwarden.OutboxConfig{Dir: spool, MinBackoff: 400 * time.Millisecond, MaxBackoff: time.Second, RateLimit: 30})
	if err != nil {
		return err
	}
	defer ob.Close()
	follow := &envelope.Message{
		From:     headers.Address{Name: "Mailwarden Demo", Addr: "alerts@example.com"},
		To:       []headers.Address{{Addr: "ops@example.com"}},
		Subject:  "Follow-up: /var on db-01 back to 80 % used",
		Text:     "The cleanup job freed 15 GB.\r\n",
		Priority: headers.PriorityNormal,
	}
	entry, err := ob.Enqueue(ctx, follow)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    queued %s (Message-ID %s), stored and fsync'd before Enqueue returned\n", entry.ID, follow.MessageID)
	st, err := ob.RunOnce(ctx)
	if err != nil {
		return err
	}
	list, err := ob.List(ctx)
	if err != nil {
		return err
	}
	for _, e := range list {
		fmt.Fprintf(out, "    attempt %d: %s, next attempt in %d ms: %s\n", e.Attempts, e.State, time.Until(e.NextAttempt).Milliseconds(), term(e.LastError))
	}
	if st.Deferred != 1 {
		return fmt.Errorf("demo: the busy relay's 451 did not defer the message: %+v", st)
	}
	step("the relay accepts mail again: the outbox delivers when the backoff is over")
	relay.SetBusy(false)
	deadline := time.Now().Add(10 * time.Second)
	for st.Delivered == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if st, err = ob.RunOnce(ctx); err != nil {
			return err
		}
	}
	if st.Delivered != 1 {
		return fmt.Errorf("demo: the outbox did not deliver the follow-up: %+v", st)
	}
	msgs := relay.Messages()
	fmt.Fprintf(out, "    delivered; the relay now holds %d messages, the last one %d bytes\n", len(msgs), len(msgs[len(msgs)-1].Data))
	return nil
}

// writeAbbreviated writes a message's header whole and at most maxBody lines
// of its body.
func writeAbbreviated(out io.Writer, msg []byte, maxBody int) {
	head, body, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	out.Write(head)
	io.WriteString(out, "\r\n\r\n")
	lines := bytes.SplitAfter(body, []byte("\n"))
	for i, l := range lines {
		if i == maxBody && len(lines) > maxBody+1 {
			fmt.Fprintf(out, "    [... %d more lines, %d bytes in all]\n", len(lines)-maxBody, len(msg))
			break
		}
		out.Write(l)
	}
}

func printTrail(out io.Writer, files []string) error {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if len(line) > 160 {
				line = line[:157] + "..."
			}
			fmt.Fprintf(out, "    %s\n", line)
		}
	}
	return nil
}

// portOf returns the port of a host:port address.
func portOf(addr string) string {
	_, port, _ := strings.Cut(addr, ":")
	return port
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
