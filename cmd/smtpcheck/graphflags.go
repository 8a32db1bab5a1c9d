package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"mailwarden"
	"mailwarden/graph"
)

// graphFlags select Microsoft Graph sendMail instead of an SMTP relay.
type graphFlags struct {
	transport     string
	cloud         string
	endpoint      string
	sender        string
	oauthTokenEnv string
	maxRetries    int
}

func (g *graphFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.transport, "transport", "smtp", "`KIND` of transport: smtp (the relays in --server) or graph (Microsoft Graph sendMail; needs --oauth-token-file or --oauth-token-env)")
	fs.StringVar(&g.cloud, "graph-cloud", "", "Microsoft Graph `CLOUD`: global (default), usgov, usgov-dod, china")
	fs.StringVar(&g.endpoint, "graph-endpoint", "", "Microsoft Graph base `URL`, overriding --graph-cloud")
	fs.StringVar(&g.sender, "graph-sender", "", "mailbox `UPN` to send as through Graph (default: the --from address)")
	fs.IntVar(&g.maxRetries, "graph-max-retries", 0, "retries of a throttled (429), unavailable (503) or unreachable Graph request (a 504 is not resent: the message may have gone out); 0 means 4, -1 none")
	fs.StringVar(&g.oauthTokenEnv, "oauth-token-env", "", "environment `VARIABLE` holding an OAuth2 access token (XOAUTH2, OAUTHBEARER, graph)")
}

func (g *graphFlags) isGraph() bool { return strings.EqualFold(g.transport, "graph") }

// apply puts the Graph flags into p. With lenient (the flags overlay a
// profile from a configuration file, which may say graph itself), the Graph
// settings are copied whatever --transport says, for the overlay to pick.
func (g *graphFlags) apply(p *mailwarden.Profile, lenient bool) error {
	if lenient {
		if g.isGraph() {
			p.Transport = "graph"
		}
		p.Graph = mailwarden.GraphConfig{Cloud: g.cloud, Endpoint: g.endpoint, Sender: g.sender, MaxRetries: g.maxRetries}
		if g.oauthTokenEnv != "" {
			p.Auth.OAuthToken = mailwarden.SecretRef("env:" + g.oauthTokenEnv)
		}
		return nil
	}
	switch strings.ToLower(g.transport) {
	case "", "smtp":
		if g.cloud != "" || g.endpoint != "" || g.sender != "" || g.maxRetries != 0 {
			return errors.New("--graph-cloud, --graph-endpoint, --graph-sender and --graph-max-retries need --transport graph")
		}
	case "graph":
		if len(p.Servers) > 0 {
			return errors.New("--server is not used with --transport graph (set --graph-cloud or --graph-endpoint)")
		}
		p.Transport = "graph"
		p.Graph = mailwarden.GraphConfig{Cloud: g.cloud, Endpoint: g.endpoint, Sender: g.sender, MaxRetries: g.maxRetries}
	default:
		return fmt.Errorf("--transport %q: want smtp or graph", g.transport)
	}
	if g.oauthTokenEnv != "" {
		if p.Auth.OAuthToken != "" {
			return errors.New("use either --oauth-token-file or --oauth-token-env, not both")
		}
		p.Auth.OAuthToken = mailwarden.SecretRef("env:" + g.oauthTokenEnv)
	}
	return nil
}

// graphExitCode maps Graph failures to the documented exit codes, as
// transport.Classify does for SMTP ones.
func graphExitCode(err error) (int, bool) {
	if errors.Is(err, mailwarden.ErrGraphRecipients) {
		return exitUsage, true
	}
	var ge *graph.Error
	if !errors.As(err, &ge) {
		return 0, false
	}
	switch ge.Class() {
	case graph.ClassAuth:
		return exitAuth, true
	case graph.ClassRejected:
		return exitRejected, true
	case graph.ClassTemporary:
		return exitTemporary, true
	case graph.ClassUsage:
		return exitUsage, true
	}
	return exitConnection, true
}

// graphErrJSON fills the JSON error of a Graph failure.
func graphErrJSON(err error, ej *errorJSON) bool {
	var ge *graph.Error
	if !errors.As(err, &ge) {
		return false
	}
	ej.Class, ej.Stage, ej.Code, ej.Temporary, ej.Hint = ge.Class().String(), "graph."+ge.Op, ge.Status, ge.Temporary(), ge.Hint()
	ej.GraphCode, ej.RequestID = ge.Code, ge.RequestID
	return true
}

func graphHint(err error) string {
	var ge *graph.Error
	if errors.As(err, &ge) {
		return ge.Hint()
	}
	return ""
}

type graphProbeJSON struct {
	Endpoint     string `json:"endpoint"`
	Sender       string `json:"sender"`
	Status       int    `json:"status,omitempty"`
	RequestID    string `json:"request_id,omitempty"`
	MailboxFound bool   `json:"mailbox_found"`
	Note         string `json:"note,omitempty"`
}

func graphProbeOut(rep *mailwarden.ProbeReport) *graphProbeJSON {
	if rep == nil || rep.Graph == nil {
		return nil
	}
	g := rep.Graph
	return &graphProbeJSON{Endpoint: g.Endpoint, Sender: g.Sender, Status: g.Status, RequestID: g.RequestID, MailboxFound: g.MailboxFound, Note: g.Note}
}

func printGraphProbe(w io.Writer, rep *mailwarden.ProbeReport) {
	if rep == nil || rep.Graph == nil {
		return
	}
	g := rep.Graph
	fmt.Fprintf(w, "graph     %s as %s: token obtained; GET /users answered %d (request-id %s)\n", term(g.Endpoint), term(g.Sender), g.Status, term(g.RequestID))
	if g.Note != "" {
		fmt.Fprintf(w, "          %s\n", term(g.Note))
	}
}
