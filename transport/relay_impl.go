package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

func newRelay(cfg RelayConfig) (*Relay, error) {
	if len(cfg.Servers) == 0 {
		return nil, fmt.Errorf("%w: relay has no servers", ErrBadConfig)
	}
	if cfg.Session != nil && cfg.Session.Auth != nil && cfg.Session.NewAuth == nil {
		return nil, fmt.Errorf("%w: a Relay needs Config.NewAuth (an authmech.Client serves one connection)", ErrBadConfig)
	}
	if _, err := cfg.Session.norm(); err != nil {
		return nil, err
	}
	cfg.Servers = append([]Address(nil), cfg.Servers...)
	if cfg.MaxIdle == 0 {
		cfg.MaxIdle = 2
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	return &Relay{cfg: cfg}, nil
}

// order returns the server indexes to try for one message.
func (r *Relay) order() []int {
	n := len(r.cfg.Servers)
	first := 0
	if r.cfg.Strategy == RoundRobin {
		first = r.next % n
		r.next++
	}
	out := make([]int, n)
	for i := range out {
		out[i] = (first + i) % n
	}
	return out
}

// take returns an idle session to server srv, or nil.
func (r *Relay) take(srv int) *idleClient {
	for i := len(r.idle) - 1; i >= 0; i-- {
		ic := r.idle[i]
		if ic.srv != srv {
			continue
		}
		r.idle = append(r.idle[:i], r.idle[i+1:]...)
		if time.Since(ic.since) > r.cfg.IdleTimeout {
			ic.c.Close()
			continue
		}
		return ic
	}
	return nil
}

func (r *Relay) put(ic *idleClient) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.cfg.MaxIdle < 0 || len(r.idle) >= r.cfg.MaxIdle ||
		(r.cfg.MaxMessages > 0 && ic.sent >= r.cfg.MaxMessages) || ic.c.usable() != nil {
		r.retire(ic)
		return
	}
	ic.since = time.Now()
	r.idle = append(r.idle, ic)
}

// retire ends a session that must not be reused: QUIT when it still
// works, a plain close otherwise.
func (r *Relay) retire(ic *idleClient) {
	if ic.c.usable() != nil {
		ic.c.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	ic.c.Quit(ctx)
	cancel()
}

// retryable reports whether another session or server may succeed: a
// connection, TLS or protocol failure, or a 4xx. A 5xx refusal (and
// usage errors) are final.
func retryable(err error) bool {
	switch Classify(err) {
	case ClassConnection, ClassTemporary:
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return false
}

func (r *Relay) send(ctx context.Context, env Envelope, open Opener) (*Result, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClientClosed
	}
	order := r.order()
	r.mu.Unlock()
	if open == nil {
		return nil, fmt.Errorf("%w: nil Opener", ErrBadConfig)
	}
	attempts := 0
	var lastErr error
	var lastRes *Result
	for _, srv := range order {
		// A reused session may have been closed by the server while idle:
		// such a failure before the message was accepted is retried once
		// on a fresh session to the same server.
		for fresh := 0; fresh < 2; fresh++ {
			if err := ctx.Err(); err != nil {
				if lastErr == nil {
					lastErr = err
				}
				return lastRes, lastErr
			}
			var ic *idleClient
			if fresh == 0 {
				r.mu.Lock()
				ic = r.take(srv)
				r.mu.Unlock()
			}
			reused := ic != nil
			attempts++
			if ic == nil {
				newMeter(r.cfg.Session.progress(), &env).report(PhaseConnecting)
				c, err := Dial(ctx, r.cfg.Servers[srv], r.cfg.Session)
				if err != nil {
					lastErr = err
					if !retryable(err) {
						return nil, err
					}
					break // next server
				}
				ic = &idleClient{c: c, srv: srv}
			}
			rd, err := open()
			if err != nil {
				r.put(ic)
				return nil, fmt.Errorf("transport: opening the message: %w", err)
			}
			res, err := ic.c.Send(ctx, env, rd)
			if cl, ok := rd.(io.Closer); ok {
				cl.Close()
			}
			if res != nil {
				res.Attempts = attempts
			}
			if err == nil {
				ic.sent++
				r.put(ic)
				return res, nil
			}
			lastErr, lastRes = err, res
			broken := ic.c.usable() != nil
			if broken || retryable(err) {
				// A broken session is closed. A temporary refusal on a
				// working one ends it too: a relay that answers 4xx to
				// every transaction on this connection (stuck in a bad
				// state, or a server of a failover set about to be taken
				// out) would keep every later attempt on it; a fresh
				// connection reaches the relay as it is now, or the next
				// server.
				r.retire(ic)
			} else {
				r.put(ic)
			}
			if !retryable(err) {
				return res, err
			}
			if reused && broken {
				continue // stale idle session: try a fresh one to the same server
			}
			break
		}
	}
	return lastRes, lastErr
}

func (r *Relay) close() error {
	r.mu.Lock()
	idle := r.idle
	r.idle, r.closed = nil, true
	r.mu.Unlock()
	for _, ic := range idle {
		r.retire(ic)
	}
	return nil
}
