package mailwarden_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"mailwarden"
	"mailwarden/envelope"
	"mailwarden/headers"
)

// This example drives a program's own progress display from
// Options.Progress: it prints each phase once (a real display would
// redraw on every transferring event, Written of Total), and at the end
// whether every byte was written.
func ExampleOptions_progress() {
	relay := startExampleRelay("alerts", "relay-password") // your relay instead
	defer relay.Close()
	os.Setenv("RELAY_PASSWORD", "relay-password")

	last := mailwarden.Phase(0)
	progress := func(ev mailwarden.ProgressEvent) {
		switch {
		case ev.Phase == mailwarden.PhaseDone:
			fmt.Println(ev.Phase, ev.Written == ev.Total && ev.Total > 0)
		case ev.Phase != last:
			fmt.Println(ev.Phase)
		}
		last = ev.Phase
	}
	sender, err := mailwarden.NewSender(context.Background(), mailwarden.Profile{
		Servers: []string{relay.Addr + "-starttls"},
		CAFile:  relay.CAFile,
		Auth:    mailwarden.Auth{Mechanism: "auto", Username: "alerts", Password: "env:RELAY_PASSWORD"},
	}, &mailwarden.Options{Progress: progress})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sender.Close()
	_, err = sender.Send(context.Background(), &envelope.Message{
		From:    headers.Address{Addr: "alerts@example.com"},
		To:      []headers.Address{{Addr: "ops@example.com"}},
		Subject: "Monthly report",
		Text:    strings.Repeat("a line of the report\r\n", 10000),
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// building
	// spooling
	// connecting
	// transferring
	// done true
}
