package headers

import (
	"errors"
	"strings"
	"testing"
)

// TestParsePriorityAdminScreenAliases: the seed screens say high and low.
func TestParsePriorityAdminScreenAliases(t *testing.T) {
	for in, want := range map[string]Priority{"high": PriorityUrgent, "High": PriorityUrgent, " LOW ": PriorityNonUrgent, "urgent": PriorityUrgent, "non-urgent": PriorityNonUrgent} {
		if got, err := ParsePriority(in); err != nil || got != want {
			t.Errorf("ParsePriority(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	_, err := ParsePriority("asap")
	if !errors.Is(err, ErrUnknownValue) || !strings.Contains(err.Error(), "high, low") {
		t.Errorf("ParsePriority(asap) error %v: want ErrUnknownValue listing the aliases", err)
	}
}
