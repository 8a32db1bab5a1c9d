package audit

import (
	"errors"
	"log/slog"
)

// ErrNoEventLog is returned by OpenEventLog and InstallEventSource on
// systems other than Windows.
var ErrNoEventLog = errors.New("audit: eventlog: the Windows Event Log is only available on Windows")

// Event IDs the EventLog sink uses, inside the 1 to 1000 range an
// EventCreate-registered source supports.
const (
	EventIDInfo    uint32 = 100
	EventIDWarning uint32 = 200
	EventIDError   uint32 = 300
)

func eventID(l slog.Level) uint32 {
	switch {
	case l >= slog.LevelError:
		return EventIDError
	case l >= slog.LevelWarn:
		return EventIDWarning
	}
	return EventIDInfo
}
