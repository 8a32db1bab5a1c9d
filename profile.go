package mailwarden

import "time"

// A Profile is everything an administrator configures for one way of
// sending mail: the relay, how to reach and authenticate to it, and how to
// protect and record what is sent. It is plain data, safe to load from a
// file: secrets are SecretRefs, never values. The zero Profile is not
// usable: at least one server is required (see Validate), unless Transport
// is "graph".
//
// A Profile is read by NewSender and must not be modified afterwards.
type Profile struct {
	// Name and Description identify the profile on an admin screen.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`

	// Provider names a preset (see Presets): "exchange-online",
	// "exchange-online-usgov", "exchange-online-china", "gmail",
	// "outlook.com", "yahoo" or "custom" (the default: nothing filled in).
	// A preset fills only what the profile leaves empty, so every value it
	// supplies can be overridden.
	Provider string `json:"provider,omitempty"`

	// Servers lists relay addresses in the forms admins type:
	// "host", "host:port", "host:587-starttls", "host:465-ssl",
	// "host:465-nossl". With more than one, a connection, TLS or temporary
	// (4xx) failure moves on to the next; a 5xx rejection of the message
	// does not.
	Servers []string `json:"servers"`
	// RoundRobin spreads sends over Servers instead of always trying them in
	// order.
	RoundRobin bool `json:"round_robin,omitempty"`
	// TLS is "auto" (the default, also when empty: STARTTLS when the
	// server offers it, and implicit TLS on port 465), "explicit" (STARTTLS
	// required), "implicit" (TLS from the first byte) or "none". An
	// address suffix such as "-ssl" or "-starttls" overrides it. Under
	// auto a session the server offers no STARTTLS stays unencrypted (the
	// probe says so), but PLAIN, LOGIN and the token mechanisms never send
	// their secret on it unless Auth.AllowPlaintext says so.
	TLS string `json:"tls,omitempty"`
	// HeloName is the name sent in EHLO/HELO; empty means this host's fully
	// qualified name, else the address literal of the connection (RFC 5321).
	HeloName string `json:"helo,omitempty"`
	// Timeout bounds each step: the dial (TCP, proxy, TLS handshake and
	// greeting), each command and its reply, and the data phase (the whole
	// body's transfer plus the server's final reply, for DATA and BDAT
	// alike). It is not scaled by the message's size: a profile that sends
	// large messages over a slow link needs a Timeout long enough for the
	// transfer. Zero means the transport's defaults (30 s to dial, 2 min
	// per command, 10 min for the data phase).
	Timeout time.Duration `json:"timeout,omitempty"`
	// IPVersion limits the first hop (the relay, or the proxy when there
	// is one) to IPv4 (4) or IPv6 (6); 0 uses either.
	IPVersion int `json:"ip_version,omitempty"`
	// SourceAddress is the local IP address to connect from; empty lets
	// the system choose.
	SourceAddress string `json:"source_address,omitempty"`
	// TLSMinVersion is the oldest TLS version accepted: "1.2" (the
	// default) or "1.3".
	TLSMinVersion string `json:"tls_min_version,omitempty"`
	// TLSServerName, when set, is the name sent in SNI and verified in
	// the relay's certificate instead of the server's host name (for a
	// relay reached by address or through a name its certificate lacks).
	TLSServerName string `json:"tls_server_name,omitempty"`
	// DSN asks the relay for delivery status notifications (RFC 3461).
	DSN DSNConfig `json:"dsn,omitzero"`

	// CAFile adds PEM certificate authorities to the system roots for
	// verifying the relay, and also an https:// proxy, a tcp+tls:// syslog
	// audit sink and the Graph endpoint.
	CAFile string `json:"ca_file,omitempty"`
	// InsecureSkipVerify turns certificate verification off. It is reported
	// in every probe, result and audit record.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
	// A client certificate for relays that authenticate clients by
	// certificate: a PEM pair, or a PKCS#12 file with its password.
	// ClientKeyFile may instead name a key that is never read: a pkcs11:
	// URI or a certstore: reference (see PKCS11Config); ClientCertFile may
	// then be empty (the certificate is taken from the token or store) or
	// a pkcs11: URI of the certificate.
	ClientCertFile    string    `json:"client_cert_file,omitempty"`
	ClientKeyFile     string    `json:"client_key_file,omitempty"`
	ClientP12File     string    `json:"client_p12_file,omitempty"`
	ClientP12Password SecretRef `json:"client_p12_password,omitempty"`

	// From is the sender address ("Alerts <alerts@example.com>") used by
	// SendTest and by messages that leave From empty.
	From string `json:"from,omitempty"`
	// To and Cc are default recipients, address lists as admins type them:
	// SendTest with no recipients sends to them, and Send uses them for a
	// message that names no recipient at all (no To, Cc or Bcc).
	To string `json:"to,omitempty"`
	Cc string `json:"cc,omitempty"`

	// Message defaults: applied by Send and SendTest to every message that
	// leaves the field empty (SendRaw sends its bytes untouched).
	// Organization is the Organization header. ReplyTo, ReadReceiptTo
	// (Disposition-Notification-To) and ReturnReceiptTo are address lists
	// as admins type them ("a@example.com; Ops <ops@example.com>").
	Organization    string `json:"organization,omitempty"`
	ReplyTo         string `json:"reply_to,omitempty"`
	ReadReceiptTo   string `json:"read_receipt_to,omitempty"`
	ReturnReceiptTo string `json:"return_receipt_to,omitempty"`
	// Priority is normal, urgent or non-urgent (high and low are accepted as
	// aliases of urgent and non-urgent); Importance low, normal or
	// high; Sensitivity personal, private or company-confidential.
	Priority    string `json:"priority,omitempty"`
	Importance  string `json:"importance,omitempty"`
	Sensitivity string `json:"sensitivity,omitempty"`
	// Headers are custom header fields added to every message, in order,
	// before the message's own.
	Headers []HeaderField `json:"headers,omitempty"`
	// MaxSubjectLength cuts longer subjects (in characters) when the message
	// sets no limit of its own; zero means no limit.
	MaxSubjectLength int `json:"max_subject_length,omitempty"`

	// Transport is "smtp" (the default: the relays in Servers) or "graph"
	// (Microsoft Graph sendMail, configured by Graph; Servers are then not
	// used).
	Transport string      `json:"transport,omitempty"`
	Graph     GraphConfig `json:"graph,omitzero"`

	SMIME SMIMEConfig `json:"smime,omitzero"`
	// PKCS11 says how to reach keys named by pkcs11: URIs (in
	// smime.sign_key, smime.sign_cert, client_key_file, client_cert_file
	// and auth.oauth.client_key_file).
	PKCS11 PKCS11Config `json:"pkcs11,omitzero"`
	Auth   Auth         `json:"auth,omitzero"`
	Proxy  Proxy        `json:"proxy,omitzero"`
	Audit  AuditConfig  `json:"audit,omitzero"`
}

