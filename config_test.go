package mailwarden

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/envelope"
	"mailwarden/headers"
	"mailwarden/internal/smtptest"
)

const goodConfig = `{
  "active": "alerts",
  "profiles": [
    {
      "name": "alerts",
      "description": "on-prem relay",
      "servers": ["relay.example.com:587-starttls", "backup.example.com:465-ssl"],
      "timeout": "45s",
      "from": "Alerts <alerts@example.com>",
      "organization": "Example Corp",
      "priority": "urgent",
      "headers": [{"name": "X-Alert-Source", "value": "monitor"}],
      "max_subject_length": 80,
      "auth": {"mechanism": "auto", "username": "alerts", "password": "env:SMTP_PASSWORD"}
    },
    {
      "name": "o365",
      "provider": "exchange-online",
      "from": "alerts@example.com",
      "timeout": 10
    }
  ]
}`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(goodConfig), "mailwarden.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Names(), ","); got != "alerts,o365" {
		t.Fatalf("names = %s", got)
	}
	p, err := c.Profile("")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "alerts" || p.Timeout != 45*time.Second || p.Auth.Password != "env:SMTP_PASSWORD" || len(p.Servers) != 2 || p.MaxSubjectLength != 80 {
		t.Errorf("active profile = %+v", p)
	}
	o, err := c.Profile("o365")
	if err != nil {
		t.Fatal(err)
	}
	if o.Timeout != 10*time.Second {
		t.Errorf("numeric timeout = %v, want 10s", o.Timeout)
	}
	// The preset is applied when the profile is used, and only to empty
	// fields; the file keeps what the admin wrote.
	if len(o.Servers) != 0 {
		t.Errorf("servers filled at load time: %v", o.Servers)
	}
	if _, err := c.Profile("nope"); err == nil || !strings.Contains(err.Error(), "alerts, o365") {
		t.Errorf("unknown profile error = %v", err)
	}
}

func TestConfigRoundTrip(t *testing.T) {
	c, err := ParseConfig([]byte(goodConfig), "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"timeout": "45s"`) {
		t.Errorf("timeout not written as a duration:\n%s", out)
	}
	c2, err := ParseConfig(out, "")
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, out)
	}
	for i := range c.Profiles {
		a, _ := json.Marshal(c.Profiles[i])
		b, _ := json.Marshal(c2.Profiles[i])
		if string(a) != string(b) {
			t.Errorf("profile %d changed:\n%s\n%s", i, a, b)
		}
	}
}

