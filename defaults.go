package mailwarden

import (
	"errors"
	"fmt"
	"sync"

	"mailwarden/envelope"
	"mailwarden/headers"
)

// messageDefaults are a profile's message defaults, parsed once.
type messageDefaults struct {
	from            headers.Address
	hasFrom         bool
	organization    string
	replyTo         []headers.Address
	to, cc          []headers.Address
	readReceiptTo   []headers.Address
	returnReceiptTo []headers.Address
	priority        headers.Priority
	importance      headers.Importance
	sensitivity     headers.Sensitivity
	header          []headers.Field
	maxSubject      int
}

// parseDefaults checks the profile's message defaults. Errors are
// *ConfigError naming the field.
func parseDefaults(p Profile) (*messageDefaults, error) {
	bad := func(field string, err error) (*messageDefaults, error) {
		return nil, &ConfigError{Profile: p.Name, Field: field, Err: err}
	}
	d := &messageDefaults{organization: p.Organization, maxSubject: p.MaxSubjectLength}
	var err error
	if p.From != "" {
		if d.from, err = headers.ParseAddress(p.From); err != nil {
			return bad("from", err)
		}
		d.hasFrom = true
	}
	if err := headers.CheckText(p.Organization); err != nil {
		return bad("organization", err)
	}
	lists := []struct {
		field string
		in    string
		out   *[]headers.Address
	}{
		{"reply_to", p.ReplyTo, &d.replyTo},
		{"to", p.To, &d.to},
		{"cc", p.Cc, &d.cc},
		{"read_receipt_to", p.ReadReceiptTo, &d.readReceiptTo},
		{"return_receipt_to", p.ReturnReceiptTo, &d.returnReceiptTo},
	}
	for _, l := range lists {
		if l.in == "" {
			continue
		}
		if *l.out, err = headers.ParseAddressList(l.in); err != nil {
			return bad(l.field, err)
		}
	}
	if p.Priority != "" {
		if d.priority, err = headers.ParsePriority(p.Priority); err != nil {
			return bad("priority", err)
		}
	}
	if p.Importance != "" {
		if d.importance, err = headers.ParseImportance(p.Importance); err != nil {
			return bad("importance", err)
		}
	}
	if p.Sensitivity != "" {
		if d.sensitivity, err = headers.ParseSensitivity(p.Sensitivity); err != nil {
			return bad("sensitivity", err)
		}
	}
	if p.MaxSubjectLength < 0 {
		return bad("max_subject_length", errors.New("must not be negative"))
	}
	for i, h := range p.Headers {
		field := fmt.Sprintf("headers[%d]", i)
		if err := headers.CheckFieldName(h.Name); err != nil {
			return bad(field+".name", err)
		}
		if err := headers.CheckText(h.Value); err != nil {
			return bad(field+".value", err)
		}
		d.header = append(d.header, headers.Field{Name: h.Name, Value: h.Value})
	}
	// The envelope package refuses header names it writes itself; find out
	// now, with a message that uses every default.
	if len(d.header) > 0 {
		probe := &envelope.Message{From: headers.Address{Addr: "probe@example.com"}, To: []headers.Address{{Addr: "probe@example.com"}}, Header: d.header}
		if err := probe.Validate(); err != nil {
			return bad("headers", err)
		}
	}
	return d, nil
}

// messageCopies holds the copies apply makes, for a caller that is done
// with one to give it back (releaseCopy).
var messageCopies = sync.Pool{New: func() any { return new(envelope.Message) }}

// releaseCopy gives back a copy apply returned, once nothing refers to it
// any more (the message is written); it keeps none of the message's data.
func releaseCopy(m *envelope.Message) {
	*m = envelope.Message{}
	messageCopies.Put(m)
}

// apply returns a copy of m with every field it leaves empty filled from
// the defaults. m itself is not modified.
func (d *messageDefaults) apply(m *envelope.Message) *envelope.Message {
	mm := messageCopies.Get().(*envelope.Message)
	*mm = *m
	if mm.From.Addr == "" && d.hasFrom {
		mm.From = d.from
	}
	if len(mm.To)+len(mm.Cc)+len(mm.Bcc) == 0 {
		mm.To, mm.Cc = d.to, d.cc
	}
	if mm.Organization == "" {
		mm.Organization = d.organization
	}
	if len(mm.ReplyTo) == 0 {
		mm.ReplyTo = d.replyTo
	}
	if len(mm.ReadReceiptTo) == 0 {
		mm.ReadReceiptTo = d.readReceiptTo
	}
	if len(mm.ReturnReceiptTo) == 0 {
		mm.ReturnReceiptTo = d.returnReceiptTo
	}
	if mm.Priority == headers.PriorityUnspecified {
		mm.Priority = d.priority
	}
	if mm.Importance == headers.ImportanceUnspecified {
		mm.Importance = d.importance
	}
	if mm.Sensitivity == headers.SensitivityUnspecified {
		mm.Sensitivity = d.sensitivity
	}
	if mm.MaxSubjectLength == 0 {
		mm.MaxSubjectLength = d.maxSubject
	}
	switch {
	case len(d.header) > 0 && len(m.Header) == 0:
		mm.Header = d.header[:len(d.header):len(d.header)] // read only, like m
	case len(d.header) > 0:
		mm.Header = append(append(make([]headers.Field, 0, len(d.header)+len(m.Header)), d.header...), m.Header...)
	}
	return mm
}
