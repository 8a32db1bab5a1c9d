package headers

import (
	"strconv"
	"strings"
)

// The values below are the tokens defined by RFC 2156 (MIXER) for the
// Priority, Importance and Sensitivity fields, registered as permanent
// message header fields by RFC 4021:
//
//	priority    = "normal" / "non-urgent" / "urgent"
//	importance  = "low" / "normal" / "high"
//	sensitivity = "Personal" / "Private" / "Company-Confidential"
//
// Outlook and Exchange map them to MAPI properties as [MS-OXCMAIL] section
// 2.2.3.2.5 (Importance; Priority and X-Priority as fallbacks: "Urgent",
// "Normal", "Non-Urgent"; X-Priority "1"/"2" high, "3" normal, "4"/"5" low)
// and the Sensitivity section after it (Sensitivity: "Personal", "Private",
// "Company-Confidential" for PidTagSensitivity 1, 2, 3) specify.
// Thunderbird displays only X-Priority (1 highest ... 5 lowest), which is why
// Fields also writes X-Priority.

// Priority is the RFC 2156 Priority field: how urgently the message system
// should deliver the message. The zero value writes nothing.
type Priority int

// Priority values.
const (
	PriorityUnspecified Priority = iota
	PriorityNormal
	PriorityUrgent
	PriorityNonUrgent
)

var priorityNames = [...]string{"unspecified", "normal", "urgent", "non-urgent"}

// String returns the name used by ParsePriority ("unspecified", "normal",
// "urgent", "non-urgent").
func (p Priority) String() string { return enumName(priorityNames[:], int(p), "Priority") }

// ParsePriority parses a priority name as String returns it, ignoring case;
// "" is PriorityUnspecified. The names admin screens use are aliases:
// "high" is PriorityUrgent and "low" PriorityNonUrgent. An unknown name is
// an error wrapping ErrUnknownValue.
func ParsePriority(s string) (Priority, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "high":
		return PriorityUrgent, nil
	case "low":
		return PriorityNonUrgent, nil
	}
	i, err := parseEnum(append(priorityNames[:], "high", "low"), s, "priority")
	return Priority(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (p Priority) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler using ParsePriority.
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	if err == nil {
		*p = v
	}
	return err
}

// Importance is the RFC 2156 Importance field: how important the sender
// thinks the message is; Outlook shows it as the red "!" or blue arrow. The
// zero value writes nothing.
type Importance int

// Importance values.
const (
	ImportanceUnspecified Importance = iota
	ImportanceHigh
	ImportanceNormal
	ImportanceLow
)

var importanceNames = [...]string{"unspecified", "high", "normal", "low"}

// String returns the name used by ParseImportance ("unspecified", "high",
// "normal", "low").
func (i Importance) String() string { return enumName(importanceNames[:], int(i), "Importance") }

