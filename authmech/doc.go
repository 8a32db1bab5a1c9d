// Package authmech implements the client side of the SASL mechanisms an SMTP
// relay may ask for, and a Registry that turns a mechanism name from a
// configuration file or admin screen plus a set of Credentials into a Client.
//
// Built in: PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login), CRAM-MD5
// (RFC 2195), SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677; the server
// signature is verified), XOAUTH2 (Google's and Microsoft's bearer-token
// mechanism) and OAUTHBEARER (RFC 7628), and "auto", which picks the
// strongest mechanism the server offers and the credentials can satisfy.
// GSSAPI (RFC 4752, Kerberos) and NTLM (NTLMv2 with MIC and channel
// bindings) live in the sub-packages authmech/gssapi and authmech/ntlm so
// that their dependencies stay out of programs that do not use them; they
// are added to a Registry with gssapi.Register(reg) and ntlm.Register(reg),
// after which they are available by name and to auto.
//
// Names are case-insensitive and include the aliases admin screens use:
// USER_PASSWORD and AuthLoginMethod for LOGIN, SASLPLAIN and LoginPlainMethod
// for PLAIN, CRAMMD5 and CramMD5Method for CRAM-MD5, KERBEROS for GSSAPI, Auto
// for auto, and NoLoginMethod, anonymous and none for "do not authenticate".
//
// Secrets never leave a Client except in the bytes it returns for the wire:
// errors, fmt verbs and slog output of every type here show only a redacted
// marker.
//
// Out of scope: SASL security layers (every mechanism here negotiates none),
// the server side, fetching OAuth tokens (a TokenSource supplies them), and
// SASLprep (RFC 4013) of non-ASCII passwords, which are used as given.
package authmech
