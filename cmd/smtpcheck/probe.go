package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"mailwarden"
	"mailwarden/audit"
)

func runProbe(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cf connFlags
	cf.register(fs)
	cf.diag.registerQuitAfter(fs)
	fs.StringVar(&cf.diag.saveCert, "save-cert", "", "save the certificate chain the relay presented to `FILE` (PEM, leaf first)")
	if code, done := parseFlags(fs, e, args, "probe", "usage: smtpcheck probe --server ADDR [flags]\n\nConnects, negotiates TLS, authenticates when asked to, and quits: no mail is sent."); done {
		return code
	}
	s, code := newSender(ctx, e, &cf, "probe")
	if s == nil {
		return code
	}
	defer closeSender(e, s, "probe")
	if cf.diag.quitAfter != "" {
		return rehearse(ctx, e, s, &cf, "probe", nil)
	}
	rep, err := s.Probe(ctx)
	if cf.json {
		writeJSON(e.stdout, probeJSON(rep, err))
	} else {
		printProbe(e.stdout, rep)
	}
	if code := saveCert(e, rep, err, cf.diag.saveCert); code != exitOK {
		return code
	}
	return report(e, "probe", err)
}

// parseFlags parses args; done is true when the command should exit with code.
func parseFlags(fs *flag.FlagSet, e *env, args []string, name, help string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(e.stdout, help)
			fmt.Fprintln(e.stdout, "\nFlags:")
			fs.SetOutput(e.stdout)
			fs.PrintDefaults()
			fmt.Fprint(e.stdout, "\n"+exitCodesHelp)
			return exitOK, true
		}
		fmt.Fprintf(e.stderr, "smtpcheck %s: %s\n", name, errLine(err))
		return exitUsage, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "smtpcheck %s: unexpected argument %q\n", name, fs.Arg(0))
		return exitUsage, true
	}
	return 0, false
}

// newSender builds the sender the connection flags describe, or prints why
// not and returns the exit code.
func newSender(ctx context.Context, e *env, cf *connFlags, name string) (*mailwarden.Sender, int) {
	p, secrets, err := cf.profile(e)
	if err == nil {
		err = cf.diag.apply(cf.fs, &p)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck %s: %s\n", name, errLine(err))
		return nil, exitUsage
	}
	opts := &mailwarden.Options{Secrets: secrets, Getenv: e.getenv, MaxIdle: cf.maxIdle, Progress: cf.progress}
	if cf.transcript == "-" {
		if cf.json {
			fmt.Fprintf(e.stderr, "smtpcheck %s: --transcript - and --json both write to standard output: give --transcript a file\n", name)
			return nil, exitUsage
		}
		opts.Transcript = e.stdout
	} else if cf.transcript != "" {
		// The transcript goes through the redacting writer: AUTH
		// exchanges and proxy credentials never reach the file.
		f, err := audit.CreateTranscript(cf.transcript)
		if err != nil {
			fmt.Fprintf(e.stderr, "smtpcheck %s: --transcript: %s\n", name, errLine(err))
			return nil, exitUsage
		}
		// Closed at exit; the transcript is small and written as it goes.
		opts.Transcript = f
	}
	s, err := mailwarden.NewSender(ctx, p, opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck %s: %s\n", name, errLine(err))
		if h := mailwarden.Hint(err); h != "" {
			fmt.Fprintf(e.stderr, "hint: %s\n", term(h))
		}
		if errors.Is(err, mailwarden.ErrAuditFailed) {
			return nil, exitCheck // the trail cannot be opened: nothing is sent
		}
		return nil, exitUsage
	}
	if err := s.AuditDegraded(); err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck %s: WARNING: %s\n", name, errLine(err))
	}
	return s, 0
}

func closeSender(e *env, s *mailwarden.Sender, name string) {
	if err := s.Close(); err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck %s: closing: %s\n", name, errLine(err))
	}
}