// ParseImportance parses an importance name as String returns it, ignoring
// case; "" is ImportanceUnspecified. An unknown name is an error wrapping
// ErrUnknownValue.
func ParseImportance(s string) (Importance, error) {
	i, err := parseEnum(importanceNames[:], s, "importance")
	return Importance(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (i Importance) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler using ParseImportance.
func (i *Importance) UnmarshalText(b []byte) error {
	v, err := ParseImportance(string(b))
	if err == nil {
		*i = v
	}
	return err
}

// Sensitivity is the RFC 2156 Sensitivity field; Outlook shows it in the
// info bar ("Please treat this as Confidential."). The zero value writes
// nothing.
type Sensitivity int

// Sensitivity values.
const (
	SensitivityUnspecified Sensitivity = iota
	SensitivityPersonal
	SensitivityPrivate
	SensitivityCompanyConfidential
)

var sensitivityNames = [...]string{"unspecified", "personal", "private", "company-confidential"}

// String returns the name used by ParseSensitivity ("unspecified",
// "personal", "private", "company-confidential").
func (s Sensitivity) String() string { return enumName(sensitivityNames[:], int(s), "Sensitivity") }

// ParseSensitivity parses a sensitivity name as String returns it, ignoring
// case; "" is SensitivityUnspecified. An unknown name is an error wrapping
// ErrUnknownValue.
func ParseSensitivity(s string) (Sensitivity, error) {
	i, err := parseEnum(sensitivityNames[:], s, "sensitivity")
	return Sensitivity(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (s Sensitivity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler using ParseSensitivity.
func (s *Sensitivity) UnmarshalText(b []byte) error {
	v, err := ParseSensitivity(string(b))
	if err == nil {
		*s = v
	}
	return err
}

func enumName(names []string, i int, typ string) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return typ + "(" + strconv.Itoa(i) + ")"
}

func parseEnum(names []string, s, what string) (int, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	for i, n := range names {
		if strings.EqualFold(t, n) {
			return i, nil
		}
	}
	return 0, errorf(ErrUnknownValue, "%s %q (want one of %s)", what, s, strings.Join(names, ", "))
}

// Valid reports whether p is one of the defined values.
func (p Priority) Valid() bool { return p >= 0 && int(p) < len(priorityNames) }

// Valid reports whether i is one of the defined values.
func (i Importance) Valid() bool { return i >= 0 && int(i) < len(importanceNames) }

// Valid reports whether s is one of the defined values.
func (s Sensitivity) Valid() bool { return s >= 0 && int(s) < len(sensitivityNames) }

// PriorityFields returns the header fields for p, i and s, in this order:
// Priority, X-Priority, Importance, Sensitivity. Unspecified values write
// nothing.
//
//	Priority   urgent / normal / non-urgent  ->  Priority: urgent / normal / non-urgent
//	                                             X-Priority: 1 / 3 / 5
//	Importance high / normal / low           ->  Importance: high / normal / low
//	                                             (X-Priority: 1 / 3 / 5 when Priority is unspecified)
//	Sensitivity personal / private / company-confidential
//	                                         ->  Sensitivity: Personal / Private / Company-Confidential
//
// X-Priority carries Priority when it is set, otherwise Importance, so that
// Thunderbird, which reads only X-Priority, shows what Outlook shows.
// Values outside the defined range are an error wrapping ErrUnknownValue.
func PriorityFields(p Priority, i Importance, s Sensitivity) ([]Field, error) {
	switch {
	case !p.Valid():
		return nil, errorf(ErrUnknownValue, "priority %d", int(p))
	case !i.Valid():
		return nil, errorf(ErrUnknownValue, "importance %d", int(i))
	case !s.Valid():
		return nil, errorf(ErrUnknownValue, "sensitivity %d", int(s))
	}
	var fs []Field
	xp := ""
	switch p {
	case PriorityUrgent:
		fs = append(fs, Field{"Priority", "urgent"})
		xp = "1"
	case PriorityNormal:
		fs = append(fs, Field{"Priority", "normal"})
		xp = "3"
	case PriorityNonUrgent:
		fs = append(fs, Field{"Priority", "non-urgent"})
		xp = "5"
	}
	if xp == "" {
		switch i {
		case ImportanceHigh:
			xp = "1"
		case ImportanceNormal:
			xp = "3"
		case ImportanceLow:
			xp = "5"
		}
	}
	if xp != "" {
		fs = append(fs, Field{"X-Priority", xp})
	}
	switch i {
	case ImportanceHigh:
		fs = append(fs, Field{"Importance", "high"})
	case ImportanceNormal:
		fs = append(fs, Field{"Importance", "normal"})
	case ImportanceLow:
		fs = append(fs, Field{"Importance", "low"})
	}
	switch s {
	case SensitivityPersonal:
		fs = append(fs, Field{"Sensitivity", "Personal"})
	case SensitivityPrivate:
		fs = append(fs, Field{"Sensitivity", "Private"})
	case SensitivityCompanyConfidential:
		fs = append(fs, Field{"Sensitivity", "Company-Confidential"})
	}
	return fs, nil
}
