package envelope_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"mailwarden/envelope"
	"mailwarden/headers"
)

// zeroRand makes the Message-ID reproducible for the example.
type zeroRand struct{}

func (zeroRand) Read(b []byte) (int, error) { clear(b); return len(b), nil }

func ExampleMessage_WriteTo() {
	to, err := headers.ParseAddressList(`ops@example.com; "Doe, Jane" <jane@example.org>`)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := &envelope.Message{
		From:     headers.Address{Name: "Alerts", Addr: "alerts@example.com"},
		To:       to,
		Subject:  "Disk almost full",
		Text:     "Volume /var is 95% full.",
		Priority: headers.PriorityUrgent,
		Clock:    func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		Rand:     zeroRand{},
	}
	var out strings.Builder
	if _, err := m.WriteTo(&out); err != nil {
		fmt.Println(err)
		return
	}
	os.Stdout.WriteString(strings.ReplaceAll(out.String(), "\r\n", "\n"))
	// Output:
	// Date: Fri, 02 Jan 2026 03:04:05 +0000
	// From: Alerts <alerts@example.com>
	// To: ops@example.com, "Doe, Jane" <jane@example.org>
	// Subject: Disk almost full
	// Message-ID: <aaaaaaaaaaaaaaaaaaaaaaaaaa@example.com>
	// Priority: urgent
	// X-Priority: 1
	// MIME-Version: 1.0
	// Content-Type: text/plain; charset=utf-8
	// Content-Transfer-Encoding: 7bit
	//
	// Volume /var is 95% full.
}