// exitCodes are the documented exit codes of each class of failure.
var exitCodes = map[mailwarden.Class]int{
	mailwarden.ClassNone:       exitOK,
	mailwarden.ClassConnection: exitConnection,
	mailwarden.ClassTLS:        exitConnection,
	mailwarden.ClassAuth:       exitAuth,
	mailwarden.ClassRejected:   exitRejected,
	mailwarden.ClassTemporary:  exitTemporary,
	mailwarden.ClassUsage:      exitUsage,
	mailwarden.ClassAudit:      exitCheck,
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	if code, ok := exitCodes[mailwarden.Classify(err)]; ok {
		return code
	}
	return exitConnection
}

// report prints err (with its hint) and returns the exit code.
func report(e *env, name string, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(e.stderr, "smtpcheck %s: %s\n", name, errLine(err))
	if h := mailwarden.Hint(err); h != "" && !strings.Contains(err.Error(), h) {
		fmt.Fprintf(e.stderr, "hint: %s\n", term(h))
	}
	return exitCode(err)
}

// flagProfileName names the profile smtpcheck makes from its flags.
const flagProfileName = "command line"

// errLine is err as one line: the layers' repeated prefixes removed (see
// mailwarden.Summary), and the name of the flags' own profile, which
// says nothing the command line does not.
func errLine(err error) string {
	return term(strings.Replace(mailwarden.Summary(err), "profile "+flagProfileName+": ", "", 1))
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func printProbe(w io.Writer, rep *mailwarden.ProbeReport) {
	if rep == nil {
		return
	}
	if rep.Proxy != "" {
		fmt.Fprintf(w, "proxy     %s\n", term(rep.Proxy))
	}
	if rep.ProxyReason != "" {
		fmt.Fprintf(w, "          (%s)\n", term(rep.ProxyReason))
	}
	printOAuthProbe(w, rep.OAuth)
	printKeys(w, rep.Keys)
	printGraphProbe(w, rep)
	for _, sp := range rep.Servers {
		fmt.Fprintf(w, "server    %s\n", term(sp.Server))
		in := sp.Info
		switch {
		case in.RemoteAddr != "" && in.RemoteAddr != in.Addr:
			fmt.Fprintf(w, "address   %s (connected to %s)\n", in.Addr, in.RemoteAddr)
		case in.Addr != "":
			fmt.Fprintf(w, "address   %s\n", in.Addr)
		}
		for _, h := range sp.ProxyHops {
			detail := h.Proxy
			if h.Target != "" {
				detail += " -> " + h.Target
			}
			if h.Err != nil {
				detail += ": " + h.Err.Error()
			}
			fmt.Fprintf(w, "  %-10s %8s  %s (%s)\n", "proxy", ms(h.Duration), term(detail), h.Step)
		}
		for _, st := range in.Steps {
			fmt.Fprintf(w, "  %-10s %8s  %s\n", st.Name, ms(st.Duration), term(st.Detail))
		}
		if in.TLS != nil {
			fmt.Fprintf(w, "tls       %s, %s (%s)\n", tls.VersionName(in.TLS.Version), tls.CipherSuiteName(in.TLS.CipherSuite), in.TLSModeUsed())
			if in.InsecureSkipVerify {
				fmt.Fprintln(w, "          WARNING: the certificate was NOT verified (--insecure-skip-verify)")
			}
			for i, c := range in.TLS.PeerCertificates {
				printCert(w, i, c)
			}
		} else if sp.Err == nil {
			fmt.Fprintln(w, "tls       none: this session was not encrypted")
		}
		if len(in.EHLOLines) > 0 {
			fmt.Fprintf(w, "offers    %s\n", term(strings.Join(in.EHLOLines, ", ")))
		}
		if len(in.AuthMechanisms) > 0 {
			fmt.Fprintf(w, "auth      offered: %s\n", term(strings.Join(in.AuthMechanisms, " ")))
		}
		if in.AuthMechanism != "" {
			fmt.Fprintf(w, "auth      authenticated with %s as %s\n", term(in.AuthMechanism), term(in.AuthUser))
		}
		if sp.Err != nil {
			fmt.Fprintf(w, "result    FAILED after %s: %s\n", ms(sp.Duration), term(sp.Err.Error()))
		} else {
			fmt.Fprintf(w, "result    ok in %s\n", ms(sp.Duration))
		}
	}
}

func printCert(w io.Writer, i int, c *x509.Certificate) {
	label := "cert"
	if i > 0 {
		label = fmt.Sprintf("chain[%d]", i)
	}
	sans := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		sans = append(sans, ip.String())
	}
	fmt.Fprintf(w, "%-9s subject %s; issuer %s; valid %s to %s", label, term(c.Subject.String()), term(c.Issuer.String()),
		c.NotBefore.UTC().Format("2006-01-02"), c.NotAfter.UTC().Format("2006-01-02"))
	if len(sans) > 0 {
		fmt.Fprintf(w, "; SANs %s", term(strings.Join(sans, ", ")))
	}
	fmt.Fprintln(w)
}

