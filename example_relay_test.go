package mailwarden_test

import (
	"os"
	"path/filepath"

	"mailwarden/internal/fakes"
	"mailwarden/internal/testcert"
)

// exampleRelay stands in, for the examples, for the customer's relay: an
// embedded submission server on 127.0.0.1 (STARTTLS, AUTH after TLS for
// one user) whose certificate a throwaway CA issued. A program of yours
// puts its own relay's address and CA file in the profile instead.
type exampleRelay struct {
	Addr   string // host:port
	CAFile string // the CA that issued the relay's certificate, PEM
	Dir    string // a scratch directory, removed by Close
	relay  *fakes.Relay
}

// startExampleRelay starts a relay that accepts user and password.
func startExampleRelay(user, password string) *exampleRelay {
	certs, err := testcert.NewLoopback()
	if err != nil {
		panic(err)
	}
	r, err := fakes.StartRelay(certs.Server.TLS(), user, password)
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, certs.CA.CertPEM, 0o644); err != nil {
		panic(err)
	}
	return &exampleRelay{Addr: r.Addr(), CAFile: ca, Dir: dir, relay: r}
}

// Received returns the messages the relay accepted.
func (e *exampleRelay) Received() []fakes.Received { return e.relay.Messages() }

// Close stops the relay and removes the scratch directory.
func (e *exampleRelay) Close() {
	e.relay.Close()
	os.RemoveAll(e.Dir)
}
