package mailwarden

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"mailwarden/authmech"
	"mailwarden/graph"
	"mailwarden/oauth"
	"mailwarden/transport"
)

// GraphConfig configures sending through Microsoft Graph (Profile.Transport
// "graph"), for Microsoft 365 tenants where SMTP AUTH is switched off. The
// access token comes from Auth.OAuthToken: an app-only token with the
// Mail.Send application permission for the cloud's scope (for example
// https://graph.microsoft.com/.default).
//
// TLS settings (CAFile, client certificates, InsecureSkipVerify), Timeout,
// Proxy, S/MIME and Audit apply as they do for SMTP; Servers, TLS,
// HeloName and the SASL settings are not used. Without a Proxy setting
// the endpoint is reached directly, as the relays are (HTTPS_PROXY is
// honoured only with Proxy.URL "auto").
type GraphConfig struct {
	// Cloud is "global" (the default), "usgov" (graph.microsoft.us),
	// "usgov-dod" (dod-graph.microsoft.us) or "china"
	// (microsoftgraph.chinacloudapi.cn).
	Cloud string `json:"cloud,omitempty"`
	// Endpoint overrides Cloud with a base URL, e.g. a test server.
	Endpoint string `json:"endpoint,omitempty"`
	// Sender is the mailbox to send as (its user principal name or SMTP
	// address); empty means each message's envelope sender (Sender, else
	// From).
	Sender string `json:"sender,omitempty"`
	// MaxRetries and MaxRetryWait bound retries of throttled (429) and
	// unavailable (503) requests (a 504 is not resent); zero means graph's defaults (4
	// retries, waits up to 2 minutes), MaxRetries -1 means none.
	MaxRetries   int           `json:"max_retries,omitempty"`
	MaxRetryWait time.Duration `json:"max_retry_wait,omitempty"`
}

// ErrGraphRecipients is wrapped by the error of a SendRaw through Graph
// whose envelope recipients differ from the recipients in the message's
// To, Cc and Bcc fields: Graph sends to the header's recipients only, so
// the message would go to other people than asked. Nothing was sent.
var ErrGraphRecipients = errors.New("mailwarden: graph sends to the recipients in the message header, which differ from the envelope")

// resolve checks the Graph settings of the profile called profile and
// returns the base URL sends go to: Endpoint, or the Cloud's. Errors are
// *ConfigError naming the field.
func (g GraphConfig) resolve(profile string) (string, error) {
	bad := func(field string, err error) (string, error) {
		return "", &ConfigError{Profile: profile, Field: field, Err: err}
	}
	if g.Cloud != "" && g.Endpoint != "" {
		return bad("graph.endpoint", errors.New("set either graph.cloud or graph.endpoint, not both"))
	}
	endpoint := g.Endpoint
	if endpoint == "" {
		ep, err := graph.Cloud(g.Cloud).Endpoint()
		if err != nil {
			return bad("graph.cloud", err)
		}
		endpoint = ep
	}
	if err := graph.CheckEndpoint(endpoint); err != nil {
		return bad("graph.endpoint", err)
	}
	if g.Sender != "" {
		if err := graph.CheckSender(g.Sender); err != nil {
			return bad("graph.sender", err)
		}
	}
	if g.MaxRetryWait < 0 {
		return bad("graph.max_retry_wait", errors.New("must not be negative"))
	}
	return endpoint, nil
}

// graphDelivery sends through Microsoft Graph sendMail.
type graphDelivery struct {
	client   *graph.Client
	profile  Profile
	endpoint string // base URL
	sender   string // fixed sender mailbox, or "" for each message's own
	proxy    string
}

var _ delivery = (*graphDelivery)(nil)

