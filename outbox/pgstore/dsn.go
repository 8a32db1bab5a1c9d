package pgstore

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrInsecureDatabase is wrapped by ParseConfig's error for a connection
// to a host that is not this machine without sslmode=verify-full.
var ErrInsecureDatabase = errors.New("pgstore: the database connection is not verified TLS")

// ParseConfig parses a PostgreSQL connection string (a postgres:// URL or
// key=value pairs, as libpq and pgx take them, PG* environment variables
// included) into a pool configuration. Unless allowUnverified is true, a
// connection to any host other than a loopback address, localhost or a
// Unix socket must use sslmode=verify-full (TLS with the server's
// certificate and name checked); otherwise the error wraps
// ErrInsecureDatabase. The error never repeats the connection string (it
// may hold a password).
func ParseConfig(conn string, allowUnverified bool) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(conn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: cannot parse the database connection string: %s", redactParseError(err))
	}
	if allowUnverified {
		return pc, nil
	}
	cc := pc.ConnConfig
	hosts := []string{cc.Host}
	verified := cc.TLSConfig != nil && !cc.TLSConfig.InsecureSkipVerify && cc.TLSConfig.ServerName != ""
	for _, fb := range cc.Fallbacks {
		hosts = append(hosts, fb.Host)
		if fb.TLSConfig == nil || fb.TLSConfig.InsecureSkipVerify {
			verified = false
		}
	}
	for _, h := range hosts {
		if !loopback(h) && !verified {
			return nil, fmt.Errorf("%w: %s is not this machine; use sslmode=verify-full (with sslrootcert naming the server's CA when it is not a public one), or allow an unverified connection explicitly", ErrInsecureDatabase, h)
		}
	}
	return pc, nil
}

func loopback(h string) bool {
	if strings.HasPrefix(h, "/") || h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// redactParseError keeps pgx's reason and drops any quoted input.
func redactParseError(err error) string {
	s := err.Error()
	if i := strings.Index(s, "cannot parse `"); i >= 0 {
		if j := strings.LastIndex(s, "`: "); j > i {
			return s[:i] + "cannot parse the connection string: " + s[j+3:]
		}
		return "malformed connection string"
	}
	return s
}
