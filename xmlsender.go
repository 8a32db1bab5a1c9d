package mailwarden

import (
	"errors"

	"mailwarden/headers"
)

// importSenderName puts an XML <SenderName> (the display name some
// products keep apart from <From>) into p.From: "Alerts" and
// "alerts@example.com" become "Alerts <alerts@example.com>". A From that
// has a display name of its own keeps it, with a warning.
func importSenderName(p *Profile, name string, imp *ImportedSMTP) error {
	if name == "" {
		return nil
	}
	if err := headers.CheckText(name); err != nil {
		return err
	}
	if p.From == "" {
		return errors.New("a sender name needs <From>, the address it names")
	}
	from, err := headers.ParseAddress(p.From)
	if err != nil {
		return nil // Validate names From
	}
	if from.Name != "" && from.Name != name {
		imp.Warnings = append(imp.Warnings, "<SenderName> was not used: <From> has a display name of its own ("+from.Name+")")
		return nil
	}
	from.Name = name
	p.From = from.String()
	return nil
}
