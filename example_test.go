package mailwarden_test

import (
	"context"
	"fmt"
	"os"

	"mailwarden"
	"mailwarden/envelope"
	"mailwarden/headers"
)

// This example sends an urgent alert through a relay over STARTTLS with
// SASL authentication. The relay here is an embedded one on 127.0.0.1 with
// a throwaway CA; a real profile names the customer's relay.
func ExampleSender_Send() {
	relay := startExampleRelay("alerts", "relay-password") // your relay instead
	defer relay.Close()
	os.Setenv("RELAY_PASSWORD", "relay-password")

	profile := mailwarden.Profile{
		Name:    "alerts",
		Servers: []string{relay.Addr + "-starttls"},
		CAFile:  relay.CAFile,
		Auth:    mailwarden.Auth{Mechanism: "auto", Username: "alerts", Password: "env:RELAY_PASSWORD"},
	}
	ctx := context.Background()
	sender, err := mailwarden.NewSender(ctx, profile, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sender.Close()

	res, err := sender.Send(ctx, &envelope.Message{
		From:     headers.Address{Name: "Alerts", Addr: "alerts@example.com"},
		To:       []headers.Address{{Addr: "ops@example.com"}},
		Subject:  "Disk almost full",
		Text:     "Volume /var is 95% full.\r\n",
		Priority: headers.PriorityUrgent,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Reply.Code, res.QueueID, res.Accepted())
	got := relay.Received()[0]
	fmt.Println(got.AuthMech, got.TLS)
	// Output:
	// 250 DEMO0001 [ops@example.com]
	// CRAM-MD5 true
}

// This example is the "Test connection" button: it connects, negotiates
// TLS and authenticates, and sends no mail.
func ExampleSender_Probe() {
	relay := startExampleRelay("alerts", "pw") // your relay instead
	defer relay.Close()

	sender, err := mailwarden.NewSender(context.Background(), mailwarden.Profile{
		Servers: []string{relay.Addr + "-starttls"},
		CAFile:  relay.CAFile,
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sender.Close()
	rep, err := sender.Probe(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	info := rep.Servers[0].Info
	fmt.Println(info.TLSModeUsed(), info.AuthMechanisms)
	// Output:
	// starttls [CRAM-MD5 PLAIN]
}