type certJSON struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SANs      []string  `json:"sans,omitempty"`
	SHA256    string    `json:"sha256"`
}

type stepJSON struct {
	Name       string `json:"name"`
	DurationMS int64  `json:"duration_ms"`
	Detail     string `json:"detail,omitempty"`
}

type serverJSON struct {
	Server             string            `json:"server"`
	Addr               string            `json:"addr,omitempty"`
	Remote             string            `json:"remote,omitempty"`
	Local              string            `json:"local,omitempty"`
	Steps              []stepJSON        `json:"steps"`
	TLSVersion         string            `json:"tls_version,omitempty"`
	TLSCipher          string            `json:"tls_cipher,omitempty"`
	TLSMode            string            `json:"tls_mode,omitempty"`
	InsecureSkipVerify bool              `json:"insecure_skip_verify,omitempty"`
	Certificates       []certJSON        `json:"certificates,omitempty"`
	Capabilities       map[string]string `json:"capabilities,omitempty"`
	AuthOffered        []string          `json:"auth_offered,omitempty"`
	AuthMechanism      string            `json:"auth_mechanism,omitempty"`
	AuthUser           string            `json:"auth_user,omitempty"`
	DurationMS         int64             `json:"duration_ms"`
	Error              *errorJSON        `json:"error,omitempty"`
}

