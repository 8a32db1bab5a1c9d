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
	if cfg.File != nil {
		f, err := OpenFile(*cfg.File)
		if err != nil {
			return fail(err)
		}
		add("file", f)
	}
	if cfg.Syslog != "" || cfg.SyslogConfig != nil {
		var sc SyslogConfig
		if cfg.SyslogConfig != nil {
			sc = *cfg.SyslogConfig
		} else {
			var err error
			if sc, err = ParseSyslogURL(cfg.Syslog); err != nil {
				return fail(err)
			}
		}
		s, err := DialSyslog(ctx, sc)
		if err != nil {
			return fail(err)
		}
		add("syslog", s)
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
