package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"time"
)

type session struct{}

var errTODO = errors.New("transport: not implemented yet")

func upper(s string) string { return strings.ToUpper(s) }

func dial(ctx context.Context, addr Address, cfg *Config, auth bool) (*Client, error) {
	return nil, errTODO
}
func newClient(ctx context.Context, conn net.Conn, addr Address, cfg *Config, start time.Time, auth bool) (*Client, error) {
	conn.Close()
	return nil, errTODO
}
func probe(ctx context.Context, addr Address, cfg *Config) (ConnInfo, error) {
	return ConnInfo{}, errTODO
}
func (c *Client) infoCopy() ConnInfo { return c.info }
func (c *Client) send(ctx context.Context, env Envelope, msg io.Reader) (*Result, error) {
	return nil, errTODO
}
func (c *Client) reset(ctx context.Context) error { return errTODO }
func (c *Client) noop(ctx context.Context) error  { return errTODO }
func (c *Client) quit(ctx context.Context) error  { return errTODO }
func (c *Client) close() error                    { return errTODO }

func newRelay(cfg RelayConfig) (*Relay, error) { return nil, errTODO }
func (r *Relay) send(ctx context.Context, env Envelope, open Opener) (*Result, error) {
	return nil, errTODO
}
func (r *Relay) close() error { return errTODO }
