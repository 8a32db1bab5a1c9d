// Package msgenv lets package envelope hand the SMTP envelope of the
// message it writes to the writer it writes to, so that a caller that needs
// both (Sender.Send) builds and checks the message once instead of twice
// (Message.Envelope, then Message.WriteTo).
package msgenv

// An Envelope is what Message.Envelope returns: the reverse-path, every
// recipient once, and whether SMTPUTF8 is needed.
type Envelope struct {
	From     string
	To       []string
	SMTPUTF8 bool
}

// A Receiver is a writer that wants the envelope of the message written to
// it. Message.WriteTo calls SetEnvelope once the message is found valid,
// before it writes anything.
type Receiver interface {
	SetEnvelope(Envelope)
}