type errorJSON struct {
	Message   string `json:"message"`
	Class     string `json:"class"`
	Stage     string `json:"stage,omitempty"`
	Code      int    `json:"code,omitempty"`
	Enhanced  string `json:"enhanced,omitempty"`
	Temporary bool   `json:"temporary,omitempty"`
	Hint      string `json:"hint,omitempty"`
	GraphCode string `json:"graph_code,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	ExitCode  int    `json:"exit_code"`
}

func errJSON(err error) *errorJSON {
	if err == nil {
		return nil
	}
	x := mailwarden.Explain(err)
	return &errorJSON{Message: err.Error(), Class: x.Class.String(), ExitCode: exitCode(err), Stage: x.Stage, Code: x.Code,
		Enhanced: x.Enhanced, Temporary: x.Temporary, Hint: x.Hint, GraphCode: x.GraphCode, RequestID: x.RequestID}
}

type probeOut struct {
	Profile     string          `json:"profile,omitempty"`
	Proxy       string          `json:"proxy,omitempty"`
	ProxyReason string          `json:"proxy_reason,omitempty"`
	Servers     []serverJSON    `json:"servers"`
	OK          bool            `json:"ok"`
	Error       *errorJSON      `json:"error,omitempty"`
	Graph       *graphProbeJSON `json:"graph,omitempty"`
	OAuth       *oauthProbeJSON `json:"oauth,omitempty"`
	Keys        []keyJSON       `json:"keys,omitempty"`
}

// oauthProbeJSON is the token step of a probe; it never holds the token.
type oauthProbeJSON struct {
	Flow        string     `json:"flow"`
	DurationMS  int64      `json:"duration_ms"`
	Expiry      *time.Time `json:"expiry,omitempty"`
	Scopes      []string   `json:"scopes,omitempty"`
	Refreshable bool       `json:"refreshable"`
	Error       *errorJSON `json:"error,omitempty"`
}

func oauthProbeOut(o *mailwarden.OAuthProbe) *oauthProbeJSON {
	if o == nil {
		return nil
	}
	j := &oauthProbeJSON{Flow: o.Flow, DurationMS: o.Duration.Milliseconds(), Scopes: o.Scopes, Refreshable: o.Refreshable, Error: errJSON(o.Err)}
	if !o.Expiry.IsZero() {
		e := o.Expiry.UTC()
		j.Expiry = &e
	}
	return j
}

// printOAuthProbe prints the token step.
func printOAuthProbe(w io.Writer, o *mailwarden.OAuthProbe) {
	if o == nil {
		return
	}
	if o.Err != nil {
		fmt.Fprintf(w, "oauth     %s token: FAILED after %s: %s\n", o.Flow, ms(o.Duration), term(o.Err.Error()))
		return
	}
	detail := "scopes " + term(strings.Join(o.Scopes, " "))
	if !o.Expiry.IsZero() {
		detail += ", expires " + o.Expiry.UTC().Format(time.RFC3339)
	}
	if o.Refreshable {
		detail += ", refreshable"
	}
	fmt.Fprintf(w, "oauth     %s token in %s (%s)\n", o.Flow, ms(o.Duration), detail)
}

func probeJSON(rep *mailwarden.ProbeReport, err error) probeOut {
	out := probeOut{OK: err == nil, Error: errJSON(err)}
	if rep == nil {
		return out
	}
	out.Profile, out.Proxy, out.ProxyReason = rep.Profile, rep.Proxy, rep.ProxyReason
	out.Graph = graphProbeOut(rep)
	out.OAuth = oauthProbeOut(rep.OAuth)
	out.Keys = keysJSON(rep.Keys)
	for _, sp := range rep.Servers {
		in := sp.Info
		sj := serverJSON{Server: sp.Server, Addr: in.Addr, Remote: in.RemoteAddr, Local: in.LocalAddr, Capabilities: in.Extensions,
			AuthOffered: in.AuthMechanisms, AuthMechanism: in.AuthMechanism, AuthUser: in.AuthUser,
			InsecureSkipVerify: in.InsecureSkipVerify, DurationMS: sp.Duration.Milliseconds(), Error: errJSON(sp.Err)}
		sj.Steps = []stepJSON{}
		for _, h := range sp.ProxyHops {
			d := h.Step + " " + h.Proxy
			if h.Target != "" {
				d += " -> " + h.Target
			}
			if h.Err != nil {
				d += ": " + h.Err.Error()
			}
			sj.Steps = append(sj.Steps, stepJSON{"proxy", h.Duration.Milliseconds(), d})
		}
		for _, st := range in.Steps {
			sj.Steps = append(sj.Steps, stepJSON{st.Name, st.Duration.Milliseconds(), st.Detail})
		}
		if in.TLS != nil {
			sj.TLSVersion, sj.TLSCipher, sj.TLSMode = tls.VersionName(in.TLS.Version), tls.CipherSuiteName(in.TLS.CipherSuite), in.TLSModeUsed()
			for _, c := range in.TLS.PeerCertificates {
				sum := sha256.Sum256(c.Raw)
				cj := certJSON{Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), SHA256: hex.EncodeToString(sum[:])}
				cj.SANs = append(cj.SANs, c.DNSNames...)
				for _, ip := range c.IPAddresses {
					cj.SANs = append(cj.SANs, ip.String())
				}
				sj.Certificates = append(sj.Certificates, cj)
			}
		}
		out.Servers = append(out.Servers, sj)
	}
	return out
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // addresses print as typed: <a@example.com>
	_ = enc.Encode(v)
}
