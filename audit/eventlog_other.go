//go:build !windows

package audit

import "context"

// An EventLog is the Windows Event Log sink; on this system it cannot be
// opened.
type EventLog struct{}

// OpenEventLog returns ErrNoEventLog: the Windows Event Log exists only on
// Windows.
func OpenEventLog(source string) (*EventLog, error) { return nil, ErrNoEventLog }

// InstallEventSource returns ErrNoEventLog.
func InstallEventSource(source string) error { return ErrNoEventLog }

// RemoveEventSource returns ErrNoEventLog.
func RemoveEventSource(source string) error { return ErrNoEventLog }

// Write returns ErrNoEventLog.
func (*EventLog) Write(context.Context, *Entry) error { return ErrNoEventLog }

// Close returns nil.
func (*EventLog) Close() error { return nil }
