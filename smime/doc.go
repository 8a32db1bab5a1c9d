// Package smime signs and encrypts MIME entities as S/MIME 4.0 (RFC 8551)
// messages using the Cryptographic Message Syntax (RFC 5652), streaming:
// the cost in memory does not depend on the size of the message.
//
// A Signer writes multipart/signed with a detached signature (RFC 1847,
// protocol="application/pkcs7-signature", micalg matching the hash) or
// opaque application/pkcs7-mime; smime-type=signed-data. It signs with
// SHA-256, SHA-384 or SHA-512 (SHA-1 only behind SignConfig.AllowSHA1) and
// RSA PKCS#1 v1.5, RSASSA-PSS (RFC 4056) or ECDSA (RFC 5753), with the
// signed attributes contentType, messageDigest, signingTime and
// SMIMECapabilities, attaching the signer certificate and chain unless told
// not to. Detached signing hashes the content as it flows to the output and
// refuses 8-bit content and over-long lines (*ContentError), so no relay
// can break the signature by re-encoding the part.
//
// An Encrypter writes application/pkcs7-mime; smime-type=enveloped-data
// with AES-128/256-CBC (EnvelopedData), or smime-type=authEnveloped-data
// with AES-128/256-GCM as AuthEnvelopedData (RFC 5083, RFC 5084) — not GCM
// inside plain EnvelopedData, which OpenSSL 3 cannot read. The
// content-encryption key goes to each RSA recipient with PKCS#1 v1.5 or
// RSAES-OAEP (RFC 8017, RFC 3560), and to each EC recipient (P-256, P-384,
// P-521) by ephemeral-static ECDH with the X9.63 KDF and AES key wrap
// (RFC 5753, RFC 3565); recipients are identified by issuer and serial
// number.
// Content is written as BER with indefinite lengths and 16 KiB OCTET STRING
// chunks, base64-encoded as it goes.
//
// Both implement Wrapper, the contract the envelope package uses:
// Wrap(dst) returns a WriteCloser that takes the inner entity and writes
// the outer one to dst. SignAndEncrypt chains the two in one pass.
//
// Keys come from PKCS#12 files (ParsePKCS12: the AES-256/PBKDF2 kind
// current Windows exports as well as legacy RC2/3DES) or PEM (certificate
// plus PKCS#1, PKCS#8 or SEC 1 key); recipient certificates from PEM or
// DER. Verify checks a configuration before anything is sent, each failure
// a *CertError. Open verifies and decrypts messages, ours and OpenSSL's, for
// tests, demos and diagnostics; it reads the message into memory.
//
// Algorithms are chosen per Signer or Encrypter through their config; there
// are no package-level settings. DES, 3DES and RC2 are never written and
// are refused when read.
//
// Out of scope: certificate revocation checks (CRL, OCSP); password and
// KEK recipients; receiving mail; re-encoding 8-bit bodies
// (the caller chooses quoted-printable or base64 for the inner entity).
package smime
