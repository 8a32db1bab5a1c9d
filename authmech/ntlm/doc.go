// Package ntlm implements the client side of the NTLM SASL mechanism as
// Exchange and Cyrus SASL speak it over SMTP AUTH: NTLMv2 only ([MS-NLMP]
// 3.3.2; never LM or NTLMv1), with a message integrity code (MIC, [MS-NLMP]
// 3.1.5.1.2) over all three messages and channel bindings
// (MsvAvChannelBindings, [MS-NLMP] 2.2.2.1) carrying the tls-server-end-point
// binding of RFC 5929 computed from the server's certificate. The MIC stops a
// relay from stripping or changing negotiated flags; the channel binding ties
// the authentication to this TLS connection, so it cannot be relayed to
// another server.
//
// The messages are assembled here rather than with
// github.com/Azure/go-ntlmssp, which sends neither a MIC nor channel
// bindings. MD4 comes from golang.org/x/crypto/md4.
//
// Register adds the mechanism to an authmech.Registry (and so to auto).
// User names may be "DOMAIN\user", "user@domain" or a plain user with
// Credentials.NTLM.Domain. NTLM refuses a connection without TLS unless
// ServerInfo.AllowPlaintext is set.
//
// Out of scope: NTLM signing and sealing after authentication (SMTP uses
// none), NTLMv1 and LM, and anonymous NTLM.
package ntlm