func TestParseConfigErrorsNameFileProfileField(t *testing.T) {
	tests := []struct {
		name, doc      string
		profile, field string
		msg            string
	}{
		{"syntax", "{\n \"profiles\": [\n  {\"name\": \"a\",}\n ]\n}", "", "", "line 3"},
		{"unknown top-level", `{"profile": []}`, "", "profile", "unknown field"},
		{"unknown field", `{"profiles":[{"name":"a","servers":["m.example.com"],"pasword":"x"}]}`, "a", "pasword", "unknown field"},
		{"unknown nested field", `{"profiles":[{"name":"a","servers":["m.example.com"],"auth":{"user":"x"}}]}`, "a", "user", "unknown field"},
		{"wrong type", `{"profiles":[{"name":"a","servers":"m.example.com"}]}`, "a", "servers", "not a valid value"},
		{"bad timeout", `{"profiles":[{"name":"a","servers":["m.example.com"],"timeout":"soon"}]}`, "a", "timeout", "not a duration"},
		{"no name", `{"profiles":[{"servers":["m.example.com"]}]}`, "#1", "name", "needs a name"},
		{"duplicate", `{"profiles":[{"name":"a","servers":["m.example.com"]},{"name":"a","servers":["m.example.com"]}]}`, "a", "name", "two profiles"},
		{"no servers", `{"profiles":[{"name":"a"}]}`, "a", "servers", "at least one server"},
		{"bad server", `{"profiles":[{"name":"a","servers":["m.example.com","m:x-ssl"]}]}`, "a", "servers[1]", ""},
		{"bad tls", `{"profiles":[{"name":"a","servers":["m.example.com"],"tls":"maybe"}]}`, "a", "tls", ""},
		{"bad mechanism", `{"profiles":[{"name":"a","servers":["m.example.com"],"auth":{"mechanism":"DIGEST-MD6"}}]}`, "a", "auth.mechanism", "DIGEST-MD6"},
		{"inline secret", `{"profiles":[{"name":"a","servers":["m.example.com"],"auth":{"password":"hunter2hunter2"}}]}`, "a", "auth.password", "not a secret reference"},
		{"bad provider", `{"profiles":[{"name":"a","provider":"aol"}]}`, "a", "provider", "exchange-online"},
		{"bad priority", `{"profiles":[{"name":"a","servers":["m.example.com"],"priority":"asap"}]}`, "a", "priority", ""},
		{"bad reply-to", `{"profiles":[{"name":"a","servers":["m.example.com"],"reply_to":"not an address"}]}`, "a", "reply_to", ""},
		{"header injection", `{"profiles":[{"name":"a","servers":["m.example.com"],"headers":[{"name":"X-A","value":"v\r\nBcc: evil@example.com"}]}]}`, "a", "headers[0].value", ""},
		{"builder-owned header", `{"profiles":[{"name":"a","servers":["m.example.com"],"headers":[{"name":"Subject","value":"x"}]}]}`, "a", "headers", ""},
		{"proxy", `{"profiles":[{"name":"a","servers":["m.example.com"],"proxy":{"url":"gopher://p:70"}}]}`, "a", "proxy.url", ""},
		{"active unknown", `{"active":"b","profiles":[{"name":"a","servers":["m.example.com"]}]}`, "", "active", `"b"`},
		{"no profiles", `{"profiles":[]}`, "", "profiles", "no profiles"},
		{"trailing data", `{"profiles":[{"name":"a","servers":["m.example.com"]}]} {}`, "", "", "unexpected data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.doc), "conf.json")
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConfigError", err)
			}
			if ce.File != "conf.json" || ce.Profile != tt.profile || ce.Field != tt.field {
				t.Errorf("file/profile/field = %q/%q/%q, want conf.json/%q/%q (%v)", ce.File, ce.Profile, ce.Field, tt.profile, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "mailwarden: conf.json: ") {
				t.Errorf("message %q does not start with the file or lacks %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the inline secret leaked: %v", err)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.json")
	_, err := LoadConfig(path)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.File != path || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func TestPresetsFillOnlyEmptyFields(t *testing.T) {
	for _, pr := range Presets() {
		if pr.Name == "custom" {
			continue
		}
		p, err := Profile{Name: pr.Name, Provider: pr.Name}.WithPreset()
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Servers) != 1 || p.TLS == "" || p.Auth.Mechanism == "" {
			t.Errorf("%s: preset filled %v %q %q", pr.Name, p.Servers, p.TLS, p.Auth.Mechanism)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: the preset's own values do not validate: %v", pr.Name, err)
		}
	}
	eo, _ := LookupPreset("Exchange-Online")
	if eo.Servers[0] != "smtp.office365.com:587-starttls" || eo.TLS != "explicit" || eo.Mechanism != "XOAUTH2" ||
		eo.AppScopes[0] != "https://outlook.office365.com/.default" || !strings.Contains(eo.TokenURL, "{tenant}") {
		t.Errorf("exchange-online preset = %+v", eo)
	}
	p, err := Profile{Provider: "exchange-online", Servers: []string{"relay.example.com:25"}, TLS: "none", Auth: Auth{Mechanism: "NTLM"}}.WithPreset()
	if err != nil {
		t.Fatal(err)
	}
	if p.Servers[0] != "relay.example.com:25" || p.TLS != "none" || p.Auth.Mechanism != "NTLM" {
		t.Errorf("preset overrode admin values: %v %s %s", p.Servers, p.TLS, p.Auth.Mechanism)
	}
	if _, err := (Profile{Provider: "aol"}).WithPreset(); err == nil {
		t.Error("unknown provider accepted")
	}
	// Presets returns a copy.
	ps := Presets()
	ps[0].Name = "changed"
	if Presets()[0].Name == "changed" {
		t.Error("Presets exposes its table")
	}
}

func TestProfileDefaultsApplyToSend(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	p := Profile{
		Name: "defaults", Servers: []string{srv.Addr}, TLS: "none",
		From:         "Alerts <alerts@example.com>",
		Organization: "Example Corp", ReplyTo: "ops@example.com; noc@example.com",
		ReadReceiptTo: "receipts@example.com", ReturnReceiptTo: "rr@example.com",
		Priority: "urgent", Importance: "high", Sensitivity: "company-confidential",
		Headers:          []HeaderField{{Name: "X-Alert-Source", Value: "monitor-7"}},
		MaxSubjectLength: 10,
	}
	s, err := NewSender(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := &envelope.Message{To: []headers.Address{{Addr: "rcpt@example.com"}}, Subject: "0123456789ABCDEF", Text: "hi\r\n"}
	if _, err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if m.MessageID == "" {
		t.Error("Send did not report the Message-ID to the caller")
	}
	if m.From.Addr != "" || m.Organization != "" {
		t.Error("Send modified the caller's message")
	}
	got := string(srv.Messages()[0].Data)
	for _, want := range []string{
		"From: Alerts <alerts@example.com>\r\n", "Organization: Example Corp\r\n",
		"Reply-To: ops@example.com, noc@example.com\r\n", "Disposition-Notification-To: receipts@example.com\r\n",
		"Return-Receipt-To: rr@example.com\r\n", "Priority: urgent\r\n", "Importance: high\r\n",
		"Sensitivity: Company-Confidential\r\n", "X-Alert-Source: monitor-7\r\n", "Subject: 0123456789\r\n",
		"Message-ID: <" + m.MessageID + ">\r\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("sent message lacks %q:\n%s", want, got)
		}
	}
	// A message's own values win over the defaults.
	m2 := &envelope.Message{From: headers.Address{Addr: "me@example.com"}, To: []headers.Address{{Addr: "rcpt@example.com"}},
		Subject: "x", Text: "hi\r\n", Priority: headers.PriorityNonUrgent, Organization: "Other"}
	if _, err := s.Send(context.Background(), m2); err != nil {
		t.Fatal(err)
	}
	got = string(srv.Messages()[1].Data)
	for _, want := range []string{"From: me@example.com\r\n", "Priority: non-urgent\r\n", "Organization: Other\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("message value lost to a default: want %q in\n%s", want, got)
		}
	}
}

func TestImportSMTPXML(t *testing.T) {
	doc := `<?xml version="1.0"?>
<Settings><Other>x</Other>
  <SMTP>
    <Host>mail.example.com</Host>
    <HostPort>587-starttls</HostPort>
    <LoginMethod>AuthLoginMethod</LoginMethod>
    <User>alerts</User>
    <Password>s3cret-Inline</Password>
    <Helo>app01.example.com</Helo>
    <MaxSubjectLength>120</MaxSubjectLength>
    <From>Alerts &lt;alerts@example.com&gt;</From>
    <UseNTLMv1>false</UseNTLMv1>
  </SMTP>
</Settings>`
	imp, err := ImportSMTPXML(strings.NewReader(doc), "legacy")
	if err != nil {
		t.Fatal(err)
	}
	p := imp.Profile
	if p.Name != "legacy" || p.Servers[0] != "mail.example.com:587-starttls" || p.Auth.Mechanism != "LOGIN" || p.Auth.Username != "alerts" ||
		p.HeloName != "app01.example.com" || p.MaxSubjectLength != 120 || p.From != "Alerts <alerts@example.com>" {
		t.Errorf("profile = %+v", p)
	}
	if p.Auth.Password != "" || imp.Password != "s3cret-Inline" {
		t.Errorf("inline password went into the profile: %q / %q", p.Auth.Password, imp.Password)
	}
	if len(imp.Warnings) != 1 || !strings.Contains(imp.Warnings[0], "usentlmv1") {
		t.Errorf("warnings = %v", imp.Warnings)
	}
	out, _ := json.Marshal(p)
	if strings.Contains(string(out), "s3cret") {
		t.Errorf("profile JSON holds the password: %s", out)
	}

	ref, err := ImportSMTPXML(strings.NewReader(`<SMTP><Host>::1</Host><HostPort>25</HostPort><Password>env:SMTP_PW</Password><LoginMethod>NoLoginMethod</LoginMethod></SMTP>`), "v6")
	if err != nil {
		t.Fatal(err)
	}
	if ref.Profile.Servers[0] != "[::1]:25" || ref.Profile.Auth.Password != "env:SMTP_PW" || ref.Password != "" || !strings.EqualFold(ref.Profile.Auth.Mechanism, "none") {
		t.Errorf("v6 profile = %+v, password %q", ref.Profile, ref.Password)
	}

	bad := []struct{ doc, field string }{
		{`<Config/>`, "SMTP"},
		{`<SMTP><Host>m</Host>`, "SMTP"},
		{`<SMTP><HostPort>25</HostPort></SMTP>`, "Host"},
		{`<SMTP><Host>m.example.com</Host><HostPort>smtp</HostPort></SMTP>`, "HostPort"},
		{`<SMTP><Host>m.example.com</Host><HostPort>587-carrier</HostPort></SMTP>`, "Host/HostPort"},
		{`<SMTP><Host>m.example.com</Host><LoginMethod>MagicMethod</LoginMethod></SMTP>`, "LoginMethod"},
		{`<SMTP><Host>m.example.com</Host><MaxSubjectLength>-3</MaxSubjectLength></SMTP>`, "MaxSubjectLength"},
		{`<SMTP><Host>m.example.com</Host><From>not an address</From></SMTP>`, "From"},
		{`<SMTP><Host>m.example.com</Host><Host>n.example.com</Host></SMTP>`, "SMTP"},
	}
	for _, b := range bad {
		_, err := ImportSMTPXML(strings.NewReader(b.doc), "x")
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != b.field {
			t.Errorf("%s: err = %v, want field %s", b.doc, err, b.field)
		}
	}
}

// The example configuration in the documentation must stay valid.
func TestDocumentedExampleConfigLoads(t *testing.T) {
	c, err := LoadConfig("docs/examples/mailwarden.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Profiles) < 4 || c.Active != "onprem" {
		t.Fatalf("profiles %v, active %q", c.Names(), c.Active)
	}
}

func TestValidateOAuthAndPresetEndpoints(t *testing.T) {
	p := Profile{Name: "o", Provider: "exchange-online", Auth: Auth{OAuth: OAuth{Flow: "implicit"}}}
	var ce *ConfigError
	if err := p.Validate(); !errors.As(err, &ce) || ce.Field != "auth.oauth.flow" {
		t.Errorf("unknown flow: %v", err)
	}
	p.Auth.OAuth = OAuth{Flow: "client_credentials", ClientSecret: "plain-secret-value"}
	if err := p.Validate(); !errors.As(err, &ce) || ce.Field != "auth.oauth.client_secret" || strings.Contains(err.Error(), "plain-secret") {
		t.Errorf("inline client secret: %v", err)
	}
	// The preset fills the endpoints and the scopes that fit the flow.
	app, _ := Profile{Provider: "exchange-online", Auth: Auth{OAuth: OAuth{Flow: "client_credentials"}}}.WithPreset()
	if app.Auth.OAuth.TokenURL != "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token" ||
		strings.Join(app.Auth.OAuth.Scopes, " ") != "https://outlook.office365.com/.default" {
		t.Errorf("client credentials: %+v", app.Auth.OAuth)
	}
	user, _ := Profile{Provider: "exchange-online-usgov", Auth: Auth{OAuth: OAuth{Flow: "device_code"}}}.WithPreset()
	if user.Auth.OAuth.DeviceAuthURL != "https://login.microsoftonline.us/{tenant}/oauth2/v2.0/devicecode" ||
		strings.Join(user.Auth.OAuth.Scopes, " ") != "https://outlook.office365.us/SMTP.Send offline_access" {
		t.Errorf("device code, US government: %+v", user.Auth.OAuth)
	}
	own, _ := Profile{Provider: "gmail", Auth: Auth{OAuth: OAuth{Flow: "authorization_code", TokenURL: "https://idp.example.com/token", Scopes: []string{"x"}}}}.WithPreset()
	if own.Auth.OAuth.TokenURL != "https://idp.example.com/token" || own.Auth.OAuth.Scopes[0] != "x" || own.Auth.OAuth.AuthURL != "https://accounts.google.com/o/oauth2/v2/auth" {
		t.Errorf("overrides lost: %+v", own.Auth.OAuth)
	}
	// Without a flow nothing OAuth is filled in.
	none, _ := Profile{Provider: "gmail"}.WithPreset()
	if none.Auth.OAuth.TokenURL != "" {
		t.Errorf("OAuth filled without a flow: %+v", none.Auth.OAuth)
	}
}

func TestGraphProfileInConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"profiles":[{"name":"g","provider":"exchange-online-usgov","transport":"graph",
	  "graph":{"sender":"alerts@contoso.us","max_retry_wait":"90s"},
	  "auth":{"oauth":{"flow":"client_credentials","tenant_id":"t","client_id":"c","client_secret":"env:S"}}}]}`), "")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Profile("g")
	if p.Graph.MaxRetryWait != 90*time.Second {
		t.Errorf("max_retry_wait = %v", p.Graph.MaxRetryWait)
	}
	p, err = p.WithPreset()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Servers) != 0 || p.Graph.Cloud != "usgov" || len(p.Auth.OAuth.Scopes) != 0 || p.Auth.OAuth.TokenURL != "https://login.microsoftonline.us/{tenant}/oauth2/v2.0/token" {
		t.Errorf("graph preset: servers %v cloud %q scopes %v token %q", p.Servers, p.Graph.Cloud, p.Auth.OAuth.Scopes, p.Auth.OAuth.TokenURL)
	}
	out, _ := json.Marshal(p.Graph)
	if !strings.Contains(string(out), `"max_retry_wait":"1m30s"`) {
		t.Errorf("graph JSON: %s", out)
	}
	for doc, field := range map[string]string{
		`{"profiles":[{"name":"g","transport":"graph","graph":{"cloud":"mars"}}]}`:                                 "graph.cloud",
		`{"profiles":[{"name":"g","transport":"graph","graph":{"cloud":"china","endpoint":"https://x.example"}}]}`: "graph.endpoint",
		`{"profiles":[{"name":"g","transport":"graph","graph":{"retries":3}}]}`:                                    "retries",
		`{"profiles":[{"name":"g","transport":"graph","graph":{"max_retry_wait":"later"}}]}`:                       "graph.max_retry_wait",
		`{"profiles":[{"name":"g","transport":"pigeon","servers":["m.example.com"]}]}`:                             "transport",
		// The endpoint a send would refuse is refused when the file is read.
		`{"profiles":[{"name":"g","transport":"graph","graph":{"endpoint":"http://graph.example.com"}}]}`:      "graph.endpoint",
		`{"profiles":[{"name":"g","transport":"graph","graph":{"endpoint":"https://graph.example.com?x=1"}}]}`: "graph.endpoint",
	} {
		_, err := ParseConfig([]byte(doc), "")
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != field || ce.Profile != "g" {
			t.Errorf("%s: %v, want field %s", doc, err, field)
		}
	}
}
