package main

import (
	"fmt"
	"strings"
)

// stateSummary counts outbox entries by state for the last line of
// 'outbox list': "3 entries: 1 queued, 1 deferred, 1 dead".
func stateSummary(states []string) string {
	if len(states) == 0 {
		return "0 entries"
	}
	counts := map[string]int{}
	for _, s := range states {
		counts[s]++
	}
	var parts []string
	for _, s := range []string{"queued", "deferred", "delivered", "dead"} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
			delete(counts, s)
		}
	}
	for s, n := range counts { // a state this version does not name
		parts = append(parts, fmt.Sprintf("%d %s", n, s))
	}
	noun := "entries"
	if len(states) == 1 {
		noun = "entry"
	}
	return fmt.Sprintf("%d %s: %s", len(states), noun, strings.Join(parts, ", "))
}