// A HeaderField is a custom header field a profile adds to each message.
type HeaderField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Auth configures SMTP authentication.
type Auth struct {
	// Mechanism is a SASL name (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256,
	// NTLM, GSSAPI, XOAUTH2, OAUTHBEARER), an admin-screen alias
	// (AuthLoginMethod, KERBEROS, ...), "auto", or "none". Empty means
	// auto when the profile gives credentials (a Username, an OAuthToken or
	// an OAuth flow) and none otherwise.
	Mechanism string    `json:"mechanism,omitempty"`
	Username  string    `json:"username,omitempty"`
	Password  SecretRef `json:"password,omitempty"`
	// Authzid is the authorization identity, for mechanisms that carry one.
	Authzid string `json:"authzid,omitempty"`
	// OAuthToken is an OAuth2 access token for XOAUTH2 and OAUTHBEARER.
	OAuthToken SecretRef `json:"oauth_token,omitempty"`
	// OAuth obtains and refreshes tokens instead (see OAuth).
	OAuth OAuth `json:"oauth,omitzero"`
	// Kerberos (GSSAPI): krb5.conf path, a keytab or a credential cache
	// (empty: KRB5CCNAME), and the service principal (default smtp/<host>).
	Krb5Conf string `json:"krb5_conf,omitempty"`
	Keytab   string `json:"keytab,omitempty"`
	CCache   string `json:"ccache,omitempty"`
	SPN      string `json:"spn,omitempty"`
	// Provider chooses who runs NTLM and GSSAPI: empty (or "builtin") for
	// the built-in pure-Go mechanisms, "sspi" for Windows SSPI with the
	// explicit credentials Username (DOMAIN\user, user@domain or user)
	// and Password; Mechanism is then NTLM, GSSAPI or auto (whichever of
	// the two the relay offers, GSSAPI first). "sspi" is Windows-only: a
	// configuration error elsewhere. Mechanism system needs no provider:
	// it is SSPI with the process's own account on Windows already.
	Provider string `json:"provider,omitempty"`
	// AllowPlaintext lets mechanisms authenticate on a connection without
	// TLS, which a man in the middle that strips STARTTLS (TLS "auto") can
	// exploit: PLAIN and LOGIN send the password, XOAUTH2 and OAUTHBEARER a
	// bearer token; CRAM-MD5, SCRAM and NTLM exchanges can be cracked
	// offline; GSSAPI leaves the session open to takeover. Off by default,
	// and "auto" then picks no mechanism in clear.
	AllowPlaintext bool `json:"allow_plaintext,omitempty"`
}

