package mailwarden_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mailwarden"
)

// This example is the "Send test email" button: a short message from the
// profile's From address, marked as a test in the audit trail.
func ExampleSender_SendTest() {
	relay := startExampleRelay("alerts", "pw") // your relay instead
	defer relay.Close()
	dir := relay.Dir
	os.WriteFile(filepath.Join(dir, "pw"), []byte("pw\n"), 0o600)

	sender, err := mailwarden.NewSender(context.Background(), mailwarden.Profile{
		Name:    "alerts",
		Servers: []string{relay.Addr + "-starttls"},
		CAFile:  relay.CAFile,
		From:    "Alerts <alerts@example.com>",
		Auth:    mailwarden.Auth{Mechanism: "auto", Username: "alerts", Password: mailwarden.SecretRef("file:" + filepath.Join(dir, "pw"))},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sender.Close()
	res, err := sender.SendTest(context.Background(), "ops@example.com")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Reply.Code, res.Accepted())
	fmt.Println(strings.Contains(string(relay.Received()[0].Data), "Subject: Mailwarden test message (profile alerts)"))
	// Output:
	// 250 [ops@example.com]
	// true
}

// This example loads profiles from a configuration file. Errors name the
// file, the profile and the field.
func ExampleParseConfig() {
	conf := []byte(`{
	  "active": "alerts",
	  "profiles": [
	    {"name": "alerts", "provider": "exchange-online", "from": "alerts@example.com",
	     "auth": {"username": "alerts@example.com", "oauth_token": "env:O365_TOKEN"}},
	    {"name": "relay", "servers": ["relay.example.com:25"], "tls": "explicit", "timeout": "20s"}
	  ]
	}`)
	c, err := mailwarden.ParseConfig(conf, "mailwarden.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, _ := c.Profile("") // the active one
	p, _ = p.WithPreset()
	fmt.Println(p.Name, p.Servers, p.TLS, p.Auth.Mechanism)
	r, _ := c.Profile("relay")
	fmt.Println(r.Name, r.Timeout)

	_, err = mailwarden.ParseConfig([]byte(`{"profiles":[{"name":"relay","servers":["relay.example.com"],"auth":{"pasword":"env:X"}}]}`), "mailwarden.json")
	var ce *mailwarden.ConfigError
	fmt.Println(errors.As(err, &ce), ce.Profile, ce.Field)
	fmt.Println(err)
	// Output:
	// alerts [smtp.office365.com:587-starttls] explicit XOAUTH2
	// relay 20s
	// true relay pasword
	// mailwarden: mailwarden.json: profile relay: pasword: unknown field (misspelt, or not a setting of this version)
}

// This example imports the XML <SMTP> block an older product kept. The
// password it held is handed back separately, never put into the profile.
func ExampleImportSMTPXML() {
	xml := `<Settings><SMTP>
	  <Host>mail.example.com</Host><HostPort>587-starttls</HostPort>
	  <LoginMethod>AuthLoginMethod</LoginMethod><User>alerts</User><Password>Secret-1</Password>
	  <Helo>app01.example.com</Helo><MaxSubjectLength>120</MaxSubjectLength><From>alerts@example.com</From>
	</SMTP></Settings>`
	imp, err := mailwarden.ImportSMTPXML(strings.NewReader(xml), "legacy")
	if err != nil {
		fmt.Println(err)
		return
	}
	p := imp.Profile
	fmt.Println(p.Servers, p.Auth.Mechanism, p.Auth.Username, p.HeloName, p.MaxSubjectLength, p.From)
	fmt.Println(p.Auth.Password == "", imp.Password != "")
	// Output:
	// [mail.example.com:587-starttls] LOGIN alerts app01.example.com 120 alerts@example.com
	// true true
}

// This example lists the provider presets an admin screen's drop-down
// offers.
func ExamplePresets() {
	for _, p := range mailwarden.Presets() {
		fmt.Printf("%s %v %q\n", p.Name, p.Servers, p.Mechanism)
	}
	// Output:
	// custom [] ""
	// exchange-online [smtp.office365.com:587-starttls] "XOAUTH2"
	// exchange-online-china [smtp.partner.outlook.cn:587-starttls] "XOAUTH2"
	// exchange-online-usgov [smtp.office365.us:587-starttls] "XOAUTH2"
	// gmail [smtp.gmail.com:587-starttls] "XOAUTH2"
	// outlook.com [smtp-mail.outlook.com:587-starttls] "XOAUTH2"
	// yahoo [smtp.mail.yahoo.com:465-ssl] "auto"
}
