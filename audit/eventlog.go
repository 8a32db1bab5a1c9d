package audit

import "log/slog"

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
