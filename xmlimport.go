package mailwarden

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// ImportedSMTP is what ImportSMTPXML found.
type ImportedSMTP struct {
	// Profile holds the imported settings. Its Auth.Password is empty when
	// the XML held a password value: see Password.
	Profile Profile
	// Password is the password the XML held inline, if any. It is not put
	// into the Profile, which holds only references: store it in a vault,
	// a file or the environment and set Profile.Auth.Password to a
	// reference to it.
	Password string
	// Warnings name elements that were not imported.
	Warnings []string
}

// ImportSMTPXML reads the first <SMTP> element of an XML document (other
// elements around it are skipped), the settings block some products keep:
//
//	<SMTP>
//	  <Host>mail.example.com</Host>
//	  <HostPort>587-starttls</HostPort>   (also 25, 465-ssl, 465-nossl)
//	  <LoginMethod>AuthLoginMethod</LoginMethod>
//	  <User>alerts</User>
//	  <Password>...</Password>
//	  <Helo>app01.example.com</Helo>
//	  <MaxSubjectLength>200</MaxSubjectLength>
//	  <From>alerts@example.com</From>
//	  <SenderName>Alerts</SenderName>    (the display name of From)
//	</SMTP>
//
// Element names match case-insensitively. A Password of the form env:NAME or
// file:PATH is kept as a reference; any other value is returned in
// ImportedSMTP.Password, never in the Profile. The profile is validated;
// errors are *ConfigError naming the XML element.
func ImportSMTPXML(r io.Reader, name string) (*ImportedSMTP, error) {
	dec := xml.NewDecoder(r)
	bad := func(field string, err error) (*ImportedSMTP, error) {
		return nil, &ConfigError{Profile: name, Field: field, Err: err}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return bad("SMTP", errors.New("the document has no <SMTP> element"))
		}
		if err != nil {
			return bad("SMTP", fmt.Errorf("not well-formed XML: %w", err))
		}
		se, ok := tok.(xml.StartElement)
		if !ok || !strings.EqualFold(se.Name.Local, "SMTP") {
			continue
		}
		vals := map[string]string{}
		imp := &ImportedSMTP{}
		if err := readChildren(dec, vals, imp); err != nil {
			return bad("SMTP", err)
		}
		return buildImported(name, vals, imp)
	}
}

// readChildren collects the text of each direct child element of the
// current element, lower-cased by name.
func readChildren(dec *xml.Decoder, vals map[string]string, imp *ImportedSMTP) error {
	for {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			var text string
			if err := dec.DecodeElement(&text, &t); err != nil {
				return fmt.Errorf("<%s>: %w", t.Name.Local, err)
			}
			key := strings.ToLower(t.Name.Local)
			if _, dup := vals[key]; dup {
				return fmt.Errorf("<%s> appears twice", t.Name.Local)
			}
			vals[key] = strings.TrimSpace(text)
		}
	}
}

func buildImported(name string, vals map[string]string, imp *ImportedSMTP) (*ImportedSMTP, error) {
	bad := func(field string, err error) (*ImportedSMTP, error) {
		return nil, &ConfigError{Profile: name, Field: field, Err: err}
	}
	p := Profile{Name: name, Description: "imported from an XML <SMTP> block"}
	host := vals["host"]
	if host == "" {
		return bad("Host", errors.New("missing or empty"))
	}
	if strings.ContainsAny(host, " \t\r\n/") {
		return bad("Host", fmt.Errorf("%q is not a host name", host))
	}
	server := host
	if hp := vals["hostport"]; hp != "" {
		port, _, _ := strings.Cut(hp, "-")
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return bad("HostPort", fmt.Errorf("%q: want a port, optionally with -starttls, -ssl or -nossl (e.g. 587-starttls)", hp))
		}
		if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
			host = "[" + host + "]" // an IPv6 literal
		}
		server = host + ":" + hp
	}
	p.Servers = []string{server}
	if lm := vals["loginmethod"]; lm != "" {
		canon, ok := newRegistry().Canonical(lm)
		if !ok {
			return bad("LoginMethod", fmt.Errorf("unknown login method %q (%s)", lm, acceptedMechanisms()))
		}
		p.Auth.Mechanism = canon
	}
	p.Auth.Username = vals["user"]
	if pw := vals["password"]; pw != "" {
		if strings.HasPrefix(pw, "env:") || strings.HasPrefix(pw, "file:") {
			p.Auth.Password = SecretRef(pw)
		} else {
			imp.Password = pw
		}
	}
	p.HeloName = vals["helo"]
	if ms := vals["maxsubjectlength"]; ms != "" {
		n, err := strconv.Atoi(ms)
		if err != nil || n < 0 {
			return bad("MaxSubjectLength", fmt.Errorf("%q is not a non-negative number", ms))
		}
		p.MaxSubjectLength = n
	}
	p.From = vals["from"]
	if err := importSenderName(&p, vals["sendername"], imp); err != nil {
		return bad("SenderName", err)
	}
	known := map[string]bool{"host": true, "hostport": true, "loginmethod": true, "user": true, "password": true, "helo": true, "maxsubjectlength": true, "from": true, "sendername": true}
	for k := range vals {
		if !known[k] {
			imp.Warnings = append(imp.Warnings, fmt.Sprintf("<%s> is not a setting Mailwarden imports; it was skipped", k))
		}
	}
	sort.Strings(imp.Warnings)
	if err := p.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.Field = xmlField(ce.Field)
		}
		return nil, err
	}
	imp.Profile = p
	return imp, nil
}

// xmlField names the XML element a profile field came from.
func xmlField(f string) string {
	switch {
	case strings.HasPrefix(f, "servers"):
		return "Host/HostPort"
	case f == "auth.mechanism":
		return "LoginMethod"
	case f == "helo":
		return "Helo"
	case f == "from":
		return "From"
	case f == "max_subject_length":
		return "MaxSubjectLength"
	}
	return f
}
