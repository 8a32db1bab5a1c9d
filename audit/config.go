package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
)

// Config describes a whole audit trail: which sinks, and what a failure
// does. It is what smtpcheck's --audit-file, --audit-key-file, --syslog and
// --eventlog flags fill in. The zero value has no sink; New rejects it.
type Config struct {
	// File, when not nil, adds the hash-chained File sink.
	File *FileConfig
	// Syslog, when not empty, adds a Syslog sink; it is a URL for
	// ParseSyslogURL such as "unixgram:///dev/log".
	Syslog string
	// SyslogConfig, when not nil, adds a Syslog sink built from it (its
	// TLS field allows a client certificate, for instance).
	SyslogConfig *SyslogConfig
	// EventLog, when not empty, adds the Windows Event Log sink with this
	// event source (Windows only; New fails elsewhere).
	EventLog string
	// Policy is the failure policy; the zero value is FailClosed.
	Policy Policy
	// Queue is the size of the Async queue each sink is put behind, so a
	// slow sink delays a sender by no more than queueing a record (then
	// Handler.Wait tells when the records are written). 0 means
	// DefaultQueue; a negative value writes synchronously: Handle returns
	// when every sink has the record.
	Queue int
	// Level is the minimum level recorded; nil means Info.
	Level slog.Leveler
	// OnError receives every sink failure (see Options.OnError).
	OnError func(error)
}

// ErrSyslogFailOpenOnly is returned by New for a syslog transport that
// cannot hold a fail-closed trail (UDP: a lost datagram is never reported)
// when the policy is FailClosed. See SyslogConfig.CanFailClose.
var ErrSyslogFailOpenOnly = errors.New("audit: this syslog transport cannot tell whether a record arrived, so it cannot hold a fail-closed trail: use relp:// or relp+tls:// (acknowledged), or the fail-open policy (--audit-fail-open, audit.fail_open)")

// DefaultQueue is the queue size New uses when Config.Queue is 0.
const DefaultQueue = 1024

// New opens every sink cfg names and returns a Handler writing to all of
// them. Each sink's failures are *SinkError values naming it ("file",
// "syslog", "eventlog"). When a sink cannot be opened, New closes the ones
// already opened and returns the error.
func New(ctx context.Context, cfg Config) (*Handler, error) {
	var sinks []Sink
	fail := func(err error) (*Handler, error) {
		for _, s := range sinks {
			s.Close()
		}
		return nil, err
	}
	if cfg.Queue == 0 {
		cfg.Queue = DefaultQueue
	}
	add := func(name string, s Sink) {
		if cfg.Queue > 0 {
			s = NewAsync(s, cfg.Queue)
		}
		sinks = append(sinks, Named(name, s))
	}
	var sc *SyslogConfig
	if cfg.Syslog != "" || cfg.SyslogConfig != nil {
		if cfg.SyslogConfig != nil {
			c := *cfg.SyslogConfig
			sc = &c
		} else {
			c, err := ParseSyslogURL(cfg.Syslog)
			if err != nil {
				return fail(err)
			}
			sc = &c
		}
		if cfg.Policy == FailClosed && !sc.CanFailClose() {
			return fail(fmt.Errorf("%w (%s)", ErrSyslogFailOpenOnly, sc.Network))
		}
	}
	var file *File
	if cfg.File != nil {
		f, err := OpenFile(*cfg.File)
		if err != nil {
			return fail(err)
		}
		file = f
	}
	if sc != nil {
		s, err := DialSyslog(ctx, *sc)
		if err != nil {
			if file != nil {
				file.Close()
			}
			return fail(err)
		}
		if file != nil {
			// The syslog records carry the file's chain_seq and
			// chain_hash: the collector holds an anchor of the trail.
			var c Sink = &chained{file: file, next: Named("syslog", s)}
			if cfg.Queue > 0 {
				c = NewAsync(c, cfg.Queue)
			}
			sinks = append(sinks, c)
		} else {
			add("syslog", s)
		}
	} else if file != nil {
		add("file", file)
	}
	if cfg.EventLog != "" {
		l, err := OpenEventLog(cfg.EventLog)
		if err != nil {
			return fail(err)
		}
		add("eventlog", l)
	}
	if len(sinks) == 0 {
		return nil, errors.New("audit: no sink configured")
	}
	return NewHandler(Multi(sinks...), &Options{Level: cfg.Level, Policy: cfg.Policy, OnError: cfg.OnError}), nil
}

// MinKeyLen is the shortest HMAC key LoadKey accepts.
const MinKeyLen = 16

// LoadKey reads an HMAC key file (--audit-key-file). The file holds the key
// either as hex (64 hex digits for 32 bytes, whitespace around it ignored)
// or as raw bytes; either way the key must be at least MinKeyLen bytes. The
// file must not be readable by group or others.
//
// A key can be made with: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > audit.key
func LoadKey(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audit: key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("audit: key: %s is readable by group or others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: key: %w", err)
	}
	key := b
	if t := bytes.TrimSpace(b); len(t) > 0 && len(t)%2 == 0 {
		if d, err := hex.DecodeString(string(t)); err == nil {
			key = d
		}
	}
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("audit: key: %s holds %d bytes, want at least %d", path, len(key), MinKeyLen)
	}
	return key, nil
}