// newGraphDelivery completes NewSender for the graph transport: the HTTP
// client (the profile's TLS, proxy and timeout) and the token source.
func (s *Sender) newGraphDelivery(ctx context.Context, pl *plan, opts *Options, getenv func(string) string) (*graphDelivery, error) {
	p := pl.profile
	bad := func(field string, err error) (*graphDelivery, error) {
		return nil, &ConfigError{Profile: p.Name, Field: field, Err: err}
	}
	u, err := url.Parse(pl.endpoint)
	if err != nil || u.Hostname() == "" {
		return bad("graph.endpoint", fmt.Errorf("%q is not a URL", pl.endpoint))
	}
	tc, err := s.tlsConfig(ctx, getenv, opts.Secrets)
	if err != nil {
		return nil, err
	}
	tc.InsecureSkipVerify = p.InsecureSkipVerify

	// The proxy is chosen as for a relay at the endpoint's host and port.
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	addr, err := transport.ParseAddress(net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return bad("graph.endpoint", err)
	}
	d, err := s.dialer(ctx, pl, []transport.Address{addr}, getenv, opts, transport.TLSImplicit)
	if err != nil {
		return nil, err
	}
	dial := (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	if d != nil {
		dial = d.DialContext
	}
	hc := graph.NewHTTPClient(tc, dial)
	if p.Timeout > 0 {
		hc.Timeout = p.Timeout
	}
	// Token requests go the way Graph requests go, unless the program
	// chose its own HTTP client.
	tokOpts := &Options{Getenv: getenv, Secrets: opts.Secrets, HTTPClient: opts.HTTPClient}
	if tokOpts.HTTPClient == nil {
		tokOpts.HTTPClient = hc
	}
	tok, err := graphToken(ctx, p, tokOpts)
	if err != nil {
		return nil, err
	}
	if ts, ok := tok.(*oauth.TokenSource); ok {
		s.tokens = ts
	}
	return &graphDelivery{
		profile:  p,
		endpoint: strings.TrimRight(pl.endpoint, "/"),
		sender:   p.Graph.Sender,
		proxy:    s.proxy,
		client: &graph.Client{
			Endpoint:     pl.endpoint,
			HTTPClient:   hc,
			Token:        tok,
			MaxRetries:   p.Graph.MaxRetries,
			MaxRetryWait: p.Graph.MaxRetryWait,
		},
	}, nil
}

// graphToken is the one place the Graph access token comes from: for now
// the static Auth.OAuthToken, resolved once here so a missing secret is a
// configuration error.
func graphToken(ctx context.Context, p Profile, opts *Options) (graph.TokenSource, error) {
	if p.Auth.OAuth.Flow != "" {
		if p.Auth.OAuthToken != "" {
			return nil, &ConfigError{Profile: p.Name, Field: "auth.oauth.flow", Err: errors.New("configure oauth_token or an OAuth flow, not both")}
		}
		ts, err := oauthTokenSource(ctx, p, opts)
		if err != nil {
			return nil, err
		}
		return ts, nil
	}
	if p.Auth.OAuthToken == "" {
		return nil, &ConfigError{Profile: p.Name, Field: "auth.oauth_token", Err: errors.New("the graph transport needs an OAuth2 access token (app-only, Mail.Send): configure auth.oauth (flow client_credentials) or auth.oauth_token")}
	}
	tok, err := p.Auth.OAuthToken.Resolve(ctx, opts.Getenv, opts.Secrets)
	if err != nil {
		return nil, &ConfigError{Profile: p.Name, Field: "auth.oauth_token", Err: err}
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return nil, &ConfigError{Profile: p.Name, Field: "auth.oauth_token", Err: errors.New("the token is empty")}
	}
	return authmech.StaticToken(tok), nil
}

// intent is a fail-closed "graph.intent" record before each send; the
// graph package writes the "graph.send" summary after it.
func (d *graphDelivery) intent(buf []slog.Attr, env transport.Envelope, extra []slog.Attr, withRecord bool) (string, []slog.Attr, []slog.Attr) {
	scope := []slog.Attr{slog.String("transport", "graph"), slog.String("from", env.From), slog.Any("rcpts", env.To)}
	if d.profile.InsecureSkipVerify {
		scope = append(scope, slog.Bool("insecure_skip_verify", true))
	}
	if d.proxy != "" {
		scope = append(scope, slog.String("proxy", d.proxy))
	}
	if env.MessageID != "" {
		scope = append(scope, slog.String("message_id", env.MessageID))
	}
	scope = append(scope, extra...)
	if !withRecord {
		return "graph.intent", nil, scope
	}
	record := append(append(buf[:0], slog.String("profile", d.profile.Name), slog.String("endpoint", d.endpoint),
		slog.String("sender", d.senderOf(env)), slog.Int64("size", env.Size)), scope...)
	return "graph.intent", record, scope
}

func (d *graphDelivery) senderOf(env transport.Envelope) string {
	if d.sender != "" {
		return d.sender
	}
	return env.From
}

func (d *graphDelivery) deliver(ctx context.Context, env transport.Envelope, opener transport.Opener) (*Result, error) {
	open := func() (io.ReadCloser, error) {
		r, err := opener()
		if err != nil {
			return nil, err
		}
		if rc, ok := r.(io.ReadCloser); ok {
			return rc, nil
		}
		return io.NopCloser(r), nil
	}
	gr, err := d.client.SendMail(ctx, d.senderOf(env), open, env.Size)
	if gr == nil {
		return nil, err
	}
	return d.result(gr, env), err
}

// result describes an accepted Graph send: Reply carries the HTTP status
// (202) and Graph's request-id, which is also the QueueID, and every
// envelope recipient is listed with it (Graph took them from the header;
// delivery failures come later as non-delivery reports).
func (d *graphDelivery) result(gr *graph.Result, env transport.Envelope) *Result {
	text := "Accepted by Microsoft Graph sendMail"
	if gr.RequestID != "" {
		text += " (request-id " + gr.RequestID + ")"
	}
	reply := transport.Reply{Code: gr.Status, Text: text}
	res := &Result{Transport: "graph", Server: hostOf(d.endpoint), Reply: reply, QueueID: gr.RequestID, RequestID: gr.RequestID,
		Size: env.Size, Attempts: gr.Attempts, Duration: gr.Duration}
	for _, r := range env.To {
		res.Recipients = append(res.Recipients, transport.RcptResult{Addr: r, Reply: transport.Reply{Code: gr.Status, Text: "in the message header"}})
	}
	return res
}

func (d *graphDelivery) describe() string { return "Microsoft Graph " + d.endpoint }

func (d *graphDelivery) recipientsFromHeader() bool { return true }

func (d *graphDelivery) close() error { return nil }

func hostOf(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return endpoint
	}
	return u.Host
}

