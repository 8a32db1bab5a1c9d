// Package authmech is Mailwarden's registry of SASL mechanisms (RFC 4422)
// for SMTP AUTH (RFC 4954): PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195),
// SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677), XOAUTH2 and
// OAUTHBEARER (RFC 7628), plus "auto", which picks the strongest mechanism
// that both the server offers and the credentials can satisfy. Kerberos
// (GSSAPI, RFC 4752) lives in the gssapi sub-package, which keeps its
// dependencies there, and registers itself into a Registry on request.
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
// (Secret redacts itself). Mechanisms that send a reusable secret in a form
// an eavesdropper can replay or crack (PLAIN, LOGIN, and XOAUTH2/OAUTHBEARER
// bearer tokens) refuse a connection without TLS unless
// ServerInfo.AllowPlaintext says the transport's policy allows it.
//
// Out of scope: SASL security layers (integrity or confidentiality after
// authentication; every mechanism here negotiates none, TLS provides them),
// server-side mechanisms, and SASLprep of passwords (passwords are used as
// given, in UTF-8).
package authmech