// Proxy configures how the relay is reached. The zero Proxy connects
// directly.
type Proxy struct {
	// URL is a proxy URL (socks5://, socks5h://, socks4://, socks4a://,
	// http://, https://), or "auto" to take it from ALL_PROXY, HTTPS_PROXY
	// and NO_PROXY. When empty, the field form below is used. The URL never
	// holds a password: Validate and NewSender refuse "user:PASSWORD@"
	// (field proxy.url); the user goes in User and the password in
	// Password, as a reference.
	URL string `json:"url,omitempty"`
	// The field form admin screens show: Type is none, http (tunnel),
	// socks4, socks4a or socks5.
	Type     string    `json:"type,omitempty"`
	Host     string    `json:"host,omitempty"`
	Port     int       `json:"port,omitempty"`
	User     string    `json:"user,omitempty"`
	Password SecretRef `json:"password,omitempty"`
}

// AuditConfig configures the audit trail.
type AuditConfig struct {
	// File is the path of a tamper-evident JSON-lines audit file.
	File string `json:"file,omitempty"`
	// KeyFile holds the HMAC key that chains the file's records; without it
	// the chain uses plain SHA-256.
	KeyFile string `json:"key_file,omitempty"`
	// AnchorFile keeps the head of the file's chain (seq and hash of the
	// last record) in a second place, replaced after every record (or
	// block of records written together) as the file is synced;
	// "smtpcheck audit verify --anchor" uses it to detect deleted newest
	// files, and the writer refuses to start when the trail
	// ends before it. Needs File.
	AnchorFile string `json:"anchor_file,omitempty"`
	// Sync is when the file's records are fsynced: "every" (the default:
	// after every record, so a send reported done survives a power
	// failure, at the cost of one fsync per record), "interval" (once a
	// second when something was written) or "none" (left to the
	// operating system; a crash of the process still loses nothing).
	// Needs File.
	Sync string `json:"sync,omitempty"`
	// Syslog is a syslog URL: unixgram:///dev/log, udp://host:514,
	// tcp://host:514, tcp+tls://host:6514, relp://host:2514,
	// relp+tls://host:2514. Only relp and relp+tls acknowledge each record
	// (fail-closed); udp is refused unless FailOpen.
	Syslog string `json:"syslog,omitempty"`
	// EventLog is a Windows Event Log source name.
	EventLog string `json:"eventlog,omitempty"`
	// FailOpen lets sends go on when the trail cannot record them, and a
	// syslog server that cannot be reached when the Sender is made is left
	// out (Sender.AuditDegraded says so); by default (fail-closed) such a
	// send is refused.
	FailOpen bool `json:"fail_open,omitempty"`
}

// DSNConfig asks for delivery status notifications (RFC 3461). The zero
// DSNConfig asks for none (the server's default).
type DSNConfig struct {
	// Notify is when to notify, for every recipient: "never", or any of
	// "success", "failure" and "delay".
	Notify []string `json:"notify,omitempty"`
	// Return is what a notification carries: "full" or "hdrs".
	Return string `json:"return,omitempty"`
	// EnvID is the envelope identifier (ENVID), printable ASCII.
	EnvID string `json:"envid,omitempty"`
	// Require fails a send to a server that does not offer DSN instead of
	// sending without the parameters.
	Require bool `json:"require,omitempty"`
}
