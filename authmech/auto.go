package authmech

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// AutoClient chooses, in Start, the strongest mechanism that the server
// offers and the credentials satisfy (see the Rank constants: GSSAPI,
// SCRAM-SHA-256, SCRAM-SHA-1, NTLM, CRAM-MD5, OAUTHBEARER, XOAUTH2, PLAIN,
// LOGIN), and delegates the exchange to it. On a connection without TLS it
// picks nothing unless ServerInfo.AllowPlaintext: every built-in mechanism
// then either sends a reusable secret (PLAIN, LOGIN, bearer tokens), gives
// an eavesdropper something to crack offline (CRAM-MD5, SCRAM, NTLM) or
// leaves the session open to takeover (GSSAPI), and auto must never be
// what sends credentials in clear after a STARTTLS strip. Chosen says what
// was picked.
type AutoClient struct {
	reg    *Registry
	creds  Credentials
	chosen string
	inner  Client
}

// Chosen returns the mechanism Start picked, "" before Start.
func (a *AutoClient) Chosen() string { return a.chosen }

// User returns the user name reported to the audit trail: after Start,
// the chosen mechanism's (a Kerberos principal from a credential cache,
// for example), else the user name given.
func (a *AutoClient) User() string {
	if u, ok := a.inner.(interface{ User() string }); ok && u.User() != "" {
		return u.User()
	}
	return a.creds.Username
}

// Start picks a mechanism and starts it. When nothing fits it returns an
// error wrapping ErrNotOffered that lists what the server offered.
func (a *AutoClient) Start(ctx context.Context, info *ServerInfo) (string, []byte, error) {
	a.reg.mu.RLock()
	var cands []Mechanism
	for _, m := range a.reg.mechs {
		if m.Rank > 0 {
			cands = append(cands, m)
		}
	}
	a.reg.mu.RUnlock()
	sort.Slice(cands, func(i, j int) bool { return cands[i].Rank > cands[j].Rank })
	// Every built-in mechanism refuses a connection without TLS (see the
	// type's doc): one check, whichever mechanism is looked at.
	inClear := info.RefuseInClear("auto", "") != nil
	var skipped []string
	for _, m := range cands {
		if !info.Offers(m.Name) {
			continue
		}
		if m.Satisfies != nil && !m.Satisfies(a.creds) {
			skipped = append(skipped, m.Name+" (credentials do not fit)")
			continue
		}
		if inClear {
			skipped = append(skipped, m.Name+" (refused without TLS)")
			continue
		}
		c, err := m.New(a.creds)
		if err != nil {
			skipped = append(skipped, m.Name+" ("+err.Error()+")")
			continue
		}
		a.chosen, a.inner = m.Name, c
		return c.Start(ctx, info)
	}
	offered := "nothing"
	if info != nil && len(info.Mechanisms) > 0 {
		offered = strings.Join(info.Mechanisms, " ")
	}
	msg := fmt.Sprintf("%v: auto found %v; the server offers %s", ErrNotOffered, errNoneSatisfiable, offered)
	if len(skipped) > 0 {
		msg += "; skipped " + strings.Join(skipped, ", ")
	}
	if inClear {
		msg += "; the connection is not encrypted and no mechanism authenticates without TLS (a recorded exchange gives away the password, a token or the session) unless plaintext authentication is explicitly allowed"
	}
	return "", nil, &autoError{msg: msg, clear: inClear}
}

// autoError matches ErrNotOffered, and ErrPlaintextRefused when the
// connection is not encrypted.
type autoError struct {
	msg   string
	clear bool
}

func (e *autoError) Error() string { return e.msg }
func (e *autoError) Unwrap() []error {
	if e.clear {
		return []error{ErrNotOffered, ErrPlaintextRefused}
	}
	return []error{ErrNotOffered}
}

// Next continues the chosen mechanism's exchange.
func (a *AutoClient) Next(ctx context.Context, challenge []byte) ([]byte, error) {
	if a.inner == nil {
		return nil, errUnexpectedChallenge
	}
	return a.inner.Next(ctx, challenge)
}

// Verify runs the chosen mechanism's end-of-exchange check, if it has one.
func (a *AutoClient) Verify() error {
	if v, ok := a.inner.(Verifier); ok {
		return v.Verify()
	}
	return nil
}

// Diagnosis passes on the chosen mechanism's diagnosis, if it has one.
func (a *AutoClient) Diagnosis() error {
	if d, ok := a.inner.(Diagnoser); ok {
		return d.Diagnosis()
	}
	return nil
}
