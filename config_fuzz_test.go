package mailwarden

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzParseConfig: any input either fails with a *ConfigError, or parses
// to a configuration that writes back out and parses again to the very
// same bytes (nothing read is lost or changed on the way).
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte(`{"profiles":[{"name":"a","servers":["m.example.com:465-ssl"],"timeout":1.5,"graph":{"max_retry_wait":"1m"}}]}`))
	f.Add([]byte(`{"profiles":[{"name":"g","provider":"exchange-online","transport":"graph","auth":{"oauth":{"flow":"client_credentials","client_id":"c","tenant_id":"t","client_secret":"env:S"}}}]}`))
	f.Add([]byte(`{"active":"x","profiles":[{"name":"x","servers":["[::1]:25"],"headers":[{"name":"X-A","value":"b"}],"reply_to":"a@example.com; b@example.org"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "fuzz.json")
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		c2, err := ParseConfig(out, "again.json")
		if err != nil {
			t.Fatalf("what was written does not parse: %v\n%s", err, out)
		}
		out2, _ := json.Marshal(c2)
		if !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}

// FuzzImportSMTPXML: any input either fails with a *ConfigError, or gives
// a profile that validates and holds no inline password.
func FuzzImportSMTPXML(f *testing.F) {
	f.Add(`<SMTP><Host>mail.example.com</Host><HostPort>587-starttls</HostPort><LoginMethod>AuthLoginMethod</LoginMethod><User>u</User><Password>Inline-Secret</Password><From>a@example.com</From></SMTP>`)
	f.Add(`<x><SMTP><Host>::1</Host><HostPort>25</HostPort><Password>env:P</Password><MaxSubjectLength>10</MaxSubjectLength></SMTP></x>`)
	f.Fuzz(func(t *testing.T, doc string) {
		imp, err := ImportSMTPXML(strings.NewReader(doc), "fuzz")
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			return
		}
		if err := imp.Profile.Validate(); err != nil {
			t.Fatalf("imported profile does not validate: %v", err)
		}
		if imp.Password != "" && string(imp.Profile.Auth.Password) == imp.Password {
			t.Fatalf("the inline password reached the profile: %+v", imp.Profile.Auth)
		}
	})
}
