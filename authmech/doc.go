// Package authmech is Mailwarden's registry of SASL mechanisms (RFC 4422)
// for SMTP AUTH (RFC 4954): PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195),
// SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677), XOAUTH2 and
// OAUTHBEARER (RFC 7628), plus "auto", which picks the strongest mechanism
// that both the server offers and the credentials can satisfy. Kerberos
// (GSSAPI, RFC 4752) lives in the gssapi sub-package, which keeps its
// dependencies there, and registers itself into a Registry on request; so
// does the system sub-package, the account the process runs as ("System",
// "Windows integrated": SSPI on Windows, the Kerberos credential cache or
// client keytab elsewhere).
//
// A mechanism is a named factory that makes a Client from Credentials. A
// Registry is a value (NewRegistry), never a package-level map: an embedding
// product can register its own mechanisms without affecting anyone else.
//
// Names are matched case-insensitively, and the names admin screens and
// configuration files use are aliases: USER_PASSWORD and AuthLoginMethod
// mean LOGIN; SASLPLAIN and LoginPlainMethod mean PLAIN; CRAMMD5 and
// CramMD5Method mean CRAM-MD5; KERBEROS means GSSAPI; NoLoginMethod,
// anonymous and none mean no authentication at all; Auto means auto.
//
// Secrets never leave a mechanism except on the wire: they are not in any
// error, in the %v form of any value of this package, or in a log line
// (Secret redacts itself).
//
// No mechanism authenticates on a connection without TLS unless
// ServerInfo.AllowPlaintext says the transport's policy allows it: Start
// returns a *PlaintextError (matching ErrPlaintextRefused) that says why,
// and auto picks nothing. A man in the middle that strips STARTTLS must get
// nothing worth having:
//
//   - PLAIN and LOGIN send the password itself.
//   - XOAUTH2 and OAUTHBEARER send a bearer token, which is as good as a
//     password to whoever sees it until it expires.
//   - CRAM-MD5, SCRAM and NTLM never send the password, but a recorded
//     exchange can be cracked offline: one HMAC-MD5 per guess for CRAM-MD5;
//     for SCRAM the attacker even chooses the iteration count (this client
//     does no channel binding, so only TLS stops that; it also refuses a
//     count below 4096, RFC 7677, with ErrSCRAMIterations); the NTLMv2
//     response for NTLM. DIGEST-MD5 (not implemented) would be in this
//     group.
//   - GSSAPI (Kerberos) gives an eavesdropper nothing to crack: the ticket
//     is sealed with the service's key, the authenticator with a session
//     key, and the server's replay cache stops a replay. But this client
//     negotiates no SASL security layer, so the session after AUTH is
//     unprotected: a man in the middle relays the exchange to the real
//     server and then sends mail as the user. It is refused too; with a
//     security layer it could be allowed, which is out of scope.
//
// Out of scope: SASL security layers (integrity or confidentiality after
// authentication; every mechanism here negotiates none, TLS provides them),
// server-side mechanisms, and SASLprep of passwords (passwords are used as
// given, in UTF-8).
package authmech
