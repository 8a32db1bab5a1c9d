package authmech_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"mailwarden/authmech"
)

// apiKeyClient is an embedding product's own mechanism: X-APIKEY sends a
// key as the initial response.
type apiKeyClient struct{ key authmech.Secret }

func (c *apiKeyClient) Start(_ context.Context, info *authmech.ServerInfo) (string, []byte, error) {
	if !info.Encrypted() {
		return "", nil, authmech.ErrPlaintextRefused
	}
	return "X-APIKEY", []byte(c.key.Reveal()), nil
}

func (c *apiKeyClient) Next(context.Context, []byte) ([]byte, error) {
	return nil, fmt.Errorf("x-apikey: unexpected challenge")
}

func ExampleRegistry_Register() {
	reg := authmech.NewRegistry()
	err := reg.Register(authmech.Mechanism{
		Name: "X-APIKEY",
		New: func(c authmech.Credentials) (authmech.Client, error) {
			return &apiKeyClient{key: c.Password}, nil
		},
		Satisfies: func(c authmech.Credentials) bool { return c.Password != "" },
		Rank:      authmech.RankPLAIN + 1, // auto may pick it, over TLS, before PLAIN
	}, "ApiKeyMethod")
	if err != nil {
		panic(err)
	}

	creds := authmech.Credentials{Username: "svc", Password: "k-123"}
	client, err := reg.Client("apikeymethod", creds)
	if err != nil {
		panic(err)
	}
	info := &authmech.ServerInfo{
		Name:       "relay.example.com",
		TLS:        &tls.ConnectionState{HandshakeComplete: true},
		Mechanisms: []string{"X-APIKEY", "PLAIN"},
	}
	mech, ir, err := client.Start(context.Background(), info)
	fmt.Println(mech, string(ir), err)
	fmt.Printf("%v\n", creds.Password)
	// Output:
	// X-APIKEY k-123 <nil>
	// [REDACTED]
}

func ExampleRegistry_Client() {
	reg := authmech.NewRegistry()
	client, err := reg.Client("Auto", authmech.Credentials{Username: "tim", Password: "tanstaaftanstaaf"})
	if err != nil {
		panic(err)
	}
	info := &authmech.ServerInfo{
		Name:       "relay.example.com",
		TLS:        &tls.ConnectionState{HandshakeComplete: true},
		Mechanisms: []string{"LOGIN", "PLAIN", "CRAM-MD5"},
	}
	mech, _, err := client.Start(context.Background(), info) // CRAM-MD5 ranks above PLAIN and LOGIN
	fmt.Println(mech, err)
	resp, _ := client.Next(context.Background(), []byte("<1896.697170952@postoffice.reston.mci.net>"))
	fmt.Println(string(resp))

	// Without TLS (a STARTTLS stripped on the way) auto picks nothing.
	clear, _ := reg.Client("Auto", authmech.Credentials{Username: "tim", Password: "tanstaaftanstaaf"})
	_, _, err = clear.Start(context.Background(), &authmech.ServerInfo{Name: "relay.example.com", Mechanisms: info.Mechanisms})
	fmt.Println(errors.Is(err, authmech.ErrPlaintextRefused))

	none, err := reg.Client("NoLoginMethod", authmech.Credentials{})
	fmt.Println(none == nil, err)
	// Output:
	// CRAM-MD5 <nil>
	// tim b913a602c7eda7a495b4e6e7334d3890
	// true
	// true <nil>
}
