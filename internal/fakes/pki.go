package fakes

import (
	"bytes"
	"crypto/tls"

	"mailwarden/internal/testcert"
	"mailwarden/smime"
)

// A PKI is a throwaway certificate authority with what the demo needs from
// it: a TLS certificate for 127.0.0.1 and localhost, and S/MIME identities
// for a signer (alerts@example.com) and a recipient (ops@example.com).
type PKI struct {
	CAPEM     []byte          // the CA certificate, PEM
	Server    tls.Certificate // for 127.0.0.1, ::1 and localhost
	Signer    *testcert.Leaf
	Recipient *testcert.Leaf

	loopback *testcert.Loopback
}

// NewPKI makes a PKI.
func NewPKI() (*PKI, error) {
	lb, err := testcert.NewLoopback()
	if err != nil {
		return nil, err
	}
	signer, err := lb.CA.Issue(testcert.Options{CommonName: "Mailwarden Demo Signer", Emails: []string{"alerts@example.com"}, Purpose: testcert.SMIME})
	if err != nil {
		return nil, err
	}
	recipient, err := lb.CA.Issue(testcert.Options{CommonName: "Ops Team", Emails: []string{"ops@example.com"}, Key: testcert.RSA2048, Purpose: testcert.SMIME})
	if err != nil {
		return nil, err
	}
	return &PKI{CAPEM: lb.CA.CertPEM, Server: lb.Server.TLS(), Signer: signer, Recipient: recipient, loopback: lb}, nil
}

// OpenAsRecipient opens an S/MIME message as the recipient's mail client
// would: it decrypts it with the recipient's key and verifies the
// signature against the PKI's CA.
func (p *PKI) OpenAsRecipient(msg []byte) (*smime.Message, error) {
	r := p.Recipient
	return smime.Open(bytes.NewReader(msg), smime.OpenOptions{
		Roots:    p.loopback.CA.Pool(),
		Identity: &smime.Identity{Cert: r.Cert, Key: r.Key, Chain: r.Chain},
	})
}
