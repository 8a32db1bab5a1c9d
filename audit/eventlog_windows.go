//go:build windows

package audit

import (
	"context"
	"fmt"

	"golang.org/x/sys/windows/svc/eventlog"
)

// An EventLog is a Sink that writes each entry to the Windows Event Log
// (Application log) under an event source. The event's text is the entry as
// one JSON object, the same members as a File line without prev and hash;
// its type follows the slog level (Error→Error, Warn→Warning, else
// Information) and its event ID is EventIDInfo, EventIDWarning or
// EventIDError.
//
// The source must be registered once, as an administrator, before events
// can be written under it; InstallEventSource does that (see the package
// documentation).
type EventLog struct {
	log *eventlog.Log
}

// OpenEventLog opens the Windows Event Log for source.
func OpenEventLog(source string) (*EventLog, error) {
	if source == "" {
		return nil, fmt.Errorf("audit: eventlog: no source")
	}
	l, err := eventlog.Open(source)
	if err != nil {
		return nil, fmt.Errorf("audit: eventlog: %w", err)
	}
	return &EventLog{log: l}, nil
}

// InstallEventSource registers source in the Application log with the
// EventCreate.exe message file, which formats any text for event IDs 1 to
// 1000. It needs administrator rights and fails when the source exists.
func InstallEventSource(source string) error {
	if err := eventlog.InstallAsEventCreate(source, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		return fmt.Errorf("audit: eventlog: %w", err)
	}
	return nil
}

// RemoveEventSource removes a source registered with InstallEventSource.
func RemoveEventSource(source string) error {
	if err := eventlog.Remove(source); err != nil {
		return fmt.Errorf("audit: eventlog: %w", err)
	}
	return nil
}

// maxEventText is below ReportEvent's limit of 31,839 characters per string.
const maxEventText = 31000

// Write reports e as one event.
func (l *EventLog) Write(_ context.Context, e *Entry) error {
	msg := string(e.JSON())
	if len(msg) > maxEventText {
		msg = msg[:maxEventText] + "...(truncated)"
	}
	var err error
	switch id := eventID(e.Level); id {
	case EventIDError:
		err = l.log.Error(id, msg)
	case EventIDWarning:
		err = l.log.Warning(id, msg)
	default:
		err = l.log.Info(id, msg)
	}
	if err != nil {
		return fmt.Errorf("audit: eventlog: %w", err)
	}
	return nil
}

// Close closes the event log handle.
func (l *EventLog) Close() error { return l.log.Close() }