// checkGraphRecipients reads the header of the spooled message and checks
// that its To, Cc and Bcc recipients are exactly the envelope's.
func checkGraphRecipients(open transport.Opener, to []string) error {
	f, err := open()
	if err != nil {
		return err
	}
	if c, ok := f.(io.Closer); ok {
		defer c.Close()
	}
	m, err := mail.ReadMessage(f)
	if err != nil {
		return fmt.Errorf("%w: cannot read the message header: %w", ErrGraphRecipients, err)
	}
	inHeader := map[string]bool{}
	for _, field := range []string{"To", "Cc", "Bcc"} {
		list, err := m.Header.AddressList(field)
		if err != nil && !errors.Is(err, mail.ErrHeaderNotPresent) {
			return fmt.Errorf("%w: %s: %w", ErrGraphRecipients, field, err)
		}
		for _, a := range list {
			inHeader[strings.ToLower(a.Address)] = true
		}
	}
	inEnvelope := map[string]bool{}
	var missing, extra []string
	for _, r := range to {
		k := strings.ToLower(r)
		inEnvelope[k] = true
		if !inHeader[k] {
			missing = append(missing, r)
		}
	}
	for k := range inHeader {
		if !inEnvelope[k] {
			extra = append(extra, k)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return nil
	}
	var b bytes.Buffer
	if len(missing) > 0 {
		fmt.Fprintf(&b, "; not in To, Cc or Bcc: %s (add a Bcc field for hidden recipients: Graph removes it before delivery)", strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		fmt.Fprintf(&b, "; in the header but not the envelope: %s", strings.Join(extra, ", "))
	}
	return fmt.Errorf("%w%s", ErrGraphRecipients, b.String())
}

// probe is a token, and an authenticated request that sends nothing
// (see graph.Client.Check).
func (d *graphDelivery) probe(ctx context.Context, rep *ProbeReport, await func(context.Context, []slog.Attr, func(context.Context) error) error) error {
	if rep.OAuth != nil && rep.OAuth.Err != nil {
		return rep.OAuth.Err // Graph cannot be asked anything without a token
	}
	sender := d.sender
	if sender == "" {
		if a, err := mail.ParseAddress(d.profile.From); err == nil {
			sender = a.Address
		}
	}
	start := time.Now()
	err := await(ctx, []slog.Attr{slog.Bool("probe", true), slog.String("transport", "graph")}, func(ctx context.Context) error {
		if sender == "" {
			return &ConfigError{Profile: d.profile.Name, Field: "graph.sender", Err: errors.New("a sender mailbox (graph.sender or from) is needed to test Graph")}
		}
		cr, err := d.client.Check(ctx, sender)
		rep.Graph = cr
		return err
	})
	rep.Servers = append(rep.Servers, ServerProbe{Server: d.endpoint, Duration: time.Since(start), Err: err})
	return err
}
