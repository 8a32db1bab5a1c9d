package mailwarden

import (
	"fmt"
	"sort"
	"strings"
)

// A Preset is what an admin screen's provider drop-down fills in: the
// servers, the TLS mode, the recommended authentication and the OAuth 2.0
// endpoints of a mail provider. Profile.WithPreset applies one.
type Preset struct {
	// Name is the value of Profile.Provider, e.g. "exchange-online".
	Name string `json:"name"`
	// Title is a display name, e.g. "Microsoft 365 / Exchange Online".
	Title   string   `json:"title"`
	Servers []string `json:"servers,omitempty"`
	TLS     string   `json:"tls,omitempty"`
	// Mechanism is the recommended SASL mechanism.
	Mechanism string `json:"mechanism,omitempty"`
	// OAuth 2.0 endpoints; "{tenant}" stands for the tenant ID.
	AuthURL       string `json:"auth_url,omitempty"`
	TokenURL      string `json:"token_url,omitempty"`
	DeviceAuthURL string `json:"device_auth_url,omitempty"`
	// DelegatedScopes are requested when a user signs in (authorization
	// code and device code flows); AppScopes by an application acting as
	// itself (client credentials).
	DelegatedScopes []string `json:"delegated_scopes,omitempty"`
	AppScopes       []string `json:"app_scopes,omitempty"`
	// GraphCloud is the Microsoft Graph national cloud for the graph
	// transport: "global", "usgov", "usgov-dod" or "china".
	GraphCloud string `json:"graph_cloud,omitempty"`
	// Notes tell an admin what the provider needs beyond these settings.
	Notes string `json:"notes,omitempty"`
}

const msNotes = "SMTP AUTH must be enabled for the mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false) and basic authentication is being retired: use OAuth2 (XOAUTH2) with an Entra ID app registration, or the graph transport where SMTP AUTH is off entirely."

func microsoft(name, title, smtpHost, login, outlookResource, graphCloud string) Preset {
	base := "https://" + login + "/{tenant}/oauth2/v2.0/"
	return Preset{
		Name: name, Title: title,
		Servers:         []string{smtpHost + ":587-starttls"},
		TLS:             "explicit",
		Mechanism:       "XOAUTH2",
		AuthURL:         base + "authorize",
		TokenURL:        base + "token",
		DeviceAuthURL:   base + "devicecode",
		DelegatedScopes: []string{"https://" + outlookResource + "/SMTP.Send", "offline_access"},
		AppScopes:       []string{"https://" + outlookResource + "/.default"},
		GraphCloud:      graphCloud,
		Notes:           msNotes,
	}
}

// presets is the table behind Presets. The national-cloud host names come
// from Microsoft's national cloud endpoint documentation.
var presets = []Preset{
	func() Preset {
		p := microsoft("exchange-online", "Microsoft 365 / Exchange Online", "smtp.office365.com", "login.microsoftonline.com", "outlook.office.com", "global")
		// Client credentials (app-only) ask for the outlook.office365.com
		// resource, as Microsoft's SMTP OAuth documentation says.
		p.AppScopes = []string{"https://outlook.office365.com/.default"}
		return p
	}(),
	microsoft("exchange-online-usgov", "Microsoft 365 US Government (GCC High / DoD)", "smtp.office365.us", "login.microsoftonline.us", "outlook.office365.us", "usgov"),
	microsoft("exchange-online-china", "Microsoft 365 operated by 21Vianet (China)", "smtp.partner.outlook.cn", "login.chinacloudapi.cn", "partner.outlook.cn", "china"),
	{
		Name: "outlook.com", Title: "Outlook.com / Hotmail (personal Microsoft accounts)",
		Servers: []string{"smtp-mail.outlook.com:587-starttls"}, TLS: "explicit", Mechanism: "XOAUTH2",
		AuthURL:         "https://login.microsoftonline.com/consumers/oauth2/v2.0/authorize",
		TokenURL:        "https://login.microsoftonline.com/consumers/oauth2/v2.0/token",
		DeviceAuthURL:   "https://login.microsoftonline.com/consumers/oauth2/v2.0/devicecode",
		DelegatedScopes: []string{"https://outlook.office.com/SMTP.Send", "offline_access"},
		Notes:           "Personal accounts no longer accept passwords for SMTP: sign in with OAuth2 (smtpcheck oauth login).",
	},
	{
		Name: "gmail", Title: "Gmail / Google Workspace",
		Servers: []string{"smtp.gmail.com:587-starttls"}, TLS: "explicit", Mechanism: "XOAUTH2",
		AuthURL:         "https://accounts.google.com/o/oauth2/v2/auth",
		TokenURL:        "https://oauth2.googleapis.com/token",
		DeviceAuthURL:   "https://oauth2.googleapis.com/device/code",
		DelegatedScopes: []string{"https://mail.google.com/"},
		AppScopes:       []string{"https://mail.google.com/"},
		Notes:           "Use OAuth2 (XOAUTH2): a user sign-in, or a Workspace service account with domain-wide delegation (flow jwt_bearer, subject = the mailbox). An app password with PLAIN also works where 2-Step Verification allows it.",
	},
	{
		Name: "yahoo", Title: "Yahoo Mail",
		Servers: []string{"smtp.mail.yahoo.com:465-ssl"}, TLS: "implicit", Mechanism: "auto",
		Notes: "Yahoo needs an app password (Account security → Generate app password); its OAuth2 access is limited to approved partners.",
	},
	{Name: "custom", Title: "Custom SMTP relay"},
}

