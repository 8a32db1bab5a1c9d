package transport

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"
)

// An Opener returns a fresh reader over the whole message each time it is
// called, so a Relay can send the message again after a reconnect or to
// another server. If the reader is also an io.Closer, the Relay closes it
// after each attempt. BytesMessage makes an Opener from a byte slice.
type Opener func() (io.Reader, error)

// BytesMessage returns an Opener over b, which must not change while in
// use.
func BytesMessage(b []byte) Opener {
	return func() (io.Reader, error) { return bytes.NewReader(b), nil }
}

// Strategy orders the servers of a Relay.
type Strategy uint8

const (
	// InOrder (the zero value) tries the servers in the order given, each
	// message starting from the first.
	InOrder Strategy = iota
	// RoundRobin starts each message at the next server in turn.
	RoundRobin
)

// RelayConfig configures a Relay.
type RelayConfig struct {
	// Servers are tried as Strategy says; at least one.
	Servers  []Address
	Strategy Strategy
	// Session configures every connection; nil is the zero Config. With
	// AUTH it must set NewAuth (an authmech.Client serves one connection);
	// Auth alone is refused with ErrBadConfig.
	Session *Config
	// MaxIdle is the number of idle sessions kept for reuse; zero means 2,
	// negative means none (a session per message).
	MaxIdle int
	// IdleTimeout closes sessions idle for longer; zero means 30 seconds.
	IdleTimeout time.Duration
	// MaxMessages per session before it is replaced; zero means no limit.
	MaxMessages int
}

// A Relay sends messages through one of several servers, reusing sessions
// (RSET between messages), reconnecting transparently when a session was
// closed or the server said 421, and failing over to the next server after
// a connection or TLS failure or a 4xx reply. It never tries another server
// after a 5xx refusal of the message: that is final. A Relay is safe for
// concurrent use; each concurrent Send uses its own session.
type Relay struct {
	cfg    RelayConfig
	mu     sync.Mutex
	idle   []*idleClient
	next   int
	closed bool
}

type idleClient struct {
	c     *Client
	since time.Time
	sent  int
	srv   int
}

// NewRelay returns a Relay; it connects lazily on the first Send. It fails
// with ErrBadConfig when cfg lists no server.
func NewRelay(cfg RelayConfig) (*Relay, error) { return newRelay(cfg) }

// Send sends the message from open to env's recipients, as Client.Send
// does, on a reused or new session, retrying as described on Relay. The
// Result's Server and Attempts say where it went and how many sessions
// were tried. On failure the error is the last server's.
func (r *Relay) Send(ctx context.Context, env Envelope, open Opener) (*Result, error) {
	return r.send(ctx, env, open)
}

// Close says QUIT on the idle sessions and closes them; Sends after Close
// fail with ErrClientClosed.
func (r *Relay) Close() error { return r.close() }
