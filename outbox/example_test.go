package outbox_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"mailwarden/outbox"
)

// Queue an alert durably, then deliver it through a Deliverer (here one
// that prints; the root package's Sender.OpenOutbox delivers over SMTP).
func Example() {
	dir, _ := os.MkdirTemp("", "outbox-example-*")
	defer os.RemoveAll(dir)
	show := outbox.DelivererFunc(func(ctx context.Context, env outbox.Envelope, open outbox.Opener) (string, error) {
		r, err := open()
		if err != nil {
			return "", err
		}
		defer r.(io.Closer).Close()
		b, err := io.ReadAll(r)
		fmt.Printf("to %v: %q\n", env.To, b)
		return "4Q2x", err
	})
	o, err := outbox.Open(outbox.Config{Dir: dir, Deliverer: show})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer o.Close()
	env := outbox.Envelope{From: "alerts@example.com", To: []string{"ops@example.org"}, MessageID: "1@example.com"}
	_, err = o.Enqueue(context.Background(), env, func(w io.Writer) error {
		_, err := io.Copy(w, strings.NewReader("Subject: disk full\r\n\r\ndb-01\r\n"))
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := o.RunOnce(context.Background())
	fmt.Printf("%+v %v\n", st, err)
	// Output:
	// to [ops@example.org]: "Subject: disk full\r\n\r\ndb-01\r\n"
	// {Delivered:1 Deferred:0 Dead:0 Quarantined:0} <nil>
}