// Presets returns the provider presets, sorted by name. The slice is a
// copy; changing it changes nothing else.
func Presets() []Preset {
	out := make([]Preset, len(presets))
	copy(out, presets)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupPreset returns the preset called name (case-insensitive).
func LookupPreset(name string) (Preset, bool) {
	for _, p := range presets {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
	}
	return Preset{}, false
}

// WithPreset returns p with the values of its Provider preset filled into
// the fields p leaves empty. A Profile with no Provider is returned as it
// is; an unknown Provider is a *ConfigError.
func (p Profile) WithPreset() (Profile, error) {
	if p.Provider == "" {
		return p, nil
	}
	pr, ok := LookupPreset(p.Provider)
	if !ok {
		names := make([]string, 0, len(presets))
		for _, x := range Presets() {
			names = append(names, x.Name)
		}
		return p, &ConfigError{Profile: p.Name, Field: "provider", Err: fmt.Errorf("unknown provider %q (known: %s)", p.Provider, strings.Join(names, ", "))}
	}
	if len(p.Servers) == 0 && len(pr.Servers) > 0 && !strings.EqualFold(p.Transport, "graph") {
		p.Servers = append([]string(nil), pr.Servers...)
	}
	if p.TLS == "" {
		p.TLS = pr.TLS
	}
	if p.Auth.Mechanism == "" {
		p.Auth.Mechanism = pr.Mechanism
	}
	if strings.EqualFold(p.Transport, "graph") && p.Graph.Cloud == "" && p.Graph.Endpoint == "" {
		p.Graph.Cloud = pr.GraphCloud
	}
	applyPresetOAuth(&p, pr)
	return p, nil
}

// applyPresetOAuth fills the OAuth endpoints and scopes of a profile that
// acquires tokens (auth.oauth.flow set) from its preset: the delegated
// scopes for the interactive flows, the application scopes for client
// credentials and service accounts.
func applyPresetOAuth(p *Profile, pr Preset) {
	o := &p.Auth.OAuth
	if o.Flow == "" {
		return
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&o.AuthURL, pr.AuthURL)
	fill(&o.TokenURL, pr.TokenURL)
	fill(&o.DeviceAuthURL, pr.DeviceAuthURL)
	// The graph transport asks for its cloud's Graph resource instead (see
	// graphToken).
	if len(o.Scopes) == 0 && !strings.EqualFold(p.Transport, "graph") {
		switch o.Flow {
		case "client_credentials", "jwt_bearer":
			o.Scopes = append([]string(nil), pr.AppScopes...)
		default:
			o.Scopes = append([]string(nil), pr.DelegatedScopes...)
		}
	}
}
