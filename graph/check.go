package graph

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// A CheckResult is what Check found out without sending mail.
type CheckResult struct {
	Endpoint  string
	Sender    string
	Status    int    // status of GET /users/{sender}
	RequestID string // Graph's request-id
	// MailboxFound is true when Graph returned the sender's user object
	// (the app may read users: User.Read.All or similar).
	MailboxFound bool
	// Note says what could and could not be checked, for the operator.
	Note string
}

// Check tests what can be tested without sending a message: it gets a
// token, and makes an authenticated GET {Endpoint}/v1.0/users/{sender}
// ?$select=id. 200 shows the token, the endpoint and the mailbox are right;
// 403 shows Graph accepted the token but the app may not read users, which
// Mail.Send alone does not allow, so the mailbox and the Mail.Send
// permission remain unchecked (Note says so) and Check still succeeds. A
// 401, a 404 or any other failure is returned as an *Error. Check does not
// retry.
func (c *Client) Check(ctx context.Context, sender string) (*CheckResult, error) {
	start := c.now()
	res := &CheckResult{Sender: sender}
	logRes := &Result{Sender: sender, Size: -1, Attempts: 1}
	done := func(e *Error) (*CheckResult, error) {
		logRes.Duration = c.now().Sub(start)
		logRes.Endpoint, logRes.Status, logRes.RequestID = res.Endpoint, res.Status, res.RequestID
		if e != nil {
			e.Op = "check"
			c.log(ctx, "graph.check", logRes, e)
			return res, e
		}
		c.log(ctx, "graph.check", logRes, nil)
		return res, nil
	}
	if err := CheckSender(sender); err != nil {
		return done(&Error{Err: err})
	}
	if c.Token == nil {
		return done(&Error{Err: fmt.Errorf("%w: no TokenSource", ErrBadConfig)})
	}
	base, target, err := c.userURL(sender, "?$select=id")
	if err != nil {
		return done(&Error{Err: err})
	}
	res.Endpoint = base
	tok, err := c.Token.Token(ctx)
	if err != nil {
		return done(&Error{Err: fmt.Errorf("%w: %w", ErrToken, err)})
	}
	if tok == "" || strings.ContainsAny(tok, "\r\n") {
		return done(&Error{Err: fmt.Errorf("%w: the token source returned an empty or malformed token", ErrToken)})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return done(&Error{Err: fmt.Errorf("%w: %w", ErrBadConfig, err)})
	}
	cid := c.requestID()
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("client-request-id", cid)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return done(&Error{Err: stripURL(err), ClientRequestID: cid})
	}
	defer resp.Body.Close()
	res.Status, res.RequestID = resp.StatusCode, resp.Header.Get("request-id")
	switch resp.StatusCode {
	case http.StatusOK:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		res.MailboxFound = true
		res.Note = "token accepted; the sender exists in this tenant (Mail.Send itself is only tested by sending)"
		return done(nil)
	case http.StatusForbidden:
		e := responseError(resp, c.now(), tok)
		res.Note = "token accepted by Graph; the app may not read users (" + e.Code + "), so the sender mailbox and the Mail.Send permission are only tested by sending"
		return done(nil)
	}
	e := responseError(resp, c.now(), tok)
	e.ClientRequestID = cid
	e.Attempts = 1
	return done(e)
}
