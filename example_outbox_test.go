package mailwarden_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"mailwarden"
	"mailwarden/envelope"
	"mailwarden/headers"
)

// This example queues an alert durably and delivers it. Enqueue returns once
// the message is on disk, so it survives a crash or a relay outage; Run (or
// RunOnce) delivers, retrying temporary failures with backoff.
func ExampleSender_OpenOutbox() {
	relay := startExampleRelay("alerts", "pw") // your relay instead
	defer relay.Close()
	dir := relay.Dir
	os.WriteFile(filepath.Join(dir, "pw"), []byte("pw"), 0o600)

	sender, err := mailwarden.NewSender(context.Background(), mailwarden.Profile{
		Servers: []string{relay.Addr + "-starttls"},
		CAFile:  relay.CAFile,
		Auth:    mailwarden.Auth{Mechanism: "auto", Username: "alerts", Password: mailwarden.SecretRef("file:" + filepath.Join(dir, "pw"))},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sender.Close()
	ob, err := sender.OpenOutbox(mailwarden.OutboxConfig{Dir: filepath.Join(dir, "spool"), RateLimit: 30})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ob.Close()

	m := &envelope.Message{
		From:    headers.Address{Addr: "alerts@example.com"},
		To:      []headers.Address{{Addr: "ops@example.com"}},
		Subject: "Disk almost full",
		Text:    "Volume /var is 95% full.\r\n",
	}
	entry, err := ob.Enqueue(context.Background(), m)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(entry.State, entry.Envelope.MessageID == m.MessageID)
	st, err := ob.RunOnce(context.Background()) // a service runs ob.Run(ctx) instead
	fmt.Printf("%+v %v %d\n", st, err, len(relay.Received()))
	// Output:
	// queued true
	// {Delivered:1 Deferred:0 Dead:0 Quarantined:0} <nil> 1
}
