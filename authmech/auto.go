package authmech

import (
	"context"
	"errors"
	"fmt"
)

var autoOrder = []string{"GSSAPI", "SCRAM-SHA-256", "SCRAM-SHA-1", "NTLM", "CRAM-MD5", "PLAIN", "LOGIN"}

// AutoOrder returns the order, strongest first, in which auto tries
// mechanisms: GSSAPI, SCRAM-SHA-256, SCRAM-SHA-1, NTLM, CRAM-MD5, PLAIN,
// LOGIN. XOAUTH2 and OAUTHBEARER are never chosen by auto: a token is asked
// for by naming the mechanism.
func AutoOrder() []string { return append([]string(nil), autoOrder...) }

// An AutoClient is the Client for auto. Start walks AutoOrder and starts the
// first mechanism that is registered, that the server advertised (whole-token
// match), whose factory accepts the Credentials and whose Start succeeds;
// PLAIN and LOGIN refuse a connection without TLS unless
// ServerInfo.AllowPlaintext is set, so there auto moves on. Start returns the
// chosen mechanism's name; Chosen reports it afterwards.
//
// When nothing fits, Start returns an error wrapping ErrNotOffered and the
// reasons each candidate was skipped (ErrPlaintextRefused,
// ErrMissingCredentials, a KDC failure, ...).
type AutoClient struct {
	redacted
	reg    *Registry
	creds  Credentials
	chosen string
	c      Client
}

// Chosen returns the canonical name of the mechanism Start chose, or "".
func (a *AutoClient) Chosen() string { return a.chosen }

// Start picks and starts the mechanism.
func (a *AutoClient) Start(ctx context.Context, info *ServerInfo) (string, []byte, error) {
	var errs []error
	for _, m := range autoOrder {
		if !info.Offers(m) {
			continue
		}
		f := a.reg.factory(m)
		if f == nil {
			continue
		}
		c, err := f(a.creds)
		if err != nil {
			errs = append(errs, mechErr(m, err))
			continue
		}
		mech, ir, err := c.Start(ctx, info)
		if err != nil {
			if ctx.Err() != nil {
				return "", nil, err
			}
			errs = append(errs, err)
			continue
		}
		a.c, a.chosen = c, mech
		return mech, ir, nil
	}
	var offered []string
	if info != nil {
		offered = info.Mechanisms
	}
	return "", nil, &MechanismError{Mech: Auto, Err: errors.Join(
		fmt.Errorf("%w: none usable among %v", ErrNotOffered, offered), errors.Join(errs...))}
}

// Next forwards to the chosen mechanism.
func (a *AutoClient) Next(ctx context.Context, challenge []byte) ([]byte, error) {
	if a.c == nil {
		return nil, mechErr(Auto, errors.New("Next before a successful Start"))
	}
	return a.c.Next(ctx, challenge)
}

// Verify forwards to the chosen mechanism when it is a Verifier.
func (a *AutoClient) Verify() error {
	if v, ok := a.c.(Verifier); ok {
		return v.Verify()
	}
	return nil
}

// Err forwards to the chosen mechanism when it is an ErrorReporter.
func (a *AutoClient) Err() error {
	if e, ok := a.c.(ErrorReporter); ok {
		return e.Err()
	}
	return nil
}

// An ErrorReporter is a Client that learns why the server refused it during
// the exchange (the OAuth mechanisms decode the server's JSON error
// challenge, then must answer it to finish the exchange before the server
// sends its 535). After a failed AUTH the transport should call Err and,
// when it is non-nil, include it (e.g. errors.Join) in the error it returns.
type ErrorReporter interface {
	Err() error
}
